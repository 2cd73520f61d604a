//! The switchbox's service accounts (SQLite, rusqlite bundled): which account may publish
//! which IO network names. Passwords are stored with the IOCOM password hash (§9.4, the
//! same [`hash_password`] the server's accounts use). The schema carries its version in
//! `PRAGMA user_version`.

use std::fmt;
use std::path::Path;
use std::prelude::rust_2024::*;

use rusqlite::{Connection, params};

use crate::iocom::hash_password;
use crate::server::store::{StoreError, prepare, wildcard};

/// An account that may publish IO networks on the switchbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    /// Account name (exact; the user field of the service's authentication frame).
    pub user: String,
    /// [`hash_password`] of the password, or `*` for any password (e.g. a C service,
    /// which sends an empty one).
    pub password_hash: String,
    /// IO network names it may publish; `*` and `?` are wildcards.
    pub networks: Vec<String>,
}

impl ServiceAccount {
    /// An account with a plain-text password (stored hashed; `*` = any password).
    pub fn new(user: &str, password: &str, networks: &[&str]) -> Self {
        ServiceAccount {
            user: user.into(),
            password_hash: if password == "*" {
                "*".into()
            } else {
                hash_password(password)
            },
            networks: networks.iter().map(|n| (*n).to_string()).collect(),
        }
    }

    /// Does this account let `user` with `password` publish `network`?
    pub fn allows(&self, user: &str, password: &str, network: &str) -> bool {
        self.user == user
            && self.networks.iter().any(|n| wildcard(n, network))
            && (self.password_hash == "*" || self.password_hash == hash_password(password))
    }
}

/// The database.
pub struct ServiceStore {
    db: Connection,
}

impl fmt::Debug for ServiceStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceStore").finish_non_exhaustive()
    }
}

impl ServiceStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<ServiceStore, StoreError> {
        Self::init(Connection::open(path)?)
    }

    /// A database in memory (tests).
    pub fn in_memory() -> Result<ServiceStore, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(db: Connection) -> Result<ServiceStore, StoreError> {
        let db = prepare(
            db,
            "CREATE TABLE IF NOT EXISTS service_accounts (
                 user TEXT PRIMARY KEY,
                 password_hash TEXT NOT NULL,
                 networks TEXT NOT NULL
             );",
        )?;
        Ok(ServiceStore { db })
    }

    /// Adds or replaces an account.
    pub fn put(&self, a: &ServiceAccount) -> Result<(), StoreError> {
        self.db.execute(
            "INSERT OR REPLACE INTO service_accounts (user, password_hash, networks)
             VALUES (?1, ?2, ?3)",
            params![a.user, a.password_hash, a.networks.join(",")],
        )?;
        Ok(())
    }

    /// Removes an account; `true` if it existed.
    pub fn remove(&self, user: &str) -> Result<bool, StoreError> {
        Ok(self.db.execute(
            "DELETE FROM service_accounts WHERE user = ?1",
            params![user],
        )? > 0)
    }

    /// All accounts, by user.
    pub fn list(&self) -> Result<Vec<ServiceAccount>, StoreError> {
        let mut st = self
            .db
            .prepare("SELECT user, password_hash, networks FROM service_accounts ORDER BY user")?;
        let rows = st.query_map([], |r| {
            let networks: String = r.get(2)?;
            Ok(ServiceAccount {
                user: r.get(0)?,
                password_hash: r.get(1)?,
                networks: networks
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The account that lets `user` with `password` publish `network`, if any.
    pub fn authenticate(
        &self,
        user: &str,
        password: &str,
        network: &str,
    ) -> Result<Option<ServiceAccount>, StoreError> {
        Ok(self
            .list()?
            .into_iter()
            .find(|a| a.allows(user, password, network)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn accounts_allow_their_networks_with_their_password() {
        let s = ServiceStore::in_memory().unwrap();
        s.put(&ServiceAccount::new("plant", "pw", &["cafe*"]))
            .unwrap();
        s.put(&ServiceAccount::new("srv", "*", &["legacy"]))
            .unwrap();
        assert!(s.authenticate("plant", "pw", "cafenet").unwrap().is_some());
        assert!(s.authenticate("plant", "no", "cafenet").unwrap().is_none());
        assert!(s.authenticate("plant", "pw", "other").unwrap().is_none());
        assert!(s.authenticate("srv", "", "legacy").unwrap().is_some());
        assert!(s.authenticate("srv", "", "cafenet").unwrap().is_none());
        assert!(s.remove("srv").unwrap());
        assert!(!s.remove("srv").unwrap());
        assert_eq!(s.list().unwrap().len(), 1);
    }
}
