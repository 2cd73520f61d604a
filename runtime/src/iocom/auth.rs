//! Authentication (§9): the password hash of §9.4 and the authorization hook.

#[cfg(feature = "alloc")]
use core::fmt;

use ferrocom_wire::iocom::AuthFlags;

/// What the authorization hook is asked (§9.4). Only the listening end of a TLS
/// connection asks (plain TCP and serial connections are not authorized, like the C end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest<'a> {
    /// User name with the decimal device number appended when non-zero (`gina1`),
    /// silently truncated to 25 characters (quirk 19).
    pub user: &'a str,
    /// Network name from the frame.
    pub network: &'a str,
    /// [`hash_password`] of the received password, or `None` if it was empty.
    pub password_hash: Option<&'a str>,
    /// The peer's unique id, if sent.
    pub unique_id: Option<&'a [u8]>,
    /// Authentication flags.
    pub flags: AuthFlags,
}

/// Result of the authorization hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthDecision {
    /// Accept the peer.
    Allow,
    /// Close the connection without a reject message (quirk 15).
    Deny,
}

/// The caller's account check (accounts, whitelist, ... §9.4 step 3), set with
/// [`Root::set_authorizer`](super::Root::set_authorizer).
pub trait Authorizer {
    /// Decide on one peer.
    fn authorize(&mut self, request: &AuthRequest<'_>) -> AuthDecision;
}

impl<F> Authorizer for F
where
    F: FnMut(&AuthRequest<'_>) -> AuthDecision,
{
    fn authorize(&mut self, request: &AuthRequest<'_>) -> AuthDecision {
        self(request)
    }
}

/// Debug shim for a boxed hook.
#[cfg(feature = "alloc")]
pub(crate) struct HookDebug;
#[cfg(feature = "alloc")]
impl fmt::Debug for HookDebug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<authorizer>")
    }
}

/// The C server's password hash (§9.4): SHA-256 over the password bytes plus a NUL;
/// the digest and one zero byte in 11 groups of 3 bytes, 4 characters per group (the
/// last group's fourth dropped), prefixed with `!`: 44 characters.
///
/// ```
/// assert_eq!(
///     ferrocom_runtime::iocom::hash_password("pass"),
///     "!WdjEE1b87DwXX81xJEtDpbQ_Y_ecFo6lPzSonKFoSz8"
/// );
/// ```
#[cfg(feature = "alloc")]
pub fn hash_password(password: &str) -> alloc::string::String {
    use sha2::{Digest, Sha256};
    const ALPHABET: &[u8; 64] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-";
    let mut h = Sha256::new();
    h.update(password.as_bytes());
    h.update([0u8]);
    let digest = h.finalize();
    let mut bytes = [0u8; 33];
    for (d, s) in bytes.iter_mut().zip(digest.iter()) {
        *d = *s;
    }
    let ch = |v: u8| char::from(ALPHABET[usize::from(v & 0x3F)]);
    let mut out = alloc::string::String::with_capacity(44);
    out.push('!');
    for (g, chunk) in bytes.chunks(3).enumerate() {
        let (b0, b1, b2) = match chunk {
            [a, b, c] => (*a, *b, *c),
            _ => continue,
        };
        out.push(ch(b0));
        out.push(ch((b0 >> 6) | (b1 << 2)));
        out.push(ch((b1 >> 4) | (b2 << 4)));
        if g != 10 {
            out.push(ch(b2 >> 2));
        }
    }
    out
}

/// `user` + decimal `device_nr` (if non-zero), truncated to 25 bytes (§9.4 step 2).
#[cfg(feature = "alloc")]
pub(crate) fn user_with_number(user: &str, device_nr: u32) -> alloc::string::String {
    let mut s = alloc::string::String::from(user);
    if device_nr != 0 {
        use core::fmt::Write;
        let _ = write!(s, "{device_nr}");
    }
    while s.len() > 25 {
        s.pop();
    }
    s
}

#[cfg(all(test, feature = "alloc"))]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hash_vector() {
        assert_eq!(
            hash_password("pass"),
            "!WdjEE1b87DwXX81xJEtDpbQ_Y_ecFo6lPzSonKFoSz8"
        );
        assert_eq!(hash_password("").len(), 44);
    }

    #[test]
    fn user_number_truncated() {
        assert_eq!(user_with_number("gina", 1), "gina1");
        assert_eq!(user_with_number("gina", 0), "gina");
        assert_eq!(user_with_number("abcdefghijklmnopqrstuvw", 9001).len(), 25);
    }
}
