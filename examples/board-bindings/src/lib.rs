//! Example: typed board bindings generated from an IOCOM signal map by a **build script**.
//!
//! * `config/signals/signals.json` — the demo board's signal map, written exactly as IOCOM
//!   users write theirs (memory blocks `exp` and `imp`, every signal type);
//! * `build.rs` — `ferrocom_codegen::Bindings::from_signal_map(...).rust_file(...)
//!   .c_header(...).generate()`: writes the Rust module and a C header
//!   with IOCOM's names to `$OUT_DIR`, and re-runs when the map changes (a map error
//!   fails the build with its file, line and column);
//! * this file — `pub mod demo { include!(concat!(env!("OUT_DIR"), "/demo_signals.rs")); }`.
//!
//! ```
//! use ferrocom_example_board_bindings::demo;
//! use ferrocom_wire::signals::{Dec01, State};
//!
//! // A memory block is a byte buffer; the block type reads and writes its signals.
//! let mut exp = demo::exp::Exp::new();
//! exp.set_temperature(Dec01::from_f64(21.5), State::CONNECTED);
//! exp.set_adc(&[512, 1023], State::CONNECTED);
//! exp.set_status("running", State::CONNECTED);
//! assert_eq!(exp.temperature().value.to_f64(), 21.5);
//! assert_eq!(exp.adc().value[..3], [512, 1023, 0]);
//! assert_eq!(exp.status()?.value, "running");
//! // The same bytes an IOCOM C device would have (here: the state byte of `temperature`,
//! // CONNECTED and, the value being non-zero, bit 0).
//! assert_eq!(exp.as_bytes()[demo::exp::TEMPERATURE.addr as usize], 0x03);
//!
//! // The signal constants work on any buffer, e.g. one received from the network.
//! let received = [0u8; demo::imp::SIZE];
//! assert!(!demo::imp::SETPOINT.get(&received)?.is_connected());
//! # Ok::<(), ferrocom_wire::signals::SignalError>(())
//! ```

#![warn(missing_docs)]

/// The demo board (`config/signals/signals.json`).
pub mod demo {
    include!(concat!(env!("OUT_DIR"), "/demo_signals.rs"));
}

/// The C header generated for the demo board (IOCOM's names; see
/// `codegen/BINDINGS.md`).
pub const DEMO_C_HEADER: &str = include_str!(concat!(env!("OUT_DIR"), "/demo_signals.h"));

/// gina, IOCOM's example device, from its merged signal map in the captured vectors.
#[cfg(ferrocom_vectors)]
pub mod gina {
    include!(concat!(env!("OUT_DIR"), "/gina_signals.rs"));
}
