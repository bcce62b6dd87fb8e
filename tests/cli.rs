//! The auditor's command line, run as the built binary: verify's output and
//! exit status, replay's JSON, export/import round trips, the timeline, and
//! no progress bar when stderr is not a terminal.

use std::path::Path;
use std::process::{Command, Output};

fn rollcall(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .args(args)
        .env("ROLLCALL_LOG", "warn")
        .output()
        .expect("runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("replay-fixtures")
        .join(name)
        .join("log.ndjson")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn import_verify_replay_export_and_history_from_the_command_line() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("a.db");
    let db = db.to_str().expect("utf8");
    let log = fixture("mixed-lifecycle");

    let out = rollcall(&["import", "--db", db, &log]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let head_line = text(&out.stdout).lines().nth(1).expect("HASH@N").to_owned();

    let out = rollcall(&["verify", "--db", db, "--trusted-head", &head_line]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    let n = head_line.rsplit_once('@').expect("@").1;
    assert_eq!(
        lines,
        [format!("{n} events").as_str(), head_line.as_str(), "OK"]
    );
    assert!(
        out.stderr.is_empty(),
        "no progress bar off a terminal: {}",
        text(&out.stderr)
    );

    // A trusted head that the log does not hold fails, naming the position.
    let forged = format!("{}@3", "0".repeat(64));
    let out = rollcall(&["verify", "--db", db, "--trusted-head", &forged]);
    assert!(!out.status.success());
    assert!(
        text(&out.stdout).starts_with("BAD at position 3:"),
        "{}",
        text(&out.stdout)
    );

    let out = rollcall(&["export", "--db", db]);
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout),
        std::fs::read_to_string(&log).expect("read")
    );

    let out = rollcall(&[
        "replay",
        "--db",
        db,
        "--group",
        "GLOBAL.Research.R1",
        "--until-seq",
        "14",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["position"], 14);
    assert_eq!(v["members"], serde_json::json!(["GLOBAL.Research.max"]));
    let out = rollcall(&[
        "replay",
        "--db",
        db,
        "--user",
        "GLOBAL.Research.max",
        "--until-seq",
        "14",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["groups"][0], "GLOBAL.Everyone");
    let out = rollcall(&["replay", "--db", db, "--until", "2000-01-01T00:00:00Z"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["position"], 0);

    // The deleted user's timeline, oldest first, ending with the deletion.
    let out = rollcall(&["history", "--db", db, "--user", "GLOBAL.Research.max"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("user GLOBAL.Research.max (id 2), created"),
        "{stdout}"
    );
    assert!(lines[0].contains("deleted"), "{stdout}");
    assert!(
        lines[1].contains("user GLOBAL.Research.max created"),
        "{stdout}"
    );
    assert!(
        lines[2].contains(
            "GLOBAL.Research.max added to GLOBAL.Research.R1  by GLOBAL.admin  (research)"
        ),
        "{stdout}"
    );
    assert!(
        lines
            .last()
            .expect("line")
            .contains("deleted  by GLOBAL.admin  (offboarded)"),
        "{stdout}"
    );
}

#[test]
fn a_broken_import_fails_with_the_position_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("b.db");
    let out = rollcall(&[
        "import",
        "--db",
        db.to_str().expect("utf8"),
        &fixture("tampered-payload-edited"),
    ]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("line 8 (position 8)"), "{err}");
    assert!(err.contains("nothing was imported"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
}

#[test]
fn bad_arguments_are_refused_before_anything_is_read() {
    for (head, says) in [("abc", "is not HASH@N"), ("abc@3", "not a SHA-256 hash")] {
        let out = rollcall(&["verify", "--db", "x.db", "--trusted-head", head]);
        assert!(!out.status.success());
        assert!(text(&out.stderr).contains(says), "{}", text(&out.stderr));
    }
    let out = rollcall(&["history", "--db", "x.db"]);
    assert!(!out.status.success());
    let out = rollcall(&["verify", "--db", "/nonexistent/dir/x.db"]);
    assert!(!out.status.success());
}
