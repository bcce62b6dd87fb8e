//! Sessions: random bearer tokens, kept in memory by the SHA-256 of the token
//! and mirrored in the `sessions` table so they survive a restart.
//!
//! A lookup on the request path touches only memory. The sliding idle expiry
//! moves `last_seen` in memory on every use; the table is brought up to date
//! at most once per [`PERSIST_EVERY_MS`] per session, so a busy client does not
//! cost a disk write per request. After a restart a session may therefore
//! expire up to that much earlier than it would have — never later.

use rand::RngCore;
use rusqlite::Connection;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use crate::domain::UserId;

/// How stale the stored `last_seen` may get before it is written again.
pub const PERSIST_EVERY_MS: i64 = 5 * 60 * 1000;

/// A freshly minted token: the secret for the caller, the hash for storage.
pub struct Token {
    pub secret: String,
    pub hash: String,
}

impl Token {
    /// 256 random bits, hex-encoded.
    pub fn generate() -> Token {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let secret = hex::encode(bytes);
        let hash = hash_token(&secret);
        Token { secret, hash }
    }
}

pub fn hash_token(secret: &str) -> String {
    hex::encode(digest(secret))
}

/// The SHA-256 of a token: what the in-memory map is keyed by (the table
/// stores it hex-encoded). A lookup on every request hashes the token once
/// and encodes nothing.
fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// The digest a stored, hex-encoded token hash stands for.
fn from_hex(token_hash: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(token_hash, &mut out).ok()?;
    Some(out)
}

struct Session {
    user: UserId,
    last_seen_ms: AtomicI64,
    persisted_ms: AtomicI64,
}

/// What a lookup found.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// A live session; `persist` is the stored token hash and the
    /// `last_seen` to write back to its row, when that is due.
    Valid {
        user: UserId,
        persist: Option<(String, i64)>,
    },
    /// Idle too long: removed from memory; the caller should delete the row.
    Expired {
        token_hash: String,
    },
    Unknown,
}

type Map = HashMap<[u8; 32], Arc<Session>, ahash::RandomState>;

pub struct Sessions {
    map: RwLock<Map>,
    idle_ms: i64,
}

impl Sessions {
    pub fn new(idle_ms: i64) -> Self {
        Sessions {
            map: RwLock::new(Map::default()),
            idle_ms,
        }
    }

    /// Loads the stored sessions that have not expired at `now_ms`.
    pub fn load(conn: &Connection, idle_ms: i64, now_ms: i64) -> rusqlite::Result<Self> {
        let sessions = Sessions::new(idle_ms);
        let mut stmt = conn.prepare("SELECT token_hash, user_id, last_seen_at FROM sessions")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let last: i64 = r.get(2)?;
            if now_ms - last < idle_ms {
                sessions.insert(r.get(0)?, UserId(r.get(1)?), last);
            }
        }
        Ok(sessions)
    }

    /// Adds the session whose token hashes to `token_hash` (hex, as stored);
    /// a hash that is not 64 hex digits names no token and is ignored.
    pub fn insert(&self, token_hash: String, user: UserId, now_ms: i64) {
        let Some(key) = from_hex(&token_hash) else {
            return;
        };
        let s = Arc::new(Session {
            user,
            last_seen_ms: AtomicI64::new(now_ms),
            persisted_ms: AtomicI64::new(now_ms),
        });
        self.write().insert(key, s);
    }

    pub fn remove(&self, token_hash: &str) -> bool {
        from_hex(token_hash).is_some_and(|key| self.write().remove(&key).is_some())
    }

    /// Drops every session of `user` (after the user is deleted).
    pub fn remove_user(&self, user: UserId) {
        self.write().retain(|_, s| s.user != user);
    }

    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Finds the session for `secret` and slides its expiry to `now_ms`.
    pub fn lookup(&self, secret: &str, now_ms: i64) -> Lookup {
        let key = digest(secret);
        let found = self.read().get(&key).cloned();
        let Some(s) = found else {
            return Lookup::Unknown;
        };
        let last = s.last_seen_ms.fetch_max(now_ms, Ordering::Relaxed);
        if now_ms - last >= self.idle_ms {
            self.write().remove(&key);
            return Lookup::Expired {
                token_hash: hex::encode(key),
            };
        }
        let persisted = s.persisted_ms.load(Ordering::Relaxed);
        let persist = (now_ms - persisted >= PERSIST_EVERY_MS
            && s.persisted_ms
                .compare_exchange(persisted, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok())
        .then(|| (hex::encode(key), now_ms));
        Lookup::Valid {
            user: s.user,
            persist,
        }
    }

    // A poisoned lock only means another thread panicked mid-operation on a
    // plain map; the map itself is still coherent, so carry on with it.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Map> {
        self.map.read().unwrap_or_else(|e| e.into_inner())
    }
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Map> {
        self.map.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn tokens_are_random_and_stored_only_as_hashes() {
        let a = Token::generate();
        let b = Token::generate();
        assert_ne!(a.secret, b.secret);
        assert_eq!(a.secret.len(), 64);
        assert_eq!(a.hash, hash_token(&a.secret));
        assert_ne!(a.hash, a.secret);
    }

    #[test]
    fn use_slides_the_idle_expiry() {
        let s = Sessions::new(HOUR);
        let t = Token::generate();
        s.insert(t.hash.clone(), UserId(7), 0);
        assert!(matches!(
            s.lookup(&t.secret, HOUR - 1),
            Lookup::Valid {
                user: UserId(7),
                ..
            }
        ));
        // Used just now, so another almost-hour later it is still valid.
        assert!(matches!(
            s.lookup(&t.secret, 2 * HOUR - 2),
            Lookup::Valid { .. }
        ));
        assert!(matches!(
            s.lookup(&t.secret, 3 * HOUR),
            Lookup::Expired { .. }
        ));
        assert_eq!(s.lookup(&t.secret, 3 * HOUR), Lookup::Unknown);
    }

    #[test]
    fn last_seen_is_persisted_at_most_once_per_interval() {
        let s = Sessions::new(HOUR);
        let t = Token::generate();
        s.insert(t.hash.clone(), UserId(1), 0);
        let persist = |now| match s.lookup(&t.secret, now) {
            Lookup::Valid { persist, .. } => persist,
            other => panic!("{other:?}"),
        };
        assert_eq!(persist(1000), None);
        assert_eq!(
            persist(PERSIST_EVERY_MS),
            Some((t.hash.clone(), PERSIST_EVERY_MS))
        );
        assert_eq!(persist(PERSIST_EVERY_MS + 10), None);
    }

    #[test]
    fn sessions_are_removed_by_their_stored_hash_and_bad_hashes_name_none() {
        let s = Sessions::new(HOUR);
        let t = Token::generate();
        s.insert(t.hash.clone(), UserId(3), 0);
        s.insert("not hex".into(), UserId(4), 0);
        assert_eq!(s.len(), 1);
        assert!(!s.remove("not hex"));
        assert!(!s.remove(&hash_token("another token")));
        match s.lookup(&t.secret, 10) {
            Lookup::Valid { user, .. } => assert_eq!(user, UserId(3)),
            other => panic!("{other:?}"),
        }
        assert!(s.remove(&t.hash));
        assert_eq!(s.lookup(&t.secret, 20), Lookup::Unknown);
        assert!(s.is_empty());
    }
}
