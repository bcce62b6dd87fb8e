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
    let mut out = Vec::with_capacity(rec.data.len() + 160);
    write_canonical(rec, |bytes| out.extend_from_slice(bytes));
    out
}

/// Feeds the canonical bytes of `rec` to `put`, piece by piece, without
/// building them: verifying a million events hashes a million of these.
fn write_canonical(rec: &Recorded, mut put: impl FnMut(&[u8])) {
    let mut seq = Decimal::default();
    let mut stream_version = Decimal::default();
    let mut event_version = Decimal::default();
    let mut actor = Decimal::default();
    let fields: [&[u8]; 11] = [
        seq.of(rec.seq),
        rec.event_id.as_bytes(),
        rec.stream.as_bytes(),
        stream_version.of(rec.stream_version),
        rec.event_type.as_bytes(),
        event_version.of(rec.event_version),
        rec.occurred_at.as_bytes(),
        match rec.actor {
            Some(a) => actor.of(a.0),
            None => b"",
        },
        rec.request_id.as_deref().unwrap_or("").as_bytes(),
        rec.reason.as_deref().unwrap_or("").as_bytes(),
        rec.data.as_bytes(),
    ];
    put(b"\n");
    let mut len = Decimal::default();
    for f in fields {
        put(len.of(f.len() as i64));
        put(b":");
        put(f);
        put(b",");
    }
    put(b"\n");
}

/// An integer's decimal digits (as `to_string` writes them), on the stack.
#[derive(Default)]
struct Decimal([u8; 20]);

impl Decimal {
    fn of(&mut self, n: i64) -> &[u8] {
        let mut i = self.0.len();
        let mut v = n.unsigned_abs();
        loop {
            i -= 1;
            self.0[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        if n < 0 {
            i -= 1;
            self.0[i] = b'-';
        }
        &self.0[i..]
    }
}

fn digest(rec: &Recorded) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(rec.prev_hash.as_bytes());
    write_canonical(rec, |bytes| h.update(bytes));
    h.finalize().into()
}

/// The hash `rec` must carry given its `prev_hash` and columns.
pub fn compute_hash(rec: &Recorded) -> String {
    hex::encode(digest(rec))
}

/// Does `rec` carry the hash its `prev_hash` and columns give? (Lower-case
/// hex, as `compute_hash` writes it.) The digest is spelled out on the
/// stack and compared as bytes: `verify` asks this of every event, and
/// decoding the stored text instead cost more than the spelling.
pub fn hash_matches(rec: &Recorded) -> bool {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut spelled = [0_u8; 64];
    for (pair, byte) in spelled.chunks_exact_mut(2).zip(digest(rec)) {
        pair[0] = HEX[usize::from(byte >> 4)];
        pair[1] = HEX[usize::from(byte & 0xf)];
    }
    rec.hash.as_bytes() == spelled
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
    if !hash_matches(rec) {
        return Err(ChainError::BadHash { seq: rec.seq });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Membership;

    fn sample(seq: i64, actor: Option<i64>, reason: Option<&str>) -> Recorded {
        let event = Event::UserAssigned(Membership {
            group_id: crate::domain::GroupId(3),
            group: "GLOBAL.Devs".into(),
            user_id: crate::domain::UserId(4),
            user: "GLOBAL.alice".into(),
        });
        let draft = Draft {
            event_id: "0193-id".into(),
            stream_version: 12,
            occurred_at: "2026-03-01T09:30:00.000Z".into(),
            actor: actor.map(crate::domain::UserId),
            request_id: Some("req-1".into()),
            reason: reason.map(str::to_owned),
            event,
        };
        seal(
            &Head {
                seq: seq - 1,
                hash: "ab".repeat(32),
            },
            draft,
        )
    }

    #[test]
    fn the_canonical_form_is_netstrings_of_the_columns() {
        let rec = sample(1_234_567, Some(-5), None);
        let text = String::from_utf8(canonical(&rec)).expect("utf-8");
        let want = format!(
            "\n7:1234567,7:0193-id,7:group:3,2:12,12:UserAssigned,1:1,24:2026-03-01T09:30:00.000Z,2:-5,5:req-1,0:,{}:{},\n",
            rec.data.len(),
            rec.data
        );
        assert_eq!(text, want);
    }

    #[test]
    fn a_hash_matches_only_its_own_columns_in_lower_case() {
        for rec in [
            sample(1, None, None),
            sample(i64::MAX, Some(0), Some("why")),
        ] {
            assert!(hash_matches(&rec));
            assert_eq!(rec.hash, compute_hash(&rec));
            let mut upper = rec.clone();
            upper.hash = rec.hash.to_ascii_uppercase();
            assert!(!hash_matches(&upper));
            let mut changed = rec.clone();
            changed.reason = Some("another".into());
            assert!(!hash_matches(&changed));
            let mut short = rec.clone();
            short.hash.pop();
            assert!(!hash_matches(&short));
        }
    }
}
