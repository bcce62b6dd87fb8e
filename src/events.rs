//! The vocabulary of the log: one enum of past-tense events, each with a
//! versioned JSON payload, and the envelope every recorded event carries.
//!
//! Payloads carry ids *and* the names as they were when the event happened, so
//! history reads well after a rename or delete. Nothing secret ever goes in an
//! event: passwords live in the credentials table, outside the log.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::domain::{DomainId, Flags, GroupId, Name, ObjectRef, UserId};

/// A new UUIDv7 (event ids, made-up request ids): the time in milliseconds,
/// then 74 random bits from the thread's generator, seeded from the OS.
/// (`Uuid::now_v7` asks the kernel for randomness on every call, a system
/// call per id.)
pub fn new_uuid_v7() -> uuid::Uuid {
    let random: [u8; 10] = rand::random();
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    uuid::Builder::from_unix_timestamp_millis(ms, &random).into_uuid()
}

/// The stream an event belongs to: the object whose history it is part of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    Domain(DomainId),
    User(UserId),
    Group(GroupId),
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stream::Domain(id) => write!(f, "domain:{id}"),
            Stream::User(id) => write!(f, "user:{id}"),
            Stream::Group(id) => write!(f, "group:{id}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainCreated {
    pub domain_id: DomainId,
    pub name: Name,
    pub parent_id: Option<DomainId>,
    /// The qualified name of the new domain, `GLOBAL.Engineering`.
    pub qualified_name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserCreated {
    pub user_id: UserId,
    pub name: Name,
    pub domain_id: DomainId,
    /// The qualified name of the user's domain.
    pub domain: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupCreated {
    pub group_id: GroupId,
    pub name: Name,
    pub domain_id: DomainId,
    pub domain: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserDeleted {
    pub user_id: UserId,
    pub name: Name,
    pub domain_id: DomainId,
    pub domain: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupDeleted {
    pub group_id: GroupId,
    pub name: Name,
    pub domain_id: DomainId,
    pub domain: String,
}

/// The payload of `UserAssigned` and `UserUnassigned`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Membership {
    pub group_id: GroupId,
    /// The group's qualified name as it was.
    pub group: String,
    pub user_id: UserId,
    /// The user's qualified name as it was.
    pub user: String,
}

/// The payload of `AccessGranted`: the group's whole setting on the object
/// from now on (flags left out are unset, i.e. inherited).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessGranted {
    pub group_id: GroupId,
    pub group: String,
    pub object: ObjectRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write: Option<bool>,
}

impl AccessGranted {
    pub fn flags(&self) -> Flags {
        Flags {
            view: self.view,
            update: self.update,
            read: self.read,
            write: self.write,
        }
    }
}

/// The payload of `AccessRevoked`: the group no longer has any setting on the object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessRevoked {
    pub group_id: GroupId,
    pub group: String,
    pub object: ObjectRef,
}

/// Everything that can happen to rollcall's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    DomainCreated(DomainCreated),
    UserCreated(UserCreated),
    GroupCreated(GroupCreated),
    UserDeleted(UserDeleted),
    GroupDeleted(GroupDeleted),
    UserAssigned(Membership),
    UserUnassigned(Membership),
    AccessGranted(AccessGranted),
    AccessRevoked(AccessRevoked),
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown event type {0:?} version {1}")]
    UnknownType(String, i64),
    #[error("malformed {0} payload: {1}")]
    Payload(String, serde_json::Error),
}

impl Event {
    /// The name stored in the `event_type` column.
    pub fn event_type(&self) -> &'static str {
        match self {
            Event::DomainCreated(_) => "DomainCreated",
            Event::UserCreated(_) => "UserCreated",
            Event::GroupCreated(_) => "GroupCreated",
            Event::UserDeleted(_) => "UserDeleted",
            Event::GroupDeleted(_) => "GroupDeleted",
            Event::UserAssigned(_) => "UserAssigned",
            Event::UserUnassigned(_) => "UserUnassigned",
            Event::AccessGranted(_) => "AccessGranted",
            Event::AccessRevoked(_) => "AccessRevoked",
        }
    }

    /// The payload schema version; bump it (and teach `decode` to upcast the
    /// old one) whenever a payload changes shape.
    pub fn event_version(&self) -> i64 {
        1
    }

    pub fn stream(&self) -> Stream {
        match self {
            Event::DomainCreated(e) => Stream::Domain(e.domain_id),
            Event::UserCreated(e) => Stream::User(e.user_id),
            Event::UserDeleted(e) => Stream::User(e.user_id),
            Event::GroupCreated(e) => Stream::Group(e.group_id),
            Event::GroupDeleted(e) => Stream::Group(e.group_id),
            Event::UserAssigned(e) | Event::UserUnassigned(e) => Stream::Group(e.group_id),
            Event::AccessGranted(e) => Stream::Group(e.group_id),
            Event::AccessRevoked(e) => Stream::Group(e.group_id),
        }
    }

    /// The payload as the compact JSON text stored in the `data` column.
    pub fn encode(&self) -> String {
        let encoded = match self {
            Event::DomainCreated(e) => serde_json::to_string(e),
            Event::UserCreated(e) => serde_json::to_string(e),
            Event::GroupCreated(e) => serde_json::to_string(e),
            Event::UserDeleted(e) => serde_json::to_string(e),
            Event::GroupDeleted(e) => serde_json::to_string(e),
            Event::UserAssigned(e) | Event::UserUnassigned(e) => serde_json::to_string(e),
            Event::AccessGranted(e) => serde_json::to_string(e),
            Event::AccessRevoked(e) => serde_json::to_string(e),
        };
        // Serializing these plain structs (strings, integers, options) cannot fail.
        encoded.unwrap_or_else(|e| unreachable!("event payloads always serialize: {e}"))
    }

    pub fn decode(event_type: &str, version: i64, data: &str) -> Result<Event, DecodeError> {
        fn p<T: serde::de::DeserializeOwned>(t: &str, data: &str) -> Result<T, DecodeError> {
            serde_json::from_str(data).map_err(|e| DecodeError::Payload(t.to_owned(), e))
        }
        Ok(match (event_type, version) {
            ("DomainCreated", 1) => Event::DomainCreated(p(event_type, data)?),
            ("UserCreated", 1) => Event::UserCreated(p(event_type, data)?),
            ("GroupCreated", 1) => Event::GroupCreated(p(event_type, data)?),
            ("UserDeleted", 1) => Event::UserDeleted(p(event_type, data)?),
            ("GroupDeleted", 1) => Event::GroupDeleted(p(event_type, data)?),
            ("UserAssigned", 1) => Event::UserAssigned(p(event_type, data)?),
            ("UserUnassigned", 1) => Event::UserUnassigned(p(event_type, data)?),
            ("AccessGranted", 1) => Event::AccessGranted(p(event_type, data)?),
            ("AccessRevoked", 1) => Event::AccessRevoked(p(event_type, data)?),
            _ => return Err(DecodeError::UnknownType(event_type.to_owned(), version)),
        })
    }
}

/// An event as the log holds it: the envelope columns plus the decoded event.
///
/// `occurred_at` and `data` are kept as the exact stored text because the hash
/// chain is computed over those bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Recorded {
    pub seq: i64,
    pub event_id: String,
    pub stream: String,
    pub stream_version: i64,
    pub event_type: String,
    pub event_version: i64,
    /// UTC, RFC 3339 with milliseconds: `2026-03-01T09:30:00.000Z`.
    pub occurred_at: String,
    /// The user who caused it; `None` for the system (bootstrap).
    pub actor: Option<UserId>,
    pub request_id: Option<String>,
    pub reason: Option<String>,
    pub data: String,
    pub prev_hash: String,
    pub hash: String,
    #[serde(skip)]
    pub event: Event,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_round_trips_through_its_stored_form() {
        let m = Membership {
            group_id: GroupId(3),
            group: "GLOBAL.Devs".into(),
            user_id: UserId(4),
            user: "GLOBAL.alice".into(),
        };
        let events = [
            Event::DomainCreated(DomainCreated {
                domain_id: DomainId(2),
                name: Name::trusted("Eng"),
                parent_id: Some(DomainId(1)),
                qualified_name: "GLOBAL.Eng".into(),
            }),
            Event::UserCreated(UserCreated {
                user_id: UserId(4),
                name: Name::trusted("alice"),
                domain_id: DomainId(1),
                domain: "GLOBAL".into(),
                realname: Some("Alice".into()),
                email: None,
            }),
            Event::UserAssigned(m.clone()),
            Event::UserUnassigned(m),
        ];
        for e in events {
            let back = Event::decode(e.event_type(), e.event_version(), &e.encode());
            assert_eq!(back.ok(), Some(e));
        }
    }

    #[test]
    fn unknown_types_and_fields_are_refused() {
        assert!(Event::decode("UserRenamed", 1, "{}").is_err());
        assert!(Event::decode("UserAssigned", 2, "{}").is_err());
        let extra = r#"{"group_id":1,"group":"g","user_id":1,"user":"u","password":"x"}"#;
        assert!(Event::decode("UserAssigned", 1, extra).is_err());
    }
}
