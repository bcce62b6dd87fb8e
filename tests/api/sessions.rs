//! Login, logout, cookies and bearer tokens.

use crate::helpers::{spawn_app, ADMIN_PASSWORD};
use serde_json::json;

#[tokio::test]
async fn login_answers_a_token_and_an_httponly_samesite_strict_cookie() {
    let app = spawn_app().await;
    let res = app
        .http
        .get(app.url(&format!(
            "/dmadminweb/API/login?user=admin&pass={ADMIN_PASSWORD}"
        )))
        .send()
        .await
        .expect("request");
    let cookie = res
        .headers()
        .get("set-cookie")
        .expect("a cookie")
        .to_str()
        .expect("ascii")
        .to_owned();
    let body: serde_json::Value = res.json().await.expect("json");
    let token = body["token"].as_str().expect("token");
    assert!(token.len() >= 32, "at least 128 bits");
    assert_eq!(
        cookie,
        format!("token={token}; Path=/; HttpOnly; SameSite=Strict")
    );

    // The cookie authenticates like the bearer token does.
    let v: serde_json::Value = app
        .http
        .get(app.url("/dmadminweb/API/assign/user/admin/Administrators"))
        .header("cookie", format!("token={token}"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(v, json!({"success": true}));
}

#[tokio::test]
async fn login_errors_match_the_reference() {
    let app = spawn_app().await;
    for (query, error) in [
        ("login", "user must be specified"),
        ("login?user=admin", "password must be specified"),
        ("login?user=admin&pass=wrong", "Login failed"),
        ("login?user=nobody&pass=whatever", "Login failed"),
        ("login?user=1&pass=admin-password-1", "Login failed"),
    ] {
        assert_eq!(
            app.compat_anon(query).await,
            json!({"success": false, "error": error}),
            "{query}"
        );
    }
}

#[tokio::test]
async fn tokens_are_stored_only_as_hashes() {
    let app = spawn_app().await;
    let conn = rusqlite::Connection::open(&app.db).expect("db");
    let stored: Vec<String> = conn
        .prepare("SELECT token_hash FROM sessions")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], app.admin);
    assert_eq!(stored[0], rollcall::auth::sessions::hash_token(&app.admin));
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    let token = app.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(app.compat(&token, "logout").await, json!({"success": true}));
    let v = app.compat(&token, "assign/user/admin/Administrators").await;
    assert_eq!(v, json!({"success": false, "error": "Login failed"}));
    // Other sessions are untouched.
    let v = app
        .compat(&app.admin, "assign/user/admin/Administrators")
        .await;
    assert_eq!(v["success"], true);
}

#[tokio::test]
async fn the_json_api_logs_in_and_out_too() {
    let app = spawn_app().await;
    let (s, v) = app
        .post(
            "",
            "/api/v1/sessions",
            json!({"user": "admin", "password": ADMIN_PASSWORD}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let token = v["token"].as_str().expect("token").to_owned();
    let (s, _) = app.get(&token, "/api/v1/users/admin").await;
    assert_eq!(s, 200);
    let (s, _) = app.delete(&token, "/api/v1/sessions/current").await;
    assert_eq!(s, 204);
    let (s, v) = app.get(&token, "/api/v1/users/admin").await;
    assert_eq!(s, 401);
    assert_eq!(v, json!({"error": "authentication required"}));
    let (s, _) = app
        .post(
            "",
            "/api/v1/sessions",
            json!({"user": "admin", "password": "nope"}),
        )
        .await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn a_deleted_users_sessions_stop_working() {
    let app = spawn_app().await;
    app.create_user("dave", "GLOBAL").await;
    let dave = app.login("dave", "dave-password").await;
    let (s, _) = app.get(&dave, "/api/v1/users/dave").await;
    assert_eq!(s, 200);
    let (s, _) = app.delete(&app.admin, "/api/v1/users/dave").await;
    assert_eq!(s, 204);
    let (s, _) = app.get(&dave, "/api/v1/users/admin").await;
    assert_eq!(s, 401);
}
