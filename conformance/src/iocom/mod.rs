//! IOCOM cases (reference `shared/reference/iocom-wire.md`): the suite as a device
//! against servers, and as a server against devices.

pub mod device_cases;
pub mod raw;
pub mod server_cases;
pub mod session;
pub mod wire;
