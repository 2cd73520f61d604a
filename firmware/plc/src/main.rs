//! The plc simulator: the plc board code on simulated pins, run by the device core's
//! blocking runner or by tokio (`--runner`), over TCP or a serial line.

use ferrocom_board_plc::{Plc, sim::SimPins, spec};
use ferrocom_firmware_host::{Options, run_board};

/// A fixed unique id, so the server gives the simulator the same number every time (a
/// real board uses its chip id).
const UNIQUE_ID: [u8; 12] = *b"ferrocom-plc";

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let opts = match Options::parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("plc: {e}");
            std::process::exit(2);
        }
    };
    tracing::info!(
        "plc on {:?}, runner {:?}, network {}",
        opts.endpoint,
        opts.runner,
        opts.network
    );
    if let Err(e) = run_board(&spec("", UNIQUE_ID), Plc::new(SimPins::default()), &opts) {
        eprintln!("plc: {e}");
        std::process::exit(1);
    }
}
