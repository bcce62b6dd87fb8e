//! What callers can ask for: commands, the request envelope around them, and
//! what an accepted command answers.
//!
//! Commands hold identifiers exactly as the caller wrote them; resolving them
//! against the state is `decide`'s job, done inside the writer so that the
//! answer is consistent with the log position the change lands at.

use crate::domain::{Flags, GroupId, Ident, Kind, Name, ObjectRef, UserId};

/// A command plus who asked, and the audit fields stored on its events.
#[derive(Clone, Debug)]
pub struct Request {
    /// The authenticated caller; `None` only for the system (bootstrap).
    pub caller: Option<UserId>,
    pub request_id: Option<String>,
    /// Free text the caller gave for the change, stored on the events.
    pub reason: Option<String>,
    pub command: Command,
}

#[derive(Clone, Debug)]
pub enum Command {
    /// Writes the built-in rows into an empty log.
    Bootstrap {
        admin_password_hash: String,
    },
    CreateDomain {
        name: Name,
        /// The parent domain; GLOBAL when absent.
        parent: Option<Ident>,
    },
    CreateUser {
        name: Name,
        domain: Option<Ident>,
        realname: Option<String>,
        email: Option<String>,
        /// An argon2 PHC string, hashed before the command was made; stored in
        /// the credentials table, never in an event.
        password_hash: Option<String>,
    },
    CreateGroup {
        name: Name,
        domain: Option<Ident>,
        summary: Option<String>,
        email: Option<String>,
    },
    DeleteUser {
        user: Ident,
    },
    DeleteGroup {
        group: Ident,
    },
    Assign {
        user: Ident,
        group: Ident,
    },
    Unassign {
        user: Ident,
        group: Ident,
    },
    /// Sets a group's whole setting on an object (unset flags inherit).
    SetGrant {
        group: Ident,
        object: ObjectRef,
        flags: Flags,
    },
    /// Removes a group's setting on an object.
    RevokeGrant {
        group: Ident,
        object: ObjectRef,
    },
    /// Creates the group if it does not exist and assigns every member not
    /// already in it; running it again changes nothing.
    ImportGroup {
        group: Ident,
        members: Vec<Ident>,
    },
}

/// A newly created object, as the JSON API reports it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Created {
    #[serde(skip)]
    pub kind: Kind,
    pub id: i64,
    pub name: String,
    /// The qualified name of the domain it lives in (absent for the root).
    pub domain: Option<String>,
    pub qualified_name: String,
}

/// What an accepted command did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Bootstrapped,
    Created(Created),
    Deleted {
        kind: Kind,
        id: i64,
    },
    /// Assign or unassign; `changed` is false when the membership already was
    /// as asked, in which case nothing was written.
    Membership {
        user: UserId,
        group: GroupId,
        changed: bool,
    },
    /// A grant was set or revoked (`changed` false when it already was so).
    Grant {
        group: GroupId,
        changed: bool,
    },
    Imported {
        group: GroupId,
        created: bool,
        added: usize,
    },
}

/// The reply to an accepted command, sent only after its commit is durable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The `seq` of the last event written, or the log head when nothing was.
    pub position: i64,
    pub outcome: Outcome,
}
