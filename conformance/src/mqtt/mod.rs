//! MQTT 3.1.1 cases (OASIS Standard, 29 October 2014): the suite as clients against a
//! broker, and as the broker of a client under test. Packets go through the generated
//! codec `ferrocom_wire::mqtt311`.

pub mod broker_cases;
pub mod client;
pub mod client_cases;
