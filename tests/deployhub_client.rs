//! The real `deployhub` Python client (from PyPI) against rollcall: its
//! `login()` and `get_json()` must work unchanged.
//!
//! The client is installed into a virtualenv under the target directory the
//! first time (pinned in tests/python/requirements.txt), so this needs
//! `python3` with `venv` and access to PyPI once; CI has both.

use std::path::{Path, PathBuf};
use std::process::Command;

use rollcall::app::Application;
use rollcall::config::Config;

const ADMIN_PASSWORD: &str = "admin-password-for-python";

/// A virtualenv with the pinned client, made once and reused.
fn venv_python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("deployhub-venv");
    let python = venv.join("bin/python");
    let requirements = root.join("tests/python/requirements.txt");
    let stamp = venv.join("installed-requirements.txt");
    let wanted = std::fs::read_to_string(&requirements).expect("requirements");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return python;
    }
    let run = |cmd: &mut Command| {
        let out = cmd.output().expect("python3 is installed");
        assert!(
            out.status.success(),
            "{cmd:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(Command::new("python3").arg("-m").arg("venv").arg(&venv));
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&requirements));
    std::fs::write(&stamp, wanted).expect("stamp");
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deployhub_client_logs_in_assigns_unassigns_and_reads() {
    let python = tokio::task::spawn_blocking(venv_python)
        .await
        .expect("venv");

    let dir = tempfile::tempdir().expect("dir");
    let mut config = Config::new(dir.path().join("r.db"), "127.0.0.1:0");
    config.admin_password = Some(ADMIN_PASSWORD.into());
    let app = Application::build(config).await.expect("app");
    let base = format!("http://{}", app.local_addr().expect("addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));

    // Set up through the JSON API: a domain, alice, Developers.
    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(format!("{base}/api/v1/sessions"))
        .json(&serde_json::json!({"user": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let token = token["token"].as_str().expect("token").to_owned();
    for (path, body) in [
        (
            "/api/v1/domains",
            serde_json::json!({"name": "Engineering"}),
        ),
        (
            "/api/v1/users",
            serde_json::json!({"name": "alice", "domain": "GLOBAL.Engineering"}),
        ),
        (
            "/api/v1/groups",
            serde_json::json!({"name": "Developers", "domain": "GLOBAL.Engineering"}),
        ),
    ] {
        let res = http
            .post(format!("{base}{path}"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .expect("create");
        assert_eq!(res.status(), 201);
    }

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/deployhub_client.py");
    let b = base.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .arg(b)
            .arg(ADMIN_PASSWORD)
            .output()
    })
    .await
    .expect("join")
    .expect("python runs");
    assert!(
        out.status.success(),
        "client script failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("script prints JSON");

    assert_eq!(v["bad_login"], true);
    assert_eq!(v["bad_login_errors"], serde_json::json!(["Login failed"]));
    assert_eq!(v["login_ok"], true, "{v}");
    assert_eq!(v["assign"], serde_json::json!({"success": true}));
    assert_eq!(v["assign_again"], serde_json::json!({"success": true}));
    assert_eq!(v["user"]["result"]["name"], "alice");
    let alice = v["list_users"]["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["name"] == "alice")
        .cloned()
        .expect("alice listed");
    assert_eq!(
        alice["groups"],
        serde_json::json!(["Developers"]),
        "alice was in Developers before the unassign"
    );
    assert_eq!(
        v["unknown_group"],
        serde_json::json!({"success": false, "error": "Usergroup Nope Not Found or No Access"})
    );
    assert_eq!(v["unassign"], serde_json::json!({"success": true}));
    assert_eq!(
        v["no_session"],
        serde_json::json!({"success": false, "error": "Login failed"})
    );

    // The server agrees: alice was assigned once and unassigned once.
    let members: serde_json::Value = http
        .get(format!("{base}/api/v1/groups/Developers/members"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("members")
        .json()
        .await
        .expect("json");
    assert_eq!(members["members"], serde_json::json!([]));
    let _ = stop.send(());
    server.await.expect("join").expect("clean stop");
    let conn = rusqlite::Connection::open(dir.path().join("r.db")).expect("db");
    let kinds: Vec<String> = conn
        .prepare("SELECT event_type FROM events WHERE event_type IN ('UserAssigned','UserUnassigned') AND seq > 5 ORDER BY seq")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(kinds, vec!["UserAssigned", "UserUnassigned"]);
}
