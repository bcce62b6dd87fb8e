//! The dmadminweb assign/unassign calls, as the reference describes them.

use crate::helpers::spawn_app;
use serde_json::json;

async fn with_alice_and_devs() -> crate::helpers::TestApp {
    let app = spawn_app().await;
    app.create_domain("Engineering", "GLOBAL").await;
    app.create_user("alice", "GLOBAL.Engineering").await;
    app.create_group("Developers", "GLOBAL.Engineering").await;
    app
}

#[tokio::test]
async fn assign_then_unassign_changes_membership_and_records_one_event_each() {
    let app = with_alice_and_devs().await;
    let before = app.event_count();

    let v = app.compat(&app.admin, "assign/user/alice/Developers").await;
    assert_eq!(v, json!({"success": true}));
    assert_eq!(
        app.member_names("Developers").await,
        vec!["GLOBAL.Engineering.alice"]
    );
    assert_eq!(app.event_count(), before + 1);
    let (t, data) = app.events().pop().expect("an event");
    assert_eq!(t, "UserAssigned");
    assert_eq!(data["user"], "GLOBAL.Engineering.alice");
    assert_eq!(data["group"], "GLOBAL.Engineering.Developers");

    let v = app
        .compat(&app.admin, "unassign/user/alice/Developers")
        .await;
    assert_eq!(v, json!({"success": true}));
    assert!(app.member_names("Developers").await.is_empty());
    assert_eq!(app.events().pop().expect("an event").0, "UserUnassigned");
}

#[tokio::test]
async fn repeated_assign_and_unassign_of_a_non_member_succeed_without_an_event() {
    let app = with_alice_and_devs().await;
    app.compat(&app.admin, "assign/user/alice/Developers").await;
    let count = app.event_count();
    assert_eq!(
        app.compat(&app.admin, "assign/user/alice/Developers").await,
        json!({"success": true})
    );
    assert_eq!(
        app.event_count(),
        count,
        "a repeated assign records nothing"
    );
    app.compat(&app.admin, "unassign/user/alice/Developers")
        .await;
    let count = app.event_count();
    assert_eq!(
        app.compat(&app.admin, "unassign/user/alice/Developers")
            .await,
        json!({"success": true})
    );
    assert_eq!(
        app.event_count(),
        count,
        "unassigning a non-member records nothing"
    );
}

#[tokio::test]
async fn post_with_form_parameters_works_like_get_and_a_trailing_slash_is_tolerated() {
    let app = with_alice_and_devs().await;
    let res = app
        .http
        .post(app.url("/dmadminweb/API/assign/user/alice/Developers/"))
        .bearer_auth(&app.admin)
        .form(&[("reason", "joined the team")])
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<serde_json::Value>().await.expect("json"),
        json!({"success": true})
    );
    assert_eq!(app.member_names("Developers").await.len(), 1);
}

#[tokio::test]
async fn identifiers_resolve_by_id_qualified_name_plain_name_and_email_login() {
    let app = with_alice_and_devs().await;
    app.create_user("carol.jones@example.com", "GLOBAL.Engineering")
        .await;
    let bob = app.create_user("bob", "GLOBAL").await;
    let devs = app.create_group("Ops", "GLOBAL").await;

    for path in [
        format!("assign/user/{}/{}", bob["id"], devs["id"]),
        "assign/user/GLOBAL.Engineering.alice/GLOBAL.Ops".to_owned(),
        "assign/user/carol.jones@example.com/Ops".to_owned(),
        // Percent-encoding is decoded once.
        "assign/user/carol.jones%40example.com/Developers".to_owned(),
    ] {
        assert_eq!(
            app.compat(&app.admin, &path).await,
            json!({"success": true}),
            "{path}"
        );
    }
    let mut ops = app.member_names("Ops").await;
    ops.sort();
    assert_eq!(
        ops,
        vec![
            "GLOBAL.Engineering.alice",
            "GLOBAL.Engineering.carol.jones@example.com",
            "GLOBAL.bob"
        ]
    );
}

#[tokio::test]
async fn every_error_string_of_the_reference_table() {
    let app = with_alice_and_devs().await;
    // Two users named bob and two domains named Engineering make ambiguity possible.
    app.create_user("bob", "GLOBAL").await;
    app.create_user("bob", "GLOBAL.Engineering").await;
    app.create_domain("Sales", "GLOBAL").await;
    app.create_domain("Engineering", "GLOBAL.Sales").await;

    let cases = [
        ("assign/user/bob/Developers", "User bob is Ambiguous"),
        (
            "assign/user/alice/Nope",
            "Usergroup Nope Not Found or No Access",
        ),
        (
            "assign/user/nobody/Developers",
            "User nobody Not Found or No Access",
        ),
        ("assign/user/alice/42", "Usergroup with id 42 not found"),
        ("assign/user/42/Developers", "User with id 42 not found"),
        (
            "assign/user/alice/GLOBAL.Nope.Developers",
            "Domain GLOBAL.Nope Not Found or No Access",
        ),
        (
            "assign/user/alice/Engineering.Developers",
            "Domain Engineering is Ambiguous",
        ),
        (
            "assign/user/alice",
            "Path contains wrong number of elements (3)",
        ),
        (
            "assign/user/alice/Developers/extra",
            "Path contains wrong number of elements (5)",
        ),
        (
            "assign/group/alice/Developers",
            "Invalid object \"group\" for \"assign\" operation",
        ),
        (
            "unassign/group/alice/Developers",
            "Invalid object \"group\" for \"unassign\" operation",
        ),
        // 0 is a name, not an id; + is literal.
        ("assign/user/0/Developers", "User 0 Not Found or No Access"),
        (
            "assign/user/al+ice/Developers",
            "User al+ice Not Found or No Access",
        ),
        (
            "assign/user/alice/Everyone",
            "Every user is a member of Everyone: it cannot be assigned or unassigned",
        ),
        (
            "unassign/user/alice/Everyone",
            "Every user is a member of Everyone: it cannot be assigned or unassigned",
        ),
    ];
    let count = app.event_count();
    for (path, error) in cases {
        let v = app.compat(&app.admin, path).await;
        assert_eq!(v, json!({"success": false, "error": error}), "{path}");
    }
    assert_eq!(app.event_count(), count, "a rejected call leaves no trace");
}

#[tokio::test]
async fn the_user_is_resolved_before_the_group() {
    let app = with_alice_and_devs().await;
    let v = app.compat(&app.admin, "assign/user/nobody/Nothing").await;
    assert_eq!(v["error"], "User nobody Not Found or No Access");
}

#[tokio::test]
async fn a_call_without_a_valid_session_gets_login_failed() {
    let app = with_alice_and_devs().await;
    let v = app.compat_anon("assign/user/alice/Developers").await;
    assert_eq!(v, json!({"success": false, "error": "Login failed"}));
    let v = app
        .compat("not-a-token", "assign/user/alice/Developers")
        .await;
    assert_eq!(v, json!({"success": false, "error": "Login failed"}));
    assert!(app.member_names("Developers").await.is_empty());
}

#[tokio::test]
async fn the_reason_parameter_is_stored_on_the_event() {
    let app = with_alice_and_devs().await;
    app.compat(
        &app.admin,
        "assign/user/alice/Developers?reason=on-call%20rotation",
    )
    .await;
    let conn = rusqlite::Connection::open(&app.db).expect("db");
    let (reason, actor): (Option<String>, Option<i64>) = conn
        .query_row(
            "SELECT reason, actor FROM events ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("row");
    assert_eq!(reason.as_deref(), Some("on-call rotation"));
    assert_eq!(actor, Some(1));
}

#[tokio::test]
async fn state_survives_a_restart() {
    let mut app = with_alice_and_devs().await;
    app.compat(&app.admin, "assign/user/alice/Developers").await;
    app.restart().await;
    // Sessions survive a restart too.
    assert_eq!(
        app.member_names("Developers").await,
        vec!["GLOBAL.Engineering.alice"]
    );
    let v = app
        .compat(&app.admin, "unassign/user/alice/Developers")
        .await;
    assert_eq!(v, json!({"success": true}));
    app.restart().await;
    assert!(app.member_names("Developers").await.is_empty());
    app.stop().await;
}
