//! The JSON API under /api/v1.

use crate::helpers::spawn_app;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn creating_objects_answers_201_with_their_qualified_names() {
    let app = spawn_app().await;
    let d = app.create_domain("Engineering", "GLOBAL").await;
    assert_eq!(
        d,
        json!({"id": 2, "name": "Engineering", "domain": "GLOBAL", "qualified_name": "GLOBAL.Engineering"})
    );
    let sub = app.create_domain("Platform", "GLOBAL.Engineering").await;
    assert_eq!(sub["qualified_name"], "GLOBAL.Engineering.Platform");
    let u = app
        .create_user("alice", "GLOBAL.Engineering.Platform")
        .await;
    assert_eq!(u["qualified_name"], "GLOBAL.Engineering.Platform.alice");
    // The domain defaults to GLOBAL.
    let (s, g) = app
        .post(&app.admin, "/api/v1/groups", json!({"name": "Ops"}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(g["qualified_name"], "GLOBAL.Ops");
}

#[tokio::test]
async fn duplicates_are_409_and_bad_input_is_400_or_422() {
    let app = spawn_app().await;
    app.create_group("Ops", "GLOBAL").await;
    let count = app.event_count();
    let (s, v) = app
        .post(&app.admin, "/api/v1/groups", json!({"name": "Ops"}))
        .await;
    assert_eq!(
        (s, v),
        (
            StatusCode::CONFLICT,
            json!({"error": "Usergroup Ops already exists in GLOBAL"})
        )
    );
    for body in [
        json!({"name": ""}),
        json!({"name": "a.b"}),
        json!({"name": "123"}),
        json!({"name": 7}),
        json!({"nom": "x"}),
        json!({"name": "x", "colour": "red"}),
    ] {
        let (s, v) = app.post(&app.admin, "/api/v1/groups", body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body} -> {v}");
        assert!(v["error"].is_string());
    }
    let res = app
        .http
        .post(app.url("/api/v1/groups"))
        .bearer_auth(&app.admin)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let (s, _) = app
        .post(
            &app.admin,
            "/api/v1/users",
            json!({"name": "eve", "password": "short"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/groups",
            json!({"name": "X", "domain": "GLOBAL.Nope"}),
        )
        .await;
    assert_eq!(
        (s, v),
        (
            StatusCode::NOT_FOUND,
            json!({"error": "Domain GLOBAL.Nope Not Found or No Access"})
        )
    );
    assert_eq!(app.event_count(), count, "nothing rejected was written");
}

#[tokio::test]
async fn put_and_delete_membership_answer_changed_and_position() {
    let app = spawn_app().await;
    app.create_user("alice", "GLOBAL").await;
    app.create_group("Ops", "GLOBAL").await;
    let head = app.event_count() as i64;
    let (s, v) = app
        .put(&app.admin, "/api/v1/groups/Ops/members/alice")
        .await;
    assert_eq!(
        (s, v),
        (
            StatusCode::OK,
            json!({"changed": true, "position": head + 1})
        )
    );
    let (s, v) = app
        .put(&app.admin, "/api/v1/groups/Ops/members/alice")
        .await;
    assert_eq!(
        (s, v),
        (
            StatusCode::OK,
            json!({"changed": false, "position": head + 1})
        )
    );
    let (s, v) = app
        .api(
            reqwest::Method::DELETE,
            &app.admin,
            "/api/v1/groups/Ops/members/alice",
            Some(json!({"reason": "left"})),
        )
        .await;
    assert_eq!(
        (s, v),
        (
            StatusCode::OK,
            json!({"changed": true, "position": head + 2})
        )
    );
    let (s, v) = app
        .delete(&app.admin, "/api/v1/groups/Ops/members/alice")
        .await;
    assert_eq!(
        (s, v),
        (
            StatusCode::OK,
            json!({"changed": false, "position": head + 2})
        )
    );
    let (s, v) = app
        .put(&app.admin, "/api/v1/groups/Nope/members/alice")
        .await;
    assert_eq!(
        (s, v),
        (
            StatusCode::NOT_FOUND,
            json!({"error": "Usergroup Nope Not Found or No Access"})
        )
    );
    let (s, _) = app
        .put(&app.admin, "/api/v1/groups/Everyone/members/alice")
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn listing_members_and_groups_in_both_directions() {
    let app = spawn_app().await;
    app.create_group("Ops", "GLOBAL").await;
    for u in ["u1", "u2", "u3"] {
        app.create_user(u, "GLOBAL").await;
        app.put(&app.admin, &format!("/api/v1/groups/Ops/members/{u}"))
            .await;
    }
    assert_eq!(
        app.member_names("Ops").await,
        vec!["GLOBAL.u1", "GLOBAL.u2", "GLOBAL.u3"]
    );
    let (_, v) = app.get(&app.admin, "/api/v1/users/u2/groups").await;
    let groups: Vec<&str> = v["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    assert_eq!(groups, vec!["Everyone", "Ops"]);

    // Pages of 2 with a cursor cover everyone exactly once.
    let (_, p1) = app
        .get(&app.admin, "/api/v1/groups/Ops/members?limit=2")
        .await;
    assert_eq!(p1["members"].as_array().map(Vec::len), Some(2));
    let cursor = p1["next_cursor"].as_str().expect("a next page");
    let (_, p2) = app
        .get(
            &app.admin,
            &format!("/api/v1/groups/Ops/members?limit=2&cursor={cursor}"),
        )
        .await;
    assert_eq!(p2["members"][0]["name"], "u3");
    assert_eq!(p2["next_cursor"], serde_json::Value::Null);
    let (s, _) = app
        .get(&app.admin, "/api/v1/groups/Ops/members?cursor=garbage")
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = app
        .get(&app.admin, "/api/v1/groups/Ops/members?limit=1001")
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn deleting_a_group_or_user_drops_it_and_its_memberships_but_keeps_the_events() {
    let app = spawn_app().await;
    app.create_user("alice", "GLOBAL").await;
    app.create_group("Ops", "GLOBAL").await;
    app.create_group("Dev", "GLOBAL").await;
    app.put(&app.admin, "/api/v1/groups/Ops/members/alice")
        .await;
    app.put(&app.admin, "/api/v1/groups/Dev/members/alice")
        .await;
    let count = app.event_count();

    let (s, _) = app.delete(&app.admin, "/api/v1/groups/Ops").await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.get(&app.admin, "/api/v1/groups/Ops/members").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, v) = app.get(&app.admin, "/api/v1/users/alice/groups").await;
    assert_eq!(
        v["groups"].as_array().map(Vec::len),
        Some(2),
        "Everyone and Dev: {v}"
    );

    let (s, _) = app.delete(&app.admin, "/api/v1/users/alice").await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(app.member_names("Dev").await.is_empty());
    assert_eq!(
        app.event_count(),
        count + 2,
        "one event per delete, and every earlier event kept"
    );

    // The name can be used again; the id is new.
    let again = app.create_user("alice", "GLOBAL").await;
    assert_ne!(again["id"], 2);
}

#[tokio::test]
async fn built_in_groups_and_the_last_administrator_are_protected() {
    let app = spawn_app().await;
    let (s, _) = app
        .delete(&app.admin, "/api/v1/groups/Administrators")
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = app.delete(&app.admin, "/api/v1/groups/Everyone").await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, v) = app
        .delete(&app.admin, "/api/v1/groups/Administrators/members/admin")
        .await;
    assert_eq!(
        (s, v),
        (
            StatusCode::CONFLICT,
            json!({"error": "Cannot remove the last member of Administrators"})
        )
    );
    let (s, _) = app.delete(&app.admin, "/api/v1/users/admin").await;
    assert_eq!(s, StatusCode::CONFLICT);
}

#[tokio::test]
async fn the_json_api_requires_authentication() {
    let app = spawn_app().await;
    let (s, v) = app.get("", "/api/v1/groups/Everyone/members").await;
    assert_eq!(
        (s, v),
        (
            StatusCode::UNAUTHORIZED,
            json!({"error": "authentication required"})
        )
    );
    let (s, _) = app
        .put("bogus", "/api/v1/groups/Administrators/members/admin")
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}
