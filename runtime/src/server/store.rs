//! The server's embedded SQLite database: accounts (reference §9.4) and automatic device
//! numbers by unique id (§9.5). The schema carries its version in `PRAGMA user_version`.

use std::fmt;
use std::path::Path;
use std::prelude::rust_2024::*;

use rusqlite::{Connection, OptionalExtension, params};

use crate::iocom::hash_password;

/// Current schema version.
pub const SCHEMA_VERSION: i64 = 1;

/// A database error.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite failed.
    Sqlite(rusqlite::Error),
    /// The database was written by a newer ferrocom.
    NewerSchema {
        /// Version found.
        found: i64,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Sqlite(e) => write!(f, "database: {e}"),
            StoreError::NewerSchema { found } => write!(
                f,
                "database schema version {found} is newer than this program's {SCHEMA_VERSION}"
            ),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e)
    }
}

/// One account (§9.4): who may connect over TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// User pattern: the device name with its number (`gina1`), or without one for an
    /// automatically numbered device (`gina`); `*` and `?` are wildcards, so one account
    /// can allow a family of devices (`gina*`).
    pub user: String,
    /// [`hash_password`] of the password, or `*` for any password.
    pub password_hash: String,
    /// IO networks the account may join; `*` = any.
    pub networks: Vec<String>,
    /// Privileges, e.g. `admin` (informational).
    pub privileges: String,
}

impl Account {
    /// An account for `user` with a plain-text password (stored hashed).
    pub fn new(user: &str, password: &str, networks: &[&str]) -> Self {
        Account {
            user: user.into(),
            password_hash: if password == "*" {
                "*".into()
            } else {
                hash_password(password)
            },
            networks: networks.iter().map(|n| (*n).to_string()).collect(),
            privileges: String::new(),
        }
    }

    /// Does this account let `user` join `network` with a password hashing to
    /// `password_hash`?
    pub fn allows(&self, user: &str, network: &str, password_hash: Option<&str>) -> bool {
        wildcard(&self.user, user)
            && self.networks.iter().any(|n| wildcard(n, network))
            && (self.password_hash == "*" || password_hash == Some(self.password_hash.as_str()))
    }
}

/// `*` matches any run of characters, `?` one character.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0usize, 0usize, None, 0usize);
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some(pi);
                mark = ti;
                pi += 1;
            }
            Some(c) if *c == '?' || Some(c) == t.get(ti) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some(s) => {
                    pi = s + 1;
                    mark += 1;
                    ti = mark;
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|c| *c == '*'))
}

/// Sets up a SQLite database of schema version [`SCHEMA_VERSION`] (1): waits for a
/// lock instead of failing at once, uses the write-ahead log, refuses a newer schema, and
/// creates `schema_v1` (tables) in a fresh one. Shared by the server's store and the
/// switchbox's service accounts.
pub(crate) fn prepare(db: Connection, schema_v1: &str) -> Result<Connection, StoreError> {
    db.busy_timeout(std::time::Duration::from_secs(5))?;
    let _ = db.pragma_update(None, "journal_mode", "WAL");
    let version: i64 = db.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema { found: version });
    }
    if version < 1 {
        db.execute_batch(&std::format!(
            "BEGIN; {schema_v1} PRAGMA user_version = 1; COMMIT;"
        ))?;
    }
    Ok(db)
}

/// The database.
pub struct Store {
    db: Connection,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating or upgrading) the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Self::init(Connection::open(path)?)
    }

    /// A database in memory (tests).
    pub fn in_memory() -> Result<Store, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(db: Connection) -> Result<Store, StoreError> {
        let db = prepare(
            db,
            "CREATE TABLE IF NOT EXISTS accounts (
                 user TEXT PRIMARY KEY,
                 password_hash TEXT NOT NULL,
                 networks TEXT NOT NULL,
                 privileges TEXT NOT NULL DEFAULT ''
             );
             CREATE TABLE IF NOT EXISTS device_numbers (
                 unique_id BLOB PRIMARY KEY,
                 device_nr INTEGER NOT NULL UNIQUE
             );",
        )?;
        Ok(Store { db })
    }

    /// Adds or replaces an account.
    pub fn put_account(&self, a: &Account) -> Result<(), StoreError> {
        self.db.execute(
            "INSERT OR REPLACE INTO accounts (user, password_hash, networks, privileges)
             VALUES (?1, ?2, ?3, ?4)",
            params![a.user, a.password_hash, a.networks.join(","), a.privileges],
        )?;
        Ok(())
    }

    /// Removes an account; `true` if it existed.
    pub fn remove_account(&self, user: &str) -> Result<bool, StoreError> {
        Ok(self
            .db
            .execute("DELETE FROM accounts WHERE user = ?1", params![user])?
            > 0)
    }

    /// All accounts, by user.
    pub fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let mut st = self.db.prepare(
            "SELECT user, password_hash, networks, privileges FROM accounts ORDER BY user",
        )?;
        let rows = st.query_map([], |r| {
            let networks: String = r.get(2)?;
            Ok(Account {
                user: r.get(0)?,
                password_hash: r.get(1)?,
                networks: networks
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
                privileges: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The number remembered for a unique id.
    pub fn device_number(&self, unique_id: &[u8; 12]) -> Result<Option<u32>, StoreError> {
        Ok(self
            .db
            .query_row(
                "SELECT device_nr FROM device_numbers WHERE unique_id = ?1",
                params![&unique_id[..]],
                |r| r.get::<_, u32>(0),
            )
            .optional()?)
    }

    /// Assigns the lowest free number 9001..=39999 to a unique id (or returns the one it
    /// has), skipping numbers for which `in_use` is true.
    pub fn assign_device_number(
        &self,
        unique_id: &[u8; 12],
        in_use: &dyn Fn(u32) -> bool,
    ) -> Result<Option<u32>, StoreError> {
        if let Some(nr) = self.device_number(unique_id)? {
            return Ok(Some(nr));
        }
        let mut taken: Vec<u32> = {
            let mut st = self.db.prepare("SELECT device_nr FROM device_numbers")?;
            st.query_map([], |r| r.get::<_, u32>(0))?
                .collect::<Result<_, _>>()?
        };
        taken.sort_unstable();
        let Some(nr) = (9001..40_000).find(|n| taken.binary_search(n).is_err() && !in_use(*n))
        else {
            return Ok(None);
        };
        self.db.execute(
            "INSERT INTO device_numbers (unique_id, device_nr) VALUES (?1, ?2)",
            params![&unique_id[..], nr],
        )?;
        Ok(Some(nr))
    }

    /// Every remembered (unique id, number) pair.
    pub fn device_numbers(&self) -> Result<Vec<([u8; 12], u32)>, StoreError> {
        let mut st = self
            .db
            .prepare("SELECT unique_id, device_nr FROM device_numbers ORDER BY device_nr")?;
        let rows = st.query_map([], |r| {
            let id: Vec<u8> = r.get(0)?;
            let nr: u32 = r.get(1)?;
            Ok((id, nr))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, nr) = row?;
            if let Ok(id) = <[u8; 12]>::try_from(id.as_slice()) {
                out.push((id, nr));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard("gina*", "gina9001"));
        assert!(wildcard("*", ""));
        assert!(wildcard("g?na", "gina"));
        assert!(!wildcard("gina", "gina1"));
        assert!(wildcard("*1", "gina1"));
    }

    #[test]
    fn numbers_are_remembered() {
        let s = Store::in_memory().unwrap();
        let a = [1u8; 12];
        let b = [2u8; 12];
        assert_eq!(s.assign_device_number(&a, &|_| false).unwrap(), Some(9001));
        assert_eq!(
            s.assign_device_number(&b, &|n| n == 9002).unwrap(),
            Some(9003)
        );
        assert_eq!(s.assign_device_number(&a, &|_| false).unwrap(), Some(9001));
        s.put_account(&Account::new("gina*", "pass", &["cafenet"]))
            .unwrap();
        let acc = s.accounts().unwrap();
        assert!(acc[0].allows("gina", "cafenet", Some(&hash_password("pass"))));
        assert!(!acc[0].allows("gina", "cafenet", Some(&hash_password("nope"))));
        assert!(!acc[0].allows("gina", "other", Some(&hash_password("pass"))));
    }
}
