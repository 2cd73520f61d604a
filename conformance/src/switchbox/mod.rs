//! Switchbox cases (reference `shared/reference/iocom-wire.md` §17): the suite plays an
//! IO network service and its clients against a switchbox, over TLS only.
//!
//! * [`link`]: the suite's two ends — a [`link::Service`] (TLS, the mark byte, the
//!   service handshake 0x12 and the switchbox authentication frame, then the
//!   multiplexed messages, parsed by the generated `ferrocom_wire::switchbox` codec and
//!   written with the runtime's `switchbox::mux` encoders) and [`link::Client`]s (TLS,
//!   the ordinary IOCOM handshake 0x13, then raw bytes).
//! * [`cases`]: the numbered cases, `SWB-17-<n>#w<k>`.
//!
//! One IO network can be published by one service at a time, so the cases of this role
//! run one after the other, each with its own service connection on the network of
//! [`crate::case::CaseSettings::network`], published with the account of
//! [`crate::case::CaseSettings::account`] (without one, the C service's `srv` and an
//! empty password).

pub mod cases;
pub mod link;
