//! The hash chain: the canonical bytes of an event and how events are sealed.
//!
//! `hash = lower-hex SHA-256(prev_hash ‖ canonical)`, where `prev_hash` is the
//! previous event's hash as 64 ASCII hex digits (64 zeros for the first event)
//! and `canonical` is a newline, then each envelope column as a netstring
//! (`<byte length>:<text>,`, NULL as the empty text), then a newline.
//! `schema/CANONICAL.md` spells it out with a `sqlite3` recipe.

use sha2::{Digest, Sha256};

use crate::events::{Event, Recorded};
use crate::state::Head;

/// The envelope fields of an event about to be appended, before sealing.
#[derive(Clone, Debug)]
pub struct Draft {
    pub event_id: String,
    pub stream_version: i64,
    pub occurred_at: String,
    pub actor: Option<crate::domain::UserId>,
    pub request_id: Option<String>,
    pub reason: Option<String>,
    pub event: Event,
}

/// The canonical bytes of a recorded event's columns (everything but the hashes).
pub fn canonical(rec: &Recorded) -> Vec<u8> {
    let actor = rec.actor.map(|a| a.0.to_string());
    let fields: [&str; 11] = [
        &rec.seq.to_string(),
        &rec.event_id,
        &rec.stream,
        &rec.stream_version.to_string(),
        &rec.event_type,
        &rec.event_version.to_string(),
        &rec.occurred_at,
        actor.as_deref().unwrap_or(""),
        rec.request_id.as_deref().unwrap_or(""),
        rec.reason.as_deref().unwrap_or(""),
        &rec.data,
    ];
    let mut out = Vec::with_capacity(rec.data.len() + 160);
    out.push(b'\n');
    for f in fields {
        out.extend_from_slice(f.len().to_string().as_bytes());
        out.push(b':');
        out.extend_from_slice(f.as_bytes());
        out.push(b',');
    }
    out.push(b'\n');
    out
}

/// The hash `rec` must carry given its `prev_hash` and columns.
pub fn compute_hash(rec: &Recorded) -> String {
    let mut h = Sha256::new();
    h.update(rec.prev_hash.as_bytes());
    h.update(canonical(rec));
    hex::encode(h.finalize())
}

/// Turns a draft into the next record after `head`: assigns `seq`, links and hashes it.
pub fn seal(head: &Head, draft: Draft) -> Recorded {
    let event = draft.event;
    let mut rec = Recorded {
        seq: head.seq + 1,
        event_id: draft.event_id,
        stream: event.stream().to_string(),
        stream_version: draft.stream_version,
        event_type: event.event_type().to_owned(),
        event_version: event.event_version(),
        occurred_at: draft.occurred_at,
        actor: draft.actor,
        // Empty text and NULL hash alike, so empty text is never stored.
        request_id: draft.request_id.filter(|s| !s.is_empty()),
        reason: draft.reason.filter(|s| !s.is_empty()),
        data: event.encode(),
        prev_hash: head.hash.clone(),
        hash: String::new(),
        event,
    };
    rec.hash = compute_hash(&rec);
    rec
}

/// How a stored event fails to continue the chain.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("position {seq}: expected position {expected} (a gap or reordering)")]
    Gap { seq: i64, expected: i64 },
    #[error("position {seq}: prev_hash does not match the hash of position {prev}")]
    BrokenLink { seq: i64, prev: i64 },
    #[error("position {seq}: stored hash does not match its contents")]
    BadHash { seq: i64 },
}

impl ChainError {
    pub fn seq(&self) -> i64 {
        match self {
            ChainError::Gap { seq, .. }
            | ChainError::BrokenLink { seq, .. }
            | ChainError::BadHash { seq } => *seq,
        }
    }
}

/// Checks that `rec` continues the chain at `head`.
pub fn check_link(head: &Head, rec: &Recorded) -> Result<(), ChainError> {
    if rec.seq != head.seq + 1 {
        return Err(ChainError::Gap {
            seq: rec.seq,
            expected: head.seq + 1,
        });
    }
    if rec.prev_hash != head.hash {
        return Err(ChainError::BrokenLink {
            seq: rec.seq,
            prev: head.seq,
        });
    }
    if compute_hash(rec) != rec.hash {
        return Err(ChainError::BadHash { seq: rec.seq });
    }
    Ok(())
}
