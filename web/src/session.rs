//! Logins: the server's accounts (§9.4 password hashes) checked once, then a random
//! session token in an HttpOnly cookie.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use ferrocom_runtime::iocom::hash_password;
use ferrocom_runtime::server::store::{Account, wildcard};
use ring::rand::{SecureRandom, SystemRandom};

/// The session cookie's name.
pub const COOKIE_NAME: &str = "ferrocom_session";

/// At most this many live sessions; the oldest goes when a new one would exceed it, so a
/// flood of logins cannot grow memory without bound.
const MAX_SESSIONS: usize = 1024;

#[derive(Debug, Clone)]
struct Session {
    user: String,
    created: Instant,
}

/// The live sessions, by token.
pub struct Sessions {
    ttl: Duration,
    rng: SystemRandom,
    live: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    pub fn new(ttl: Duration) -> Self {
        Sessions {
            ttl,
            rng: SystemRandom::new(),
            live: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A new session for `user`; its token, or `None` if the system RNG failed.
    pub fn open(&self, user: &str) -> Option<String> {
        let mut raw = [0u8; 32];
        self.rng.fill(&mut raw).ok()?;
        let token: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let now = Instant::now();
        let mut live = self.lock();
        live.retain(|_, s| now.duration_since(s.created) < self.ttl);
        while live.len() >= MAX_SESSIONS {
            let oldest = live
                .iter()
                .min_by_key(|(_, s)| s.created)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => live.remove(&k),
                None => break,
            };
        }
        live.insert(
            token.clone(),
            Session {
                user: user.to_string(),
                created: now,
            },
        );
        Some(token)
    }

    /// The user of the request's session cookie, if it names a live session.
    pub fn user(&self, headers: &HeaderMap) -> Option<String> {
        let token = cookie_token(headers)?;
        let mut live = self.lock();
        let s = live.get(&token)?;
        if s.created.elapsed() >= self.ttl {
            live.remove(&token);
            return None;
        }
        Some(s.user.clone())
    }

    /// Ends the request's session; `true` if there was one.
    pub fn close(&self, headers: &HeaderMap) -> bool {
        cookie_token(headers).is_some_and(|t| self.lock().remove(&t).is_some())
    }
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE_NAME)
        .map(|(_, v)| v.to_string())
}

/// Does some account let `user` in with `password`? Accounts that take any password
/// (`*`) are for devices on a trusted network and never open the page's write access.
pub fn check(accounts: &[Account], user: &str, password: &str) -> bool {
    let hash = hash_password(password);
    accounts.iter().any(|a| {
        a.password_hash != "*"
            && wildcard(&a.user, user)
            && same(a.password_hash.as_bytes(), hash.as_bytes())
    })
}

/// Compares without an early exit, so the time taken says nothing about where a guessed
/// hash first differs.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_checked_by_pattern_and_hash() {
        let accounts = vec![
            Account::new("gina*", "secret", &["*"]),
            Account::new("open", "*", &["*"]),
        ];
        assert!(check(&accounts, "gina1", "secret"));
        assert!(!check(&accounts, "gina1", "Secret"));
        assert!(!check(&accounts, "frank", "secret"));
        assert!(
            !check(&accounts, "open", "anything"),
            "`*` accounts stay out"
        );
    }

    #[test]
    fn sessions_by_cookie() {
        let s = Sessions::new(Duration::from_secs(60));
        let t = s.open("gina").unwrap_or_default();
        assert_eq!(t.len(), 64);
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            format!("a=b; {COOKIE_NAME}={t}")
                .parse()
                .unwrap_or_else(|_| unreachable!()),
        );
        assert_eq!(s.user(&h).as_deref(), Some("gina"));
        assert!(s.close(&h));
        assert_eq!(s.user(&h), None);
        assert_ne!(s.open("x"), s.open("x"), "tokens are random");
    }
}
