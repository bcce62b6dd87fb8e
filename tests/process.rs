//! The real `rollcall` binary as an operator runs it: killed with SIGKILL at
//! random moments, stopped with SIGTERM mid-write, started on files it must
//! refuse, backed up while serving, and its logs read for secrets.

#[path = "common/mod.rs"]
mod common;

use common::check_store;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ADMIN_PASSWORD: &str = "admin-password-process-1";
const BIN: &str = env!("CARGO_BIN_EXE_rollcall");

struct Server {
    child: Child,
    addr: SocketAddr,
    /// Everything the process wrote to stderr so far.
    log: Arc<Mutex<String>>,
}

/// Starts `rollcall serve` on `db` at a free port; waits until it listens.
fn start(db: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(db)
        .args(extra)
        .env("ROLLCALL_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("ROLLCALL_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn rollcall");
    let stderr = child.stderr.take().expect("stderr");
    let log = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("rollcall listening") {
                if let Some(addr) = listening_addr(&line) {
                    let _ = tx.send(addr);
                }
            }
            let mut l = sink.lock().expect("log");
            l.push_str(&line);
            l.push('\n');
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("rollcall did not start: {}", log.lock().expect("log")));
    Server { child, addr, log }
}

/// The address in a "rollcall listening" line, text or JSON.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let rest = &line[line.find("addr")? + 4..];
    let rest = rest.trim_start_matches(['=', '"', ':']);
    let end = rest
        .find(|c: char| c == '"' || c.is_whitespace())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(ok.success());
    }

    fn wait(&mut self, within: Duration) -> ExitStatus {
        let until = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < until, "rollcall did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn log(&self) -> String {
        self.log.lock().expect("log").clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

async fn login(http: &reqwest::Client, s: &Server, user: &str, password: &str) -> String {
    let v: Value = http
        .post(s.url("/api/v1/sessions"))
        .json(&json!({"user": user, "password": password}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    v["token"].as_str().expect("token").to_owned()
}

// ---- crashes -------------------------------------------------------------------------

/// One write a client sent, and what (if anything) it was answered.
#[derive(Debug)]
struct Sent {
    request_id: String,
    what: String,
    /// None: no answer (the server died first).
    status: Option<u16>,
    body: Value,
}

/// A random write on a small, shared set of names, so clients collide.
fn random_write(rng: &mut impl Rng) -> (reqwest::Method, String, Option<Value>) {
    let u = format!("u{}", rng.gen_range(0..8));
    let g = format!("g{}", rng.gen_range(0..5));
    match rng.gen_range(0..10) {
        0 => (
            reqwest::Method::POST,
            "/api/v1/users".into(),
            Some(json!({"name": u})),
        ),
        1 => (
            reqwest::Method::POST,
            "/api/v1/groups".into(),
            Some(json!({"name": g})),
        ),
        2 => (reqwest::Method::DELETE, format!("/api/v1/users/{u}"), None),
        3 => (reqwest::Method::DELETE, format!("/api/v1/groups/{g}"), None),
        4..=6 => (
            reqwest::Method::PUT,
            format!("/api/v1/groups/{g}/members/{u}"),
            None,
        ),
        _ => (
            reqwest::Method::DELETE,
            format!("/api/v1/groups/{g}/members/{u}"),
            None,
        ),
    }
}

/// Clients send random writes until the server stops answering.
async fn drive(
    s: &Server,
    token: &str,
    tag: &str,
    clients: usize,
) -> Vec<tokio::task::JoinHandle<Vec<Sent>>> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    (0..clients)
        .map(|c| {
            let (http, token, base) = (http.clone(), token.to_owned(), s.url(""));
            let tag = format!("{tag}-c{c}");
            tokio::spawn(async move {
                let mut sent = Vec::new();
                let mut rng = rand::rngs::StdRng::from_entropy();
                for n in 0.. {
                    let (method, path, body) = random_write(&mut rng);
                    let request_id = format!("{tag}-{n}");
                    let mut req = http
                        .request(method.clone(), format!("{base}{path}"))
                        .bearer_auth(&token)
                        .header("x-request-id", &request_id);
                    if let Some(b) = &body {
                        req = req.json(b);
                    }
                    let what = format!("{method} {path} {}", body.unwrap_or(Value::Null));
                    match req.send().await {
                        Ok(res) => {
                            let status = res.status().as_u16();
                            let body = res.json().await.unwrap_or(Value::Null);
                            sent.push(Sent {
                                request_id,
                                what,
                                status: Some(status),
                                body,
                            });
                        }
                        Err(_) => {
                            sent.push(Sent {
                                request_id,
                                what,
                                status: None,
                                body: Value::Null,
                            });
                            break;
                        }
                    }
                }
                sent
            })
        })
        .collect()
}

/// (seq, event_type) of the events carrying `request_id`.
fn events_with(conn: &rusqlite::Connection, request_id: &str) -> Vec<(i64, String)> {
    conn.prepare_cached("SELECT seq, event_type FROM events WHERE request_id = ?1")
        .expect("prepare")
        .query_map([request_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

/// Every answered write agrees with the log: a change acknowledged is there
/// (at the position it was answered with), anything else left no trace.
fn check_answers(db: &Path, sent: &[Sent]) -> usize {
    let conn = rusqlite::Connection::open(db).expect("open");
    let mut acknowledged = 0;
    for s in sent {
        let events = events_with(&conn, &s.request_id);
        let Some(status) = s.status else {
            assert!(events.len() <= 1, "{s:?}: {events:?}");
            continue;
        };
        assert!(status < 500, "{s:?}");
        let changed = match status {
            201 | 204 => true,
            200 => s.body["changed"].as_bool().expect("changed"),
            _ => false,
        };
        if changed {
            acknowledged += 1;
            assert_eq!(
                events.len(),
                1,
                "acknowledged but not in the log: {}: {s:?}",
                s.what
            );
            if let Some(position) = s.body["position"].as_i64() {
                assert_eq!(events[0].0, position, "{s:?}");
            }
        } else {
            assert!(
                events.is_empty(),
                "refused or no-op, yet logged: {s:?} {events:?}"
            );
        }
    }
    acknowledged
}

#[test]
fn sigkill_at_random_moments_loses_nothing_acknowledged_and_leaves_nothing_half_written() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("crash.db");
    let rt = runtime();
    let mut rng = rand::thread_rng();
    let mut token = String::new();
    let mut acknowledged = 0;
    for round in 0..20 {
        let mut server = start(&db, &[], &[]);
        rt.block_on(async {
            if round == 0 {
                token = login(&reqwest::Client::new(), &server, "admin", ADMIN_PASSWORD).await;
            }
            let clients = drive(&server, &token, &format!("r{round}"), 8).await;
            tokio::time::sleep(Duration::from_millis(rng.gen_range(20..300))).await;
            server.child.kill().expect("SIGKILL");
            let mut sent = Vec::new();
            for c in clients {
                sent.extend(c.await.expect("client"));
            }
            server.wait(Duration::from_secs(10));
            // Before anything starts again: the file as the crash left it.
            check_store(&db);
            acknowledged += check_answers(&db, &sent);
        });
    }
    eprintln!("{acknowledged} acknowledged changes checked across 20 SIGKILLs");
    assert!(
        acknowledged > 20,
        "too few writes got through to test anything"
    );
    // And it starts again after all that.
    let s = start(&db, &[], &[]);
    drop(s);
}

#[test]
fn sigterm_finishes_writes_in_flight_then_exits_0() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("term.db");
    let rt = runtime();
    let mut server = start(&db, &[], &[]);
    let http = reqwest::Client::new();
    let token = rt.block_on(login(&http, &server, "admin", ADMIN_PASSWORD));
    // Hold SQLite's write lock from here, so the writes below wait in the
    // writer: certainly in flight when the signal comes.
    let lock = rusqlite::Connection::open(&db).expect("open");
    lock.execute_batch("BEGIN IMMEDIATE").expect("lock");
    let answers = rt.block_on(async {
        let calls: Vec<_> = (0..12)
            .map(|i| {
                let (http, url, token) = (http.clone(), server.url("/api/v1/users"), token.clone());
                tokio::spawn(async move {
                    let res = http
                        .post(url)
                        .bearer_auth(token)
                        .json(&json!({"name": format!("late{i}")}))
                        .send()
                        .await;
                    res.map(|r| r.status().as_u16()).map_err(|e| e.to_string())
                })
            })
            .collect();
        // Wait until the server has all twelve in hand (the metrics say so).
        let until = Instant::now() + Duration::from_secs(3);
        loop {
            let text = http
                .get(server.url("/metrics"))
                .send()
                .await
                .expect("metrics")
                .text()
                .await
                .expect("text");
            let in_flight = text
                .lines()
                .find_map(|l| l.strip_prefix("rollcall_http_requests_in_flight "))
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(0)
                - 1; // this scrape
            if in_flight >= 12 {
                break;
            }
            assert!(Instant::now() < until, "only {in_flight} in flight");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        server.signal("-TERM");
        tokio::time::sleep(Duration::from_millis(200)).await;
        lock.execute_batch("ROLLBACK").expect("unlock");
        let mut answers = Vec::new();
        for c in calls {
            answers.push(c.await.expect("task"));
        }
        answers
    });
    let status = server.wait(Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "{}", server.log());
    assert!(
        answers.iter().all(|a| *a == Ok(201)),
        "every write in flight was answered: {answers:?}"
    );
    let state = check_store(&db);
    assert_eq!(state.user_count(), 1 + 12);
}

#[test]
fn sigterm_at_random_moments_exits_0_and_keeps_every_acknowledged_write() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("term-random.db");
    let rt = runtime();
    let mut rng = rand::thread_rng();
    let mut token = String::new();
    for round in 0..5 {
        let mut server = start(&db, &[], &[]);
        let sent = rt.block_on(async {
            if round == 0 {
                token = login(&reqwest::Client::new(), &server, "admin", ADMIN_PASSWORD).await;
            }
            let clients = drive(&server, &token, &format!("t{round}"), 8).await;
            tokio::time::sleep(Duration::from_millis(rng.gen_range(20..300))).await;
            server.signal("-TERM");
            let mut sent = Vec::new();
            for c in clients {
                sent.extend(c.await.expect("client"));
            }
            sent
        });
        let status = server.wait(Duration::from_secs(30));
        assert_eq!(status.code(), Some(0), "{}", server.log());
        check_store(&db);
        check_answers(&db, &sent);
    }
}

// ---- files it must refuse ------------------------------------------------------------

/// Runs `serve` on `db`, which must fail; returns its stderr.
fn refused(db: &Path) -> String {
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(db)
        .env("ROLLCALL_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .output()
        .expect("run");
    assert!(!out.status.success(), "started on {}", db.display());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn refused_untouched(db: &Path, expect: &str) {
    let before = std::fs::read(db).expect("read");
    let err = refused(db);
    assert!(err.contains(expect), "wanted {expect:?} in:\n{err}");
    assert!(
        std::fs::read(db).expect("read") == before,
        "the file changed"
    );
}

/// A database made by the real binary, with a little history, stopped cleanly.
fn made_database(dir: &Path) -> PathBuf {
    let db = dir.join("made.db");
    let mut s = start(&db, &[], &[]);
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let token = login(&http, &s, "admin", ADMIN_PASSWORD).await;
        for name in ["alice", "bob"] {
            let res = http
                .post(s.url("/api/v1/users"))
                .bearer_auth(&token)
                .json(&json!({"name": name}))
                .send()
                .await
                .expect("create");
            assert_eq!(res.status(), 201);
        }
    });
    s.signal("-TERM");
    assert_eq!(s.wait(Duration::from_secs(30)).code(), Some(0));
    db
}

/// Copies a stopped database and its views file.
fn copy_db(from: &Path, to: &Path) {
    std::fs::copy(from, to).expect("copy");
    let views = rollcall::views::file::path_for;
    std::fs::copy(views(from), views(to)).expect("copy the views");
}

/// Runs SQL on `db` with the append-only triggers lifted for the moment.
fn tamper(db: &Path, sql: &str) {
    let c = rusqlite::Connection::open(db).expect("open");
    let triggers: Vec<String> = c
        .prepare("SELECT sql FROM sqlite_schema WHERE type = 'trigger'")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    c.execute_batch(
        "DROP TRIGGER events_are_append_only_update; DROP TRIGGER events_are_append_only_delete;",
    )
    .expect("drop triggers");
    c.execute_batch(sql).expect("tamper");
    for t in triggers {
        c.execute_batch(&t).expect("restore trigger");
    }
    // Fold the write-ahead log into the file so its bytes are final.
    c.pragma_update(None, "journal_mode", "DELETE")
        .expect("checkpoint");
}

#[test]
fn files_that_are_not_rollcall_databases_or_are_newer_are_refused_untouched() {
    let dir = tempfile::tempdir().expect("dir");
    let text = dir.path().join("notes.txt");
    std::fs::write(
        &text,
        "not a database at all, just some notes.\n".repeat(50),
    )
    .expect("write");
    refused_untouched(&text, "is not a SQLite database");

    let other = dir.path().join("other.db");
    let c = rusqlite::Connection::open(&other).expect("open");
    c.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .expect("make");
    drop(c);
    refused_untouched(&other, "is not a rollcall database");

    let newer = made_database(dir.path());
    let c = rusqlite::Connection::open(&newer).expect("open");
    c.pragma_update(None, "user_version", 99).expect("bump");
    c.pragma_update(None, "journal_mode", "DELETE")
        .expect("checkpoint");
    drop(c);
    refused_untouched(&newer, "newer than this rollcall understands");
}

#[test]
fn a_broken_chain_is_refused_at_start_untouched() {
    let dir = tempfile::tempdir().expect("dir");
    let db = made_database(dir.path());
    let head: i64 = rusqlite::Connection::open(&db)
        .expect("open")
        .query_row("SELECT max(seq) FROM events", [], |r| r.get(0))
        .expect("head");

    // An edited event: its hash no longer covers its contents.
    let edited = dir.path().join("edited.db");
    copy_db(&db, &edited);
    tamper(
        &edited,
        &format!("UPDATE events SET reason = 'forged' WHERE seq = {head}"),
    );
    refused_untouched(
        &edited,
        &format!(
            "the event log is damaged: position {head}: stored hash does not match its contents"
        ),
    );

    // The last event cut off: the views are ahead of the log.
    let cut = dir.path().join("cut.db");
    copy_db(&db, &cut);
    tamper(&cut, &format!("DELETE FROM events WHERE seq = {head}"));
    refused_untouched(
        &cut,
        &format!(
            "the views are at position {head} but the log ends at position {}",
            head - 1
        ),
    );

    // An event rewritten with a fresh hash: the next link breaks instead.
    let relinked = dir.path().join("relinked.db");
    copy_db(&db, &relinked);
    tamper(
        &relinked,
        &format!(
            "UPDATE events SET hash = '{}' WHERE seq = {head}",
            "f".repeat(64)
        ),
    );
    refused_untouched(&relinked, "the event log is damaged");
}

// ---- backup --------------------------------------------------------------------------

#[test]
fn a_backup_taken_while_serving_verifies_and_serves() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("live.db");
    let copy = dir.path().join("copy.db");
    let server = start(&db, &[], &[]);
    let rt = runtime();
    let token = rt.block_on(login(
        &reqwest::Client::new(),
        &server,
        "admin",
        ADMIN_PASSWORD,
    ));
    let writers = rt.block_on(drive(&server, &token, "b", 4));
    std::thread::sleep(Duration::from_millis(150));
    let out = Command::new(BIN)
        .args(["backup", "--db"])
        .arg(&db)
        .arg(&copy)
        .output()
        .expect("backup");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("hash chain and views checked"));
    // A second backup to the same place is refused rather than overwriting.
    let again = Command::new(BIN)
        .args(["backup", "--db"])
        .arg(&db)
        .arg(&copy)
        .output()
        .expect("backup");
    assert!(!again.status.success());
    drop(server);
    for w in writers {
        rt.block_on(w).expect("writer");
    }

    let state = check_store(&copy);
    assert!(state.head.seq > 0);
    // The copy is a prefix of the live log, event for event.
    let live = rusqlite::Connection::open(&db).expect("open");
    let backup = rusqlite::Connection::open(&copy).expect("open");
    let hash_at = |c: &rusqlite::Connection, seq: i64| -> String {
        c.query_row("SELECT hash FROM events WHERE seq = ?1", [seq], |r| {
            r.get(0)
        })
        .expect("hash")
    };
    assert_eq!(
        hash_at(&live, state.head.seq),
        hash_at(&backup, state.head.seq)
    );
    // Restoring is starting on the copy.
    let restored = start(&copy, &[], &[]);
    let v: Value = rt.block_on(async {
        reqwest::get(restored.url("/readyz"))
            .await
            .expect("readyz")
            .json()
            .await
            .expect("json")
    });
    assert_eq!(v["ready"], true, "{v}");
    assert_eq!(v["log_head"], state.head.seq);
}

// ---- logs ----------------------------------------------------------------------------

#[test]
fn logs_carry_request_ids_and_never_secrets() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("logs.db");
    let mut server = start(&db, &["--log-format", "json"], &[("ROLLCALL_LOG", "debug")]);
    let user_password = "users-own-password-8231";
    let wrong_password = "a-wrong-password-5517";
    let password_as_name = "typed-the-password-here-9904";
    let tokens = runtime().block_on(async {
        let http = reqwest::Client::new();
        // The compat login carries the password in the query string.
        let v: Value = http
            .get(server.url(&format!(
                "/dmadminweb/API/login?user=admin&pass={ADMIN_PASSWORD}"
            )))
            .send()
            .await
            .expect("login")
            .json()
            .await
            .expect("json");
        let admin = v["token"].as_str().expect("token").to_owned();
        let res = http
            .post(server.url("/api/v1/users"))
            .header("cookie", format!("token={admin}"))
            .header("x-request-id", "create-carol-1")
            .json(&json!({"name": "carol", "password": user_password}))
            .send()
            .await
            .expect("create");
        assert_eq!(res.status(), 201);
        let carol = login(&http, &server, "carol", user_password).await;
        for (user, pass) in [
            ("carol", wrong_password),
            (password_as_name, wrong_password),
        ] {
            let res = http
                .post(server.url("/api/v1/sessions"))
                .header("x-request-id", "bad-login-7")
                .json(&json!({"user": user, "password": pass}))
                .send()
                .await
                .expect("login");
            assert_eq!(res.status(), 401);
        }
        let res = http
            .delete(server.url("/api/v1/sessions/current"))
            .bearer_auth(&carol)
            .send()
            .await
            .expect("logout");
        assert_eq!(res.status(), 204);
        vec![admin, carol]
    });
    server.signal("-TERM");
    assert_eq!(server.wait(Duration::from_secs(30)).code(), Some(0));
    let log = server.log();

    for secret in [
        ADMIN_PASSWORD,
        user_password,
        wrong_password,
        password_as_name,
    ]
    .into_iter()
    .chain(tokens.iter().map(String::as_str))
    {
        assert!(!log.contains(secret), "{secret:?} appears in the log");
    }
    // Every line is a JSON object; the lines of a request carry its id.
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let of = |id: &str| -> Vec<&Value> { lines.iter().filter(|l| l["span"]["id"] == id).collect() };
    let create = of("create-carol-1");
    assert!(
        create
            .iter()
            .any(|l| l["fields"]["message"] == "answered" && l["fields"]["status"] == 201),
        "{create:?}"
    );
    let bad = of("bad-login-7");
    assert_eq!(
        bad.iter()
            .filter(|l| l["fields"]["message"] == "login failed")
            .count(),
        2,
        "{bad:?}"
    );
    // The line for a request outside any span would have no id: none of the
    // request's own lines are like that.
    assert!(lines
        .iter()
        .filter(|l| l["fields"]["message"] == "login failed")
        .all(|l| l["span"]["id"].is_string()));
}

/// At the default `info` level a read that went well leaves no line, so a
/// busy read path costs no logging; changes (compat GET ones included),
/// refusals and errors each leave their `answered` line with the request id.
#[test]
fn at_info_only_changes_and_refusals_are_logged_per_request() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("levels.db");
    let mut server = start(&db, &["--log-format", "json"], &[]);
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let admin = login(&http, &server, "admin", ADMIN_PASSWORD).await;
        let send = |method: reqwest::Method, path: &str, id: &str| {
            http.request(method, server.url(path))
                .bearer_auth(&admin)
                .header("x-request-id", id)
        };
        let res = send(reqwest::Method::POST, "/api/v1/groups", "write-json-1")
            .json(&json!({"name": "Developers"}))
            .send()
            .await
            .expect("create");
        assert_eq!(res.status(), 201);
        for (path, id, status) in [
            ("/api/v1/groups/Developers", "read-ok-2", 200),
            ("/api/v1/users/admin/groups", "read-ok-3", 200),
            (
                "/api/v1/check?user=admin&object=domain:GLOBAL&permission=view",
                "read-ok-4",
                200,
            ),
            ("/api/v1/groups/Nobody", "read-missing-5", 404),
            (
                "/dmadminweb/API/assign/user/admin/Developers",
                "write-compat-6",
                200,
            ),
            ("/dmadminweb/API/list/groups", "read-compat-7", 200),
        ] {
            let res = send(reqwest::Method::GET, path, id)
                .send()
                .await
                .expect("get");
            assert_eq!(res.status(), status, "{path}");
        }
    });
    server.signal("-TERM");
    assert_eq!(server.wait(Duration::from_secs(30)).code(), Some(0));
    let log = server.log();
    let answered: Vec<(String, i64)> = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .filter(|l| l["fields"]["message"] == "answered")
        .map(|l| {
            (
                l["span"]["id"].as_str().unwrap_or("").to_owned(),
                l["fields"]["status"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    let ids: Vec<&str> = answered
        .iter()
        .map(|(id, _)| id.as_str())
        .filter(|id| !id.is_empty())
        .collect();
    for logged in ["write-json-1", "read-missing-5", "write-compat-6"] {
        assert!(ids.contains(&logged), "{logged} missing from {answered:?}");
    }
    for quiet in ["read-ok-2", "read-ok-3", "read-ok-4", "read-compat-7"] {
        assert!(
            !ids.contains(&quiet),
            "{quiet} logged at info: {answered:?}"
        );
    }
    assert!(answered.contains(&("read-missing-5".to_owned(), 404)));
}
