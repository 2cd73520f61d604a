//! The agent's answer to the server's `login` challenge.

use alloc::string::String;

use md5::{Digest, Md5};

/// Upper-case hex MD5 of `challenge` followed by `password`: what an agent returns as
/// `response` from the `login` function (reference §6 example 8), and what a server
/// compares it with.
pub fn login_response(challenge: &str, password: &str) -> String {
    let mut h = Md5::new();
    h.update(challenge.as_bytes());
    h.update(password.as_bytes());
    let mut out = String::with_capacity(32);
    for b in h.finalize() {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_java_agent() {
        // Reference §6 example 8: challenge "abc", password "admin".
        assert_eq!(
            login_response("abc", "admin"),
            "7D61F71F34B0305AABC5D1CDD9D2A777"
        );
    }
}
