// `#[device_stubs]` errors: blocks naming two different devices, a module without
// blocks, and an unknown option.
use ferrocom_macros::{Signals, device_stubs};

#[device_stubs]
mod two_devices {
    use super::Signals;
    #[derive(Signals)]
    #[signals(block = "exp", device = "gina", flags = "up")]
    pub struct Exp {
        pub a: f32,
    }
    #[derive(Signals)]
    #[signals(block = "imp", device = "frank", flags = "down")]
    pub struct Imp {
        pub b: u16,
    }
}

#[device_stubs(device = "empty")]
mod no_blocks {}

#[device_stubs(devise = "typo")]
mod typo {}

fn main() {}
