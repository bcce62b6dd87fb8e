//! Records the logs in `replay-fixtures/` by driving the real writer (real
//! SQLite, real `decide`, `seal` and `fold`), then exports them and writes
//! each folder's `expected.json` from a replay, after checking the replay
//! against what each scenario declares by hand. Also derives the tampered
//! logs from a recorded one and writes the generated fixture's expectations.
//!
//! `cargo run --example make_fixtures -- replay-fixtures` (rewrites them all:
//! new event ids, times and hashes; the tests read whatever is there).

use anyhow::{bail, ensure, Context};
use rollcall::audit::export::{self, Line};
use rollcall::audit::progress::Progress;
use rollcall::audit::{generate, replay};
use rollcall::commands::{Command, Request};
use rollcall::domain::{Flags, Ident, Kind, Name, ObjectRef, Permission, ADMIN};
use rollcall::events::Recorded;
use rollcall::fold::{fold, NoSink};
use rollcall::log::{self, chain};
use rollcall::projector;
use rollcall::read_model::ReadModel;
use rollcall::state::State;
use rollcall::writer::{self, CommandError, WriterHandle};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A named position, and the members some groups must have there.
type Mark = (String, i64, Vec<(String, Vec<String>)>);

/// A scenario being recorded: a running writer and the named positions.
struct Rec {
    dir: tempfile::TempDir,
    w: Option<WriterHandle>,
    t: Option<std::thread::JoinHandle<()>>,
    read: Arc<ReadModel>,
    marks: Vec<Mark>,
    /// Access checks declared along the way: position, user, object, permission, verdict.
    checks: Vec<Value>,
    step: u32,
}

fn name(kind: Kind, s: &str) -> Name {
    Name::parse(kind, s).unwrap_or_else(|e| panic!("{s}: {e}"))
}
fn user(q: &str) -> Ident {
    Ident::parse(Kind::User, q)
}
fn group(q: &str) -> Ident {
    Ident::parse(Kind::Group, q)
}

impl Rec {
    async fn new() -> anyhow::Result<Rec> {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("f.db");
        let mut conn = log::open_writer(&db)?;
        let state = projector::catch_up(&mut conn)?;
        let read = Arc::new(ReadModel::new(state.clone()));
        let (w, t) = writer::spawn(conn, state, read.clone())?;
        let mut r = Rec {
            dir,
            w: Some(w),
            t: Some(t),
            read,
            marks: Vec::new(),
            checks: Vec::new(),
            step: 0,
        };
        r.send(
            None,
            Command::Bootstrap {
                admin_password_hash: "not-a-real-hash".into(),
            },
            Some("bootstrap"),
        )
        .await?;
        Ok(r)
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("f.db")
    }

    async fn send(
        &mut self,
        caller: Option<rollcall::domain::UserId>,
        command: Command,
        reason: Option<&str>,
    ) -> Result<rollcall::commands::Applied, CommandError> {
        self.step += 1;
        let w = self.w.as_ref().expect("writer running");
        w.execute(Request {
            caller,
            request_id: Some(format!("fixture-{}", self.step)),
            reason: reason.map(str::to_owned),
            command,
        })
        .await
    }

    /// Sends a command as admin that must be accepted.
    async fn ok(&mut self, command: Command, reason: Option<&str>) -> anyhow::Result<()> {
        let what = format!("{command:?}");
        self.send(Some(ADMIN), command, reason)
            .await
            .with_context(|| what)?;
        Ok(())
    }

    /// Sends a command that must change nothing (rejected or a no-op).
    async fn nothing(&mut self, command: Command) -> anyhow::Result<()> {
        let before = self.read.snapshot().head.seq;
        let what = format!("{command:?}");
        let _ = self
            .send(Some(ADMIN), command, Some("should leave no trace"))
            .await;
        ensure!(
            self.read.snapshot().head.seq == before,
            "{what} wrote an event"
        );
        Ok(())
    }

    async fn domain(&mut self, n: &str, parent: &str) -> anyhow::Result<()> {
        self.ok(
            Command::CreateDomain {
                name: name(Kind::Domain, n),
                parent: Some(Ident::parse_domain(parent)),
            },
            None,
        )
        .await
    }
    async fn user(&mut self, n: &str, domain: &str) -> anyhow::Result<()> {
        self.ok(
            Command::CreateUser {
                name: name(Kind::User, n),
                domain: Some(Ident::parse_domain(domain)),
                realname: None,
                email: None,
                password_hash: None,
            },
            None,
        )
        .await
    }
    async fn group(&mut self, n: &str, domain: &str) -> anyhow::Result<()> {
        self.ok(
            Command::CreateGroup {
                name: name(Kind::Group, n),
                domain: Some(Ident::parse_domain(domain)),
                summary: None,
                email: None,
            },
            None,
        )
        .await
    }
    async fn assign(&mut self, u: &str, g: &str, reason: &str) -> anyhow::Result<()> {
        self.ok(
            Command::Assign {
                user: user(u),
                group: group(g),
            },
            Some(reason),
        )
        .await
    }
    async fn unassign(&mut self, u: &str, g: &str, reason: &str) -> anyhow::Result<()> {
        self.ok(
            Command::Unassign {
                user: user(u),
                group: group(g),
            },
            Some(reason),
        )
        .await
    }

    /// Names the current position and declares some groups' members there.
    fn mark(&mut self, label: &str, groups: &[(&str, &[&str])]) {
        let at = self.read.snapshot().head.seq;
        let declared = groups
            .iter()
            .map(|(g, ms)| (g.to_string(), ms.iter().map(|m| m.to_string()).collect()))
            .collect();
        self.marks.push((label.to_owned(), at, declared));
    }

    /// Sets a group's flags on an object (`None` for all flags revokes).
    async fn grant(
        &mut self,
        g: &str,
        object: &str,
        flags: Option<Flags>,
        reason: &str,
    ) -> anyhow::Result<()> {
        let object = ObjectRef::parse(object)?;
        let group = group(g);
        let command = match flags {
            Some(flags) => Command::SetGrant {
                group,
                object,
                flags,
            },
            None => Command::RevokeGrant { group, object },
        };
        self.ok(command, Some(reason)).await
    }

    /// Declares the verdict of an access check at the current position.
    fn expect_access(&mut self, user: &str, object: &str, permission: &str, allowed: bool) {
        let position = self.read.snapshot().head.seq;
        self.checks
            .push(json!({"position": position, "user": user, "object": object,
                                "permission": permission, "allowed": allowed}));
    }

    /// Stops the writer, exports the log and writes `expected.json`.
    async fn finish(mut self, out: &Path, description: &str) -> anyhow::Result<Vec<String>> {
        self.mark("end", &[]);
        drop(self.w.take());
        if let Some(t) = self.t.take() {
            t.join().map_err(|_| anyhow::anyhow!("writer panicked"))?;
        }
        let conn = log::open_reader(&self.db())?;
        let mut bytes = Vec::new();
        export::export(&conn, 0, &mut bytes, &Progress::hidden())?;
        let mut named = BTreeMap::new();
        let mut last = Value::Null;
        for (label, at, declared) in &self.marks {
            let state = replay::replay(&conn, *at, &Progress::hidden())?;
            let m = replay::membership(&state);
            for (g, members) in declared {
                let got = m
                    .groups
                    .get(g)
                    .with_context(|| format!("{label}: no group {g}"))?;
                ensure!(
                    got == members,
                    "{label}: {g} has {got:?}, declared {members:?}"
                );
            }
            last = serde_json::to_value(&m)?;
            if label != "end" {
                named.insert(label.clone(), last.clone());
            }
        }
        for c in &self.checks {
            let state = replay::replay(
                &conn,
                c["position"].as_i64().unwrap_or(0),
                &Progress::hidden(),
            )?;
            let user = state.resolve_user(
                None,
                &Ident::parse(Kind::User, c["user"].as_str().unwrap_or("")),
            )?;
            let object = ObjectRef::parse(c["object"].as_str().unwrap_or(""))?;
            let perm =
                Permission::parse(c["permission"].as_str().unwrap_or("")).context("permission")?;
            let got = rollcall::access::check(&state, user, &object, perm).allowed;
            ensure!(Some(got) == c["allowed"].as_bool(), "check {c} gave {got}");
        }
        let mut expected = json!({ "description": description, "final": last, "named": named });
        if !self.checks.is_empty() {
            expected["checks"] = Value::Array(self.checks.clone());
        }
        write_fixture(out, &bytes, &expected)?;
        Ok(String::from_utf8(bytes)?
            .lines()
            .map(str::to_owned)
            .collect())
    }
}

fn write_fixture(dir: &Path, log: &[u8], expected: &Value) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("log.ndjson"), log)?;
    let mut text = serde_json::to_string_pretty(expected)?;
    text.push('\n');
    std::fs::write(dir.join("expected.json"), text)?;
    Ok(())
}

fn tampered(
    dir: &Path,
    lines: &[String],
    position: i64,
    problem: &str,
    description: &str,
    trusted: Option<String>,
) -> anyhow::Result<()> {
    let mut log = lines.join("\n");
    log.push('\n');
    let mut expected = json!({
        "description": description,
        "tampered": {"position": position, "problem": problem},
    });
    if let Some(t) = trusted {
        expected["trusted_head"] = json!(t);
    }
    write_fixture(dir, log.as_bytes(), &expected)
}

fn line_of(rec: &Recorded) -> anyhow::Result<String> {
    Ok(serde_json::to_string(rec)?)
}

fn parse(line: &str) -> anyhow::Result<Recorded> {
    let l: Line = serde_json::from_str(line)?;
    export::into_recorded(l).map_err(anyhow::Error::msg)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "replay-fixtures".into()),
    );

    // 1. assign, unassign, assign again.
    let mut r = Rec::new().await?;
    r.user("alice", "GLOBAL").await?;
    r.group("Devs", "GLOBAL").await?;
    r.assign("GLOBAL.alice", "GLOBAL.Devs", "joins the team")
        .await?;
    r.mark("assigned", &[("GLOBAL.Devs", &["GLOBAL.alice"])]);
    r.unassign("GLOBAL.alice", "GLOBAL.Devs", "on leave")
        .await?;
    r.mark("unassigned", &[("GLOBAL.Devs", &[])]);
    r.assign("GLOBAL.alice", "GLOBAL.Devs", "back from leave")
        .await?;
    r.mark("reassigned", &[("GLOBAL.Devs", &["GLOBAL.alice"])]);
    let base = r
        .finish(
            &root.join("assign-unassign-reassign"),
            "A user assigned, unassigned and assigned again.",
        )
        .await?;

    // Grants and their inheritance: a domain grant, an object's own deny, a
    // second group's allow winning, a revocation, and membership ending it.
    let mut r = Rec::new().await?;
    r.domain("Engineering", "GLOBAL").await?;
    r.user("alice", "GLOBAL.Engineering").await?;
    r.user("bob", "GLOBAL.Engineering").await?;
    r.group("Devs", "GLOBAL.Engineering").await?;
    r.group("Ops", "GLOBAL.Engineering").await?;
    r.assign("alice", "Devs", "joins").await?;
    r.assign("bob", "Devs", "joins").await?;
    r.assign("bob", "Ops", "on call").await?;
    let prod = "environment:GLOBAL.Engineering.Prod";
    r.expect_access("alice", prod, "write", false);
    r.mark(
        "before-grants",
        &[(
            "GLOBAL.Engineering.Devs",
            &["GLOBAL.Engineering.alice", "GLOBAL.Engineering.bob"],
        )],
    );
    let allow_write = Flags {
        write: Some(true),
        ..Flags::default()
    };
    r.grant(
        "GLOBAL.Engineering.Devs",
        "domain:GLOBAL.Engineering",
        Some(allow_write),
        "devs deploy",
    )
    .await?;
    r.expect_access("alice", prod, "write", true);
    r.expect_access("alice", prod, "read", false);
    r.mark("domain-grant", &[]);
    let deny_write = Flags {
        write: Some(false),
        ..Flags::default()
    };
    r.grant(
        "GLOBAL.Engineering.Devs",
        prod,
        Some(deny_write),
        "prod freeze",
    )
    .await?;
    r.grant(
        "GLOBAL.Engineering.Ops",
        prod,
        Some(allow_write),
        "ops still deploy",
    )
    .await?;
    r.expect_access("alice", prod, "write", false);
    r.expect_access("bob", prod, "write", true);
    r.expect_access(
        "alice",
        "environment:GLOBAL.Engineering.Test",
        "write",
        true,
    );
    r.mark("prod-frozen", &[]);
    r.grant("GLOBAL.Engineering.Devs", prod, None, "freeze over")
        .await?;
    r.expect_access("alice", prod, "write", true);
    r.unassign("alice", "Devs", "left the team").await?;
    r.expect_access("alice", prod, "write", false);
    r.expect_access("admin", prod, "write", true);
    r.finish(&root.join("grants-inheritance"), "Grants: a domain grant inherited, an object's own deny overriding it for that group, another group's allow winning, a revocation, and a membership's end taking the permission with it.").await?;

    // 2. no-op writes leave no event.
    let mut r = Rec::new().await?;
    r.user("bob", "GLOBAL").await?;
    r.group("Ops", "GLOBAL").await?;
    r.assign("bob", "Ops", "on call").await?;
    r.mark("assigned", &[("GLOBAL.Ops", &["GLOBAL.bob"])]);
    r.nothing(Command::Assign {
        user: user("bob"),
        group: group("Ops"),
    })
    .await?;
    r.nothing(Command::Unassign {
        user: user("admin"),
        group: group("Ops"),
    })
    .await?;
    r.nothing(Command::Assign {
        user: user("bob"),
        group: group("Everyone"),
    })
    .await?;
    r.mark("after-no-ops", &[("GLOBAL.Ops", &["GLOBAL.bob"])]);
    r.finish(&root.join("noop-writes"), "Assigning a member again, unassigning a non-member and assigning to Everyone write nothing: positions do not move.").await?;

    // 3. deleting a group ends its memberships.
    let mut r = Rec::new().await?;
    for u in ["ann", "ben", "cat"] {
        r.user(u, "GLOBAL").await?;
    }
    r.group("Temp", "GLOBAL").await?;
    r.group("Keep", "GLOBAL").await?;
    for u in ["ann", "ben", "cat"] {
        r.assign(u, "Temp", "project").await?;
    }
    r.assign("ann", "Keep", "permanent").await?;
    r.mark(
        "full",
        &[("GLOBAL.Temp", &["GLOBAL.ann", "GLOBAL.ben", "GLOBAL.cat"])],
    );
    r.ok(
        Command::DeleteGroup {
            group: group("Temp"),
        },
        Some("project over"),
    )
    .await?;
    r.mark("deleted", &[("GLOBAL.Keep", &["GLOBAL.ann"])]);
    r.finish(
        &root.join("group-deleted"),
        "Deleting a group ends every membership in it at the deletion's position.",
    )
    .await?;

    // 4. deleting a user ends its memberships.
    let mut r = Rec::new().await?;
    r.user("dan", "GLOBAL").await?;
    r.user("eve", "GLOBAL").await?;
    for g in ["A", "B", "C"] {
        r.group(g, "GLOBAL").await?;
        r.assign("dan", g, "setup").await?;
    }
    r.assign("eve", "B", "setup").await?;
    r.mark(
        "before",
        &[
            ("GLOBAL.A", &["GLOBAL.dan"]),
            ("GLOBAL.B", &["GLOBAL.dan", "GLOBAL.eve"]),
        ],
    );
    r.ok(
        Command::DeleteUser { user: user("dan") },
        Some("left the company"),
    )
    .await?;
    r.mark(
        "after",
        &[
            ("GLOBAL.A", &[]),
            ("GLOBAL.B", &["GLOBAL.eve"]),
            ("GLOBAL.C", &[]),
        ],
    );
    r.finish(
        &root.join("user-deleted"),
        "Deleting a user ends each of its memberships; the user disappears from the directory.",
    )
    .await?;

    // 5. a user name reused after a delete.
    let mut r = Rec::new().await?;
    r.user("sam", "GLOBAL").await?;
    r.group("Finance", "GLOBAL").await?;
    r.assign("sam", "Finance", "accountant").await?;
    r.mark("first-sam", &[("GLOBAL.Finance", &["GLOBAL.sam"])]);
    r.ok(Command::DeleteUser { user: user("sam") }, Some("left"))
        .await?;
    r.user("sam", "GLOBAL").await?;
    r.mark("second-sam", &[("GLOBAL.Finance", &[])]);
    r.group("Legal", "GLOBAL").await?;
    r.assign("sam", "Legal", "new hire").await?;
    r.mark(
        "second-sam-assigned",
        &[("GLOBAL.Finance", &[]), ("GLOBAL.Legal", &["GLOBAL.sam"])],
    );
    r.finish(&root.join("user-name-reused"), "A user deleted and a new user created under the same name: a new id, no inherited memberships.").await?;

    // 6. a group name reused after a delete.
    let mut r = Rec::new().await?;
    r.user("kim", "GLOBAL").await?;
    r.user("lee", "GLOBAL").await?;
    r.group("Squad", "GLOBAL").await?;
    r.assign("kim", "Squad", "first squad").await?;
    r.mark("first-squad", &[("GLOBAL.Squad", &["GLOBAL.kim"])]);
    r.ok(
        Command::DeleteGroup {
            group: group("Squad"),
        },
        Some("disbanded"),
    )
    .await?;
    r.group("Squad", "GLOBAL").await?;
    r.assign("lee", "Squad", "second squad").await?;
    r.mark("second-squad", &[("GLOBAL.Squad", &["GLOBAL.lee"])]);
    r.finish(&root.join("group-name-reused"), "A group deleted and created again under the same name: the old members are not members of the new group.").await?;

    // 7. nested domains and qualified names.
    let mut r = Rec::new().await?;
    r.domain("Engineering", "GLOBAL").await?;
    r.domain("Platform", "GLOBAL.Engineering").await?;
    r.domain("Sales", "GLOBAL").await?;
    r.user("alex", "GLOBAL.Engineering.Platform").await?;
    r.user("alex", "GLOBAL.Sales").await?;
    r.group("Leads", "GLOBAL.Engineering").await?;
    r.group("Leads", "GLOBAL.Sales").await?;
    r.assign(
        "GLOBAL.Engineering.Platform.alex",
        "GLOBAL.Engineering.Leads",
        "tech lead",
    )
    .await?;
    r.assign("GLOBAL.Sales.alex", "GLOBAL.Sales.Leads", "sales lead")
        .await?;
    r.mark(
        "both-leads",
        &[
            (
                "GLOBAL.Engineering.Leads",
                &["GLOBAL.Engineering.Platform.alex"],
            ),
            ("GLOBAL.Sales.Leads", &["GLOBAL.Sales.alex"]),
        ],
    );
    r.assign(
        "GLOBAL.Sales.alex",
        "GLOBAL.Engineering.Leads",
        "cross-functional",
    )
    .await?;
    r.nothing(Command::Assign {
        user: user("alex"),
        group: group("GLOBAL.Sales.Leads"),
    })
    .await?;
    r.mark(
        "cross",
        &[(
            "GLOBAL.Engineering.Leads",
            &["GLOBAL.Engineering.Platform.alex", "GLOBAL.Sales.alex"],
        )],
    );
    r.finish(&root.join("nested-domains"), "Namesakes in nested domains, told apart by qualified names; an ambiguous plain name writes nothing.").await?;

    // 8. Administrators: the last one cannot leave.
    let mut r = Rec::new().await?;
    r.user("root2", "GLOBAL").await?;
    r.assign("root2", "Administrators", "second admin").await?;
    r.mark(
        "two-admins",
        &[("GLOBAL.Administrators", &["GLOBAL.admin", "GLOBAL.root2"])],
    );
    r.unassign("admin", "Administrators", "handover").await?;
    r.nothing(Command::Unassign {
        user: user("root2"),
        group: group("Administrators"),
    })
    .await?;
    r.mark("one-admin", &[("GLOBAL.Administrators", &["GLOBAL.root2"])]);
    r.finish(
        &root.join("administrators"),
        "Administrators change hands; removing the last one is refused and leaves no event.",
    )
    .await?;

    // 9. rejected commands leave no trace.
    let mut r = Rec::new().await?;
    r.user("zoe", "GLOBAL").await?;
    r.group("Team", "GLOBAL").await?;
    r.mark("created", &[("GLOBAL.Team", &[])]);
    r.nothing(Command::CreateUser {
        name: name(Kind::User, "zoe"),
        domain: None,
        realname: None,
        email: None,
        password_hash: None,
    })
    .await?;
    r.nothing(Command::Assign {
        user: user("nobody"),
        group: group("Team"),
    })
    .await?;
    r.nothing(Command::Assign {
        user: user("zoe"),
        group: group("NoTeam"),
    })
    .await?;
    r.nothing(Command::DeleteGroup {
        group: group("Everyone"),
    })
    .await?;
    r.nothing(Command::CreateGroup {
        name: name(Kind::Group, "X"),
        domain: Some(Ident::parse_domain("GLOBAL.Nope")),
        summary: None,
        email: None,
    })
    .await?;
    r.assign("zoe", "Team", "finally").await?;
    r.mark("assigned", &[("GLOBAL.Team", &["GLOBAL.zoe"])]);
    r.finish(&root.join("rejected-commands"), "Duplicates, unknown names, built-in groups and unknown domains are refused without an event.").await?;

    // 10. e-mail style user names, reasons with newlines and Unicode.
    let mut r = Rec::new().await?;
    r.ok(
        Command::CreateUser {
            name: name(Kind::User, "jo.smith@example.com"),
            domain: None,
            realname: Some("Jö Smïth, Jr.".into()),
            email: Some("jo.smith@example.com".into()),
            password_hash: None,
        },
        Some("hired: see ticket #12,\nsecond line"),
    )
    .await?;
    r.ok(
        Command::CreateGroup {
            name: name(Kind::Group, "Zürich-Office"),
            domain: None,
            summary: Some("Ünïcode summary".into()),
            email: None,
        },
        None,
    )
    .await?;
    r.assign(
        "jo.smith@example.com",
        "Zürich-Office",
        "relocation → Zürich",
    )
    .await?;
    r.mark(
        "assigned",
        &[("GLOBAL.Zürich-Office", &["GLOBAL.jo.smith@example.com"])],
    );
    r.finish(
        &root.join("unicode-and-email-names"),
        "E-mail style user names with dots, Unicode names and reasons with commas and newlines.",
    )
    .await?;

    // 11. many changes in one group commit.
    let mut r = Rec::new().await?;
    r.group("Crowd", "GLOBAL").await?;
    for i in 0..20 {
        r.user(&format!("p{i}"), "GLOBAL").await?;
    }
    {
        let w = r.w.clone().expect("writer");
        let pending: Vec<_> = (0..20)
            .map(|i| {
                let w = w.clone();
                tokio::spawn(async move {
                    w.execute(Request {
                        caller: Some(ADMIN),
                        request_id: Some(format!("batch-{i}")),
                        reason: Some("bulk".into()),
                        command: Command::Assign {
                            user: user(&format!("p{i}")),
                            group: group("Crowd"),
                        },
                    })
                    .await
                })
            })
            .collect();
        for p in pending {
            p.await??;
        }
    }
    let everyone: Vec<String> = (0..20).map(|i| format!("GLOBAL.p{i}")).collect();
    let mut sorted = everyone.clone();
    sorted.sort();
    let refs: Vec<&str> = sorted.iter().map(String::as_str).collect();
    r.mark("bulk", &[("GLOBAL.Crowd", &refs)]);
    for i in (0..20).step_by(2) {
        r.unassign(&format!("p{i}"), "Crowd", "halved").await?;
    }
    let mut odd: Vec<String> = (1..20).step_by(2).map(|i| format!("GLOBAL.p{i}")).collect();
    odd.sort();
    let refs: Vec<&str> = odd.iter().map(String::as_str).collect();
    r.mark("halved", &[("GLOBAL.Crowd", &refs)]);
    r.finish(
        &root.join("group-commit-batch"),
        "Twenty concurrent assignments committed in shared batches, then half removed.",
    )
    .await?;

    // 12. only the bootstrap.
    let mut r = Rec::new().await?;
    r.mark(
        "bootstrapped",
        &[("GLOBAL.Administrators", &["GLOBAL.admin"])],
    );
    r.finish(
        &root.join("bootstrap-only"),
        "A fresh database: the built-in domain, groups and admin.",
    )
    .await?;

    // 13. a user in many groups across domains, deleted with a reason.
    let mut r = Rec::new().await?;
    r.domain("Research", "GLOBAL").await?;
    r.user("max", "GLOBAL.Research").await?;
    for g in ["R1", "R2", "R3", "R4"] {
        r.group(g, "GLOBAL.Research").await?;
        r.assign("max", &format!("GLOBAL.Research.{g}"), "research")
            .await?;
    }
    r.unassign("max", "GLOBAL.Research.R2", "moved").await?;
    r.ok(
        Command::DeleteGroup {
            group: group("GLOBAL.Research.R3"),
        },
        Some("merged"),
    )
    .await?;
    r.mark(
        "before-delete",
        &[
            ("GLOBAL.Research.R1", &["GLOBAL.Research.max"]),
            ("GLOBAL.Research.R2", &[]),
            ("GLOBAL.Research.R4", &["GLOBAL.Research.max"]),
        ],
    );
    r.ok(
        Command::DeleteUser {
            user: user("GLOBAL.Research.max"),
        },
        Some("offboarded"),
    )
    .await?;
    r.mark(
        "after-delete",
        &[("GLOBAL.Research.R1", &[]), ("GLOBAL.Research.R4", &[])],
    );
    r.finish(
        &root.join("mixed-lifecycle"),
        "Unassign, group deletion and user deletion interleaved in a subdomain.",
    )
    .await?;

    // Tampered logs, derived from the first scenario: 5 bootstrap events,
    // alice at 6, Devs at 7, then "alice added to Devs" at 8, her removal at
    // 9 and her return at 10.
    ensure!(
        base.len() == 10,
        "the base log changed shape: {} events",
        base.len()
    );
    let assigned = 8_usize; // position of the first assignment

    let mut lines = base.clone();
    lines[assigned - 1] = lines[assigned - 1].replace("GLOBAL.alice", "GLOBAL.mallory");
    tampered(
        &root.join("tampered-payload-edited"),
        &lines,
        assigned as i64,
        "stored hash does not match",
        "The payload of position 8 edited (alice replaced by mallory); its hash no longer matches.",
        None,
    )?;

    let mut lines = base.clone();
    lines.remove(assigned - 1);
    tampered(
        &root.join("tampered-line-removed"),
        &lines,
        assigned as i64,
        "expected position 8",
        "Position 8 removed: the log skips from 7 to 9.",
        None,
    )?;

    let mut lines = base.clone();
    lines.swap(assigned - 1, assigned);
    tampered(
        &root.join("tampered-lines-swapped"),
        &lines,
        assigned as i64,
        "expected position 8",
        "Positions 8 and 9 swapped.",
        None,
    )?;

    let mut lines = base.clone();
    let mut rec = parse(&lines[assigned - 1])?;
    rec.reason = Some("approved by the board".into());
    rec.hash = chain::compute_hash(&rec);
    lines[assigned - 1] = line_of(&rec)?;
    tampered(
        &root.join("tampered-rehashed-line"),
        &lines,
        assigned as i64 + 1,
        "prev_hash does not match",
        "Position 8's reason edited and its own hash recomputed: the link from position 9 breaks.",
        None,
    )?;

    // A forged tail: the first 8 events kept, then different events written
    // by a real writer; the chain holds, but a head saved at position 9
    // before the forgery no longer matches.
    let trusted = parse(&base[8])?;
    let dir = tempfile::tempdir()?;
    let head_file = dir.path().join("head.ndjson");
    std::fs::write(&head_file, base[..8].join("\n") + "\n")?;
    let db = dir.path().join("forged.db");
    export::import(&db, &head_file, None, |_| Progress::hidden())?;
    let mut conn = log::open_writer(&db)?;
    let state = projector::catch_up(&mut conn)?;
    let read = Arc::new(ReadModel::new(state.clone()));
    let (w, t) = writer::spawn(conn, state, read)?;
    for (cmd, reason) in [
        (
            Command::Unassign {
                user: user("alice"),
                group: group("Devs"),
            },
            "never happened",
        ),
        (
            Command::CreateUser {
                name: name(Kind::User, "mallory"),
                domain: None,
                realname: None,
                email: None,
                password_hash: None,
            },
            "forged",
        ),
        (
            Command::Assign {
                user: user("mallory"),
                group: group("Devs"),
            },
            "forged",
        ),
    ] {
        w.execute(Request {
            caller: Some(ADMIN),
            request_id: Some("forged".into()),
            reason: Some(reason.into()),
            command: cmd,
        })
        .await?;
    }
    drop(w);
    t.join().map_err(|_| anyhow::anyhow!("writer panicked"))?;
    let conn = log::open_reader(&db)?;
    let mut bytes = Vec::new();
    export::export(&conn, 0, &mut bytes, &Progress::hidden())?;
    let forged: Vec<String> = String::from_utf8(bytes)?
        .lines()
        .map(str::to_owned)
        .collect();
    tampered(
        &root.join("tampered-forged-tail"),
        &forged,
        trusted.seq,
        "differs from the trusted head",
        "The log after position 8 replaced by a well-chained forgery; only the head saved earlier (position 9) exposes it.",
        Some(format!("{}@{}", trusted.hash, trusted.seq)),
    )?;

    // The generated fixture: only its parameters and expectations are stored.
    let dir = root.join("generated-10k");
    std::fs::create_dir_all(&dir)?;
    let (events, seed) = (10_000, 7);
    let mut recs = Vec::new();
    let end = generate::generate(events, seed, |rec| {
        recs.push(rec.clone());
        Ok(())
    })?;
    let mut named = BTreeMap::new();
    for at in [1000_i64, 5000] {
        let mut state = State::default();
        for rec in recs.iter().take(at as usize) {
            let Ok(()) = fold(&mut state, rec, &mut NoSink);
        }
        named.insert(
            format!("position-{at}"),
            serde_json::to_value(replay::membership(&state))?,
        );
    }
    std::fs::write(
        dir.join("generate.json"),
        serde_json::to_string_pretty(&json!({"events": events, "seed": seed}))? + "\n",
    )?;
    let expected = json!({
        "description": "A deterministic generated log (rollcall generate --events 10000 --seed 7): creates, deletes, name reuse across domains, assignments and removals.",
        "final": replay::membership(&end),
        "named": named,
    });
    std::fs::write(
        dir.join("expected.json"),
        serde_json::to_string_pretty(&expected)? + "\n",
    )?;
    if recs.len() < 10_000 {
        bail!("the generated log is too short");
    }
    println!("fixtures written to {}", root.display());
    Ok(())
}
