//! The opening of a service ↔ switchbox connection (reference §17 steps 1–2), sans-I/O:
//! the service's handshake (role 0x12 + network name) and the switchbox authentication
//! frame both sides send before the multiplexed messages start. Encoded and decoded
//! with the generated `ferrocom_wire::iocom` codec only.
//!
//! The C implementation sends user `srv` and an empty password and the C switchbox only
//! checks that the frame parses. ferrocom uses the same frame to carry the service's
//! account name and password (the password field is a plain sstr of up to 45 bytes),
//! so a ferrocom switchbox can tell the owner of an IO network from an intruder.

use alloc::borrow::Cow;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use ferrocom_wire::codec::{DecodeError, Decoded, EncodeError};
use ferrocom_wire::iocom::{
    AuthFlags, Authentication, ClientHandshake, ClientType, FrameFlags, SocketBody, SocketFrame,
    SocketItem, SystemBody, SystemMessage,
};

/// Handshake role of an IO network service registering with a switchbox (§8.1).
pub const ROLE_SERVICE: u8 = 0x12;
/// Handshake role of an ordinary client (device, UI, controller).
pub const ROLE_CLIENT: u8 = 0x13;
/// Largest switchbox authentication frame a receiver accepts (§17 step 2, §19).
pub const MAX_AUTH_FRAME: usize = 128;
/// Network name carried in the switchbox authentication frame.
pub const AUTH_NETWORK: &str = "sb";
/// User name the C service sends (no account).
pub const C_SERVICE_USER: &str = "srv";

/// Appends the service handshake: `52 N <network> 00`.
pub fn encode_service_handshake(network: &str, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    ClientHandshake {
        client_type: ClientType {
            cert_request: false,
            has_network: true,
            role: ROLE_SERVICE,
        },
        network: Some(network),
    }
    .encode(out)
    .map(|_| ())
}

/// Appends a switchbox authentication frame (§17 step 2) carrying `user` and `password`.
pub fn encode_auth(
    user: &str,
    password: &str,
    unique_id: &[u8; 12],
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let mut content = Vec::new();
    SystemMessage {
        body: SystemBody::Authentication(Authentication {
            flags: AuthFlags::UNIQUE_ID,
            user,
            device_nr: 0,
            unique_id: Some(&unique_id[..]),
            network: AUTH_NETWORK,
            password,
        }),
    }
    .encode(&mut content)?;
    SocketItem {
        body: SocketBody::Numbered(SocketFrame {
            nr: 0,
            flags: FrameFlags::SYSTEM,
            extra: None,
            mblk: 0,
            addr: 0,
            data: Cow::Owned(content),
        }),
    }
    .encode(out)
    .map(|_| ())
}

/// The parts of a received switchbox authentication frame that matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerAuth {
    /// User (the service's account; `srv` from a C service).
    pub user: String,
    /// Clear-text password (empty from a C service).
    pub password: String,
}

/// A switchbox authentication frame could not be accepted.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum HelloError {
    /// The codec refused the bytes.
    Decode(DecodeError),
    /// The frame is longer than [`MAX_AUTH_FRAME`].
    TooLong {
        /// Bytes seen (or announced) so far.
        len: usize,
    },
    /// A well-formed IOCOM item, but not a system frame 0 with an authentication message.
    NotAuthentication,
}

impl fmt::Display for HelloError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HelloError::Decode(e) => write!(f, "malformed switchbox authentication frame: {e}"),
            HelloError::TooLong { len } => write!(
                f,
                "switchbox authentication frame of {len} bytes, more than {MAX_AUTH_FRAME}"
            ),
            HelloError::NotAuthentication => {
                f.write_str("expected a switchbox authentication frame (system frame 0 of type 02)")
            }
        }
    }
}

/// Decodes the switchbox authentication frame at the start of `buf`: the frame and the
/// bytes it took, or how many more bytes are needed.
pub fn decode_auth(buf: &[u8]) -> Result<Decoded<PeerAuth>, HelloError> {
    match SocketItem::decode(buf).map_err(HelloError::Decode)? {
        Decoded::Incomplete(more) => {
            let len = buf.len().saturating_add(more);
            if len > MAX_AUTH_FRAME {
                return Err(HelloError::TooLong { len });
            }
            Ok(Decoded::Incomplete(more))
        }
        Decoded::Complete(item, used) => {
            if used > MAX_AUTH_FRAME {
                return Err(HelloError::TooLong { len: used });
            }
            let SocketBody::Numbered(frame) = item.body else {
                return Err(HelloError::NotAuthentication);
            };
            if frame.nr != 0 || !frame.flags.contains(FrameFlags::SYSTEM) {
                return Err(HelloError::NotAuthentication);
            }
            let msg = SystemMessage::decode_exact(&frame.data).map_err(HelloError::Decode)?;
            let SystemBody::Authentication(a) = msg.body else {
                return Err(HelloError::NotAuthentication);
            };
            Ok(Decoded::Complete(
                PeerAuth {
                    user: a.user.to_string(),
                    password: a.password.to_string(),
                },
                used,
            ))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn service_handshake_matches_the_reference_example() {
        let mut out = Vec::new();
        encode_service_handshake("cafenet", &mut out).unwrap();
        assert_eq!(out, b"\x52\x08cafenet\x00");
    }

    #[test]
    fn auth_frame_round_trips_and_c_shape_parses() {
        let mut out = Vec::new();
        encode_auth("plant", "pw", &[5; 12], &mut out).unwrap();
        // Socket header: frame 0, FLAGS 0x20, DATA_SZ, MBLK_ID 0, ADDR 0.
        assert_eq!(out.first(), Some(&0));
        assert_eq!(out.get(1), Some(&0x20));
        let Decoded::Complete(a, n) = decode_auth(&out).unwrap() else {
            panic!("incomplete")
        };
        assert_eq!(n, out.len());
        assert_eq!(a.user, "plant");
        assert_eq!(a.password, "pw");
        // Needs more while short.
        assert!(matches!(
            decode_auth(&out[..5]).unwrap(),
            Decoded::Incomplete(_)
        ));
        let mut c = Vec::new();
        encode_auth(C_SERVICE_USER, "", &[0; 12], &mut c).unwrap();
        assert!(matches!(decode_auth(&c).unwrap(), Decoded::Complete(..)));
    }

    #[test]
    fn long_or_wrong_frames_are_refused() {
        let mut out = Vec::new();
        let long = "x".repeat(45);
        encode_auth(&"u".repeat(25), &long, &[1; 12], &mut out).unwrap();
        // 25-byte user + 45-byte password still fits the 128-byte limit.
        assert!(out.len() <= MAX_AUTH_FRAME);
        // An ACK is an IOCOM item but no authentication frame.
        assert_eq!(
            decode_auth(&[0xFF, 0, 0, 0]),
            Err(HelloError::NotAuthentication)
        );
        // A frame header announcing 1000 bytes of content.
        let e = decode_auth(&[0x00, 0x20, 0xE8, 0x03, 0x00, 0x00]).unwrap_err();
        assert!(matches!(e, HelloError::TooLong { .. }), "{e}");
    }
}
