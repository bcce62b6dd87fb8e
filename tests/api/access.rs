//! Authorization over HTTP: every write obeys the access model, grants take
//! effect (and stop) on the very next request, and checks explain themselves.

use crate::helpers::{spawn_app, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Engineering with alice (a would-be group manager), bob, two groups and Prod.
async fn world() -> (TestApp, String) {
    let app = spawn_app().await;
    app.create_domain("Engineering", "GLOBAL").await;
    app.create_user("alice", "GLOBAL.Engineering").await;
    app.create_user("bob", "GLOBAL.Engineering").await;
    app.create_group("Developers", "GLOBAL.Engineering").await;
    app.create_group("Release", "GLOBAL.Engineering").await;
    let alice = app.login("alice", "alice-password").await;
    (app, alice)
}

async fn grant(app: &TestApp, group: &str, object: &str, flags: Value) -> Value {
    let mut body = json!({"group": group, "object": object});
    for (k, v) in flags.as_object().expect("flags") {
        body[k] = v.clone();
    }
    app.grant(body).await
}

#[tokio::test]
async fn a_non_admin_is_denied_every_kind_of_write_until_granted() {
    let (app, alice) = world().await;
    let count = app.event_count();
    let denied = json!({"success": false, "error": "Permission Denied"});
    for path in [
        "assign/user/bob/Developers",
        "unassign/user/bob/Developers",
        "new/user/carol?domain=GLOBAL.Engineering",
        "new/domain/Sub?domain=GLOBAL.Engineering",
        "del/user/bob",
        "del/group/Release",
    ] {
        assert_eq!(app.compat(&alice, path).await, denied, "{path}");
    }
    for (method, path, body) in [
        (
            reqwest::Method::PUT,
            "/api/v1/groups/Developers/members/bob",
            None,
        ),
        (
            reqwest::Method::DELETE,
            "/api/v1/groups/Developers/members/bob",
            None,
        ),
        (
            reqwest::Method::POST,
            "/api/v1/users",
            Some(json!({"name": "carol", "domain": "GLOBAL.Engineering"})),
        ),
        (
            reqwest::Method::POST,
            "/api/v1/groups",
            Some(json!({"name": "QA", "domain": "GLOBAL.Engineering"})),
        ),
        (
            reqwest::Method::POST,
            "/api/v1/domains",
            Some(json!({"name": "Sub", "parent": "GLOBAL.Engineering"})),
        ),
        (reqwest::Method::DELETE, "/api/v1/users/bob", None),
        (reqwest::Method::DELETE, "/api/v1/groups/Release", None),
        (
            reqwest::Method::PUT,
            "/api/v1/grants",
            Some(
                json!({"group": "Developers", "object": "environment:GLOBAL.Engineering.Prod", "write": true}),
            ),
        ),
    ] {
        let (s, v) = app.api(method.clone(), &alice, path, body).await;
        assert_eq!(
            (s, v),
            (StatusCode::FORBIDDEN, json!({"error": "Permission Denied"})),
            "{method} {path}"
        );
    }
    assert_eq!(app.event_count(), count, "nothing denied was written");

    // update on the domain lets alice create and delete inside it.
    grant(
        &app,
        "Everyone",
        "domain:GLOBAL.Engineering",
        json!({"update": true}),
    )
    .await;
    let (s, v) = app
        .post(
            &alice,
            "/api/v1/users",
            json!({"name": "carol", "domain": "GLOBAL.Engineering"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(
        app.compat(&alice, "del/user/carol").await,
        json!({"success": true})
    );
    // ...but not at the root.
    let (s, _) = app
        .post(&alice, "/api/v1/groups", json!({"name": "Root"}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_group_manager_manages_exactly_that_groups_members() {
    let (app, alice) = world().await;
    grant(
        &app,
        "Developers",
        "group:GLOBAL.Engineering.Developers",
        json!({"update": true}),
    )
    .await;
    // alice is not yet a member, so the grant does not reach her.
    assert_eq!(
        app.compat(&alice, "assign/user/bob/Developers").await["error"],
        "Permission Denied"
    );
    app.compat(&app.admin, "assign/user/alice/Developers").await;

    assert_eq!(
        app.compat(&alice, "assign/user/bob/Developers").await,
        json!({"success": true})
    );
    let (s, v) = app
        .delete(&alice, "/api/v1/groups/Developers/members/bob")
        .await;
    assert_eq!((s, v["changed"].clone()), (StatusCode::OK, json!(true)));
    // Nothing more: not another group, not Administrators, not grants elsewhere.
    assert_eq!(
        app.compat(&alice, "assign/user/bob/Release").await["error"],
        "Permission Denied"
    );
    assert_eq!(
        app.compat(&alice, "assign/user/alice/Administrators").await["error"],
        "Permission Denied"
    );
    let (s, _) = app.delete(&alice, "/api/v1/groups/Developers").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_revocation_takes_effect_on_the_very_next_request() {
    let (app, alice) = world().await;
    app.compat(&app.admin, "assign/user/alice/Developers").await;
    grant(
        &app,
        "Developers",
        "group:GLOBAL.Engineering.Release",
        json!({"update": true}),
    )
    .await;
    assert_eq!(
        app.compat(&alice, "assign/user/bob/Release").await,
        json!({"success": true})
    );
    let (s, v) = app
        .api(
            reqwest::Method::DELETE,
            &app.admin,
            "/api/v1/grants?group=Developers&object=group:GLOBAL.Engineering.Release",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["changed"], true);
    assert_eq!(
        app.compat(&alice, "unassign/user/bob/Release").await["error"],
        "Permission Denied"
    );

    // Removing alice from the group that carried a grant revokes it just as fast.
    grant(
        &app,
        "Developers",
        "group:GLOBAL.Engineering.Release",
        json!({"update": true}),
    )
    .await;
    assert_eq!(
        app.compat(&alice, "unassign/user/bob/Release").await,
        json!({"success": true})
    );
    app.compat(&app.admin, "unassign/user/alice/Developers")
        .await;
    assert_eq!(
        app.compat(&alice, "assign/user/bob/Release").await["error"],
        "Permission Denied"
    );
}

#[tokio::test]
async fn may_alice_deploy_to_prod_answers_with_its_reason_and_position() {
    let (app, _) = world().await;
    app.compat(&app.admin, "assign/user/alice/Developers").await;
    let q = "/api/v1/check?user=alice&object=environment:GLOBAL.Engineering.Prod&permission=deploy";
    let (s, v) = app.get(&app.admin, q).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["allowed"], false);
    assert_eq!(v["via"], json!([]));

    let g = grant(
        &app,
        "Developers",
        "domain:GLOBAL.Engineering",
        json!({"write": true}),
    )
    .await;
    let position = g["position"].as_i64().expect("position");
    let (_, v) = app
        .get(&app.admin, &format!("{q}&at_least={position}"))
        .await;
    assert_eq!(
        v,
        json!({"allowed": true, "via": [{"group": "GLOBAL.Engineering.Developers", "on": "domain:GLOBAL.Engineering"}], "position": position})
    );
    // bob is in no group with the grant.
    let (_, v) = app
        .get(
            &app.admin,
            "/api/v1/check?user=bob&object=environment:GLOBAL.Engineering.Prod&permission=write",
        )
        .await;
    assert_eq!(v["allowed"], false);

    // Bad questions get 4xx, not an answer.
    let (s, _) = app
        .get(
            &app.admin,
            "/api/v1/check?user=alice&object=nonsense&permission=write",
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = app
        .get(
            &app.admin,
            "/api/v1/check?user=alice&object=environment:GLOBAL.X.Y&permission=fly",
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = app
        .get(
            &app.admin,
            "/api/v1/check?user=nobody&object=environment:GLOBAL.X.Y&permission=read",
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // The query is read by hand on this path: what it cannot use is a 400
    // that says why, and percent-encoded values are decoded.
    for (query, why) in [
        (
            "user=alice&object=domain:GLOBAL",
            "missing field `permission`",
        ),
        (
            "user=alice&user=bob&object=domain:GLOBAL&permission=view",
            "duplicate field `user`",
        ),
        (
            "user=alice&object=domain:GLOBAL&permission=view&at_least=soon",
            "at_least: invalid digit found in string",
        ),
    ] {
        let (s, v) = app.get(&app.admin, &format!("/api/v1/check?{query}")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{query}");
        let error = v["error"].as_str().unwrap_or_default();
        assert!(error.ends_with(why), "{query}: {v}");
    }
    let (s, v) = app
        .get(
            &app.admin,
            &format!(
                "{}&at_least={position}",
                q.replace("alice", "%61lice").replace(':', "%3A")
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["allowed"], true, "{v}");
}

#[tokio::test]
async fn batch_checks_are_answered_in_order_and_capped_at_1000() {
    let (app, _) = world().await;
    app.compat(&app.admin, "assign/user/alice/Developers").await;
    grant(
        &app,
        "Developers",
        "environment:GLOBAL.Engineering.Prod",
        json!({"read": true, "write": false}),
    )
    .await;
    let body = json!({"checks": [
        {"user": "alice", "object": "environment:GLOBAL.Engineering.Prod", "permission": "read"},
        {"user": "alice", "object": "environment:GLOBAL.Engineering.Prod", "permission": "write"},
        {"user": "nobody", "object": "environment:GLOBAL.Engineering.Prod", "permission": "read"},
        {"user": "admin", "object": "environment:GLOBAL.Engineering.Prod", "permission": "write"},
    ]});
    let (s, v) = app.post(&app.admin, "/api/v1/check", body).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let r = &v["results"];
    assert_eq!(
        (r[0]["allowed"].clone(), r[1]["allowed"].clone()),
        (json!(true), json!(false))
    );
    assert_eq!(r[2]["error"], "User nobody Not Found or No Access");
    assert_eq!(r[3]["allowed"], true);

    let many: Vec<Value> = (0..1001)
        .map(|_| json!({"user": "alice", "object": "domain:GLOBAL", "permission": "view"}))
        .collect();
    let (s, _) = app
        .post(&app.admin, "/api/v1/check", json!({"checks": many}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn permissions_explain_every_flag_with_its_sources() {
    let (app, _) = world().await;
    app.compat(&app.admin, "assign/user/alice/Developers").await;
    grant(
        &app,
        "Developers",
        "domain:GLOBAL",
        json!({"view": true, "write": true}),
    )
    .await;
    grant(
        &app,
        "Developers",
        "environment:GLOBAL.Engineering.Prod",
        json!({"write": false}),
    )
    .await;
    let (s, v) = app
        .get(
            &app.admin,
            "/api/v1/users/alice/permissions?object=environment:GLOBAL.Engineering.Prod",
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let p = &v["permissions"];
    assert_eq!(p["view"]["allowed"], true);
    assert_eq!(p["write"]["allowed"], false);
    assert_eq!(p["update"]["allowed"], false);
    let devs = |flag: &str| {
        p[flag]["sources"]
            .as_array()
            .expect("sources")
            .iter()
            .find(|s| s["group"] == "GLOBAL.Engineering.Developers")
            .cloned()
            .expect("Developers listed")
    };
    assert_eq!(
        devs("write"),
        json!({"group": "GLOBAL.Engineering.Developers", "value": "deny", "on": "environment:GLOBAL.Engineering.Prod"})
    );
    assert_eq!(
        devs("view"),
        json!({"group": "GLOBAL.Engineering.Developers", "value": "allow", "on": "domain:GLOBAL"})
    );
    assert_eq!(
        devs("read"),
        json!({"group": "GLOBAL.Engineering.Developers", "value": "unset"})
    );
}

#[tokio::test]
async fn grants_are_listed_by_object_and_by_group_and_put_is_idempotent() {
    let (app, _) = world().await;
    let obj = "environment:GLOBAL.Engineering.Prod";
    let first = grant(&app, "Developers", obj, json!({"write": true})).await;
    assert_eq!(first["changed"], true);
    let again = grant(&app, "Developers", obj, json!({"write": true})).await;
    assert_eq!(
        again,
        json!({"changed": false, "position": first["position"]})
    );
    let (_, by_obj) = app
        .get(&app.admin, &format!("/api/v1/grants?object={obj}"))
        .await;
    assert_eq!(
        by_obj["grants"],
        json!([{"group": "GLOBAL.Engineering.Developers", "object": obj, "view": null, "update": null, "read": null, "write": true}])
    );
    let (_, by_group) = app.get(&app.admin, "/api/v1/grants?group=Developers").await;
    assert_eq!(by_group["grants"], by_obj["grants"]);
    let (s, _) = app.get(&app.admin, "/api/v1/grants").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // A grant on an object in a domain that does not exist is refused.
    let (s, _) = app
        .api(reqwest::Method::PUT, &app.admin, "/api/v1/grants", Some(json!({"group": "Developers", "object": "environment:GLOBAL.Nope.Prod", "write": true})))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn names_resolve_only_in_the_callers_domains_and_ids_still_need_permission() {
    let app = spawn_app().await;
    app.create_domain("Sales", "GLOBAL").await;
    app.create_domain("Engineering", "GLOBAL").await;
    app.create_user("sam", "GLOBAL.Sales").await;
    app.create_user("erin", "GLOBAL.Engineering").await;
    let eng_group = app.create_group("Builders", "GLOBAL.Engineering").await;
    let sam = app.login("sam", "sam-password").await;
    // erin and Builders live in a sibling domain: invisible to sam by name.
    let v = app.compat(&sam, "assign/user/erin/Builders").await;
    assert_eq!(v["error"], "User erin Not Found or No Access");
    let (s, _) = app.get(&sam, "/api/v1/users/erin").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // By id they resolve, but writing to them is still denied, even with a grant.
    grant(
        &app,
        "Everyone",
        "group:GLOBAL.Engineering.Builders",
        json!({"update": true}),
    )
    .await;
    let v = app
        .compat(&sam, &format!("assign/user/{}/{}", 3, eng_group["id"]))
        .await;
    assert_eq!(v["error"], "Permission Denied");
    // The root's names are visible from anywhere below it.
    let (s, _) = app.get(&sam, "/api/v1/groups/Administrators").await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn user_and_group_lists_are_paginated_and_stable_while_writes_continue() {
    let app = spawn_app().await;
    for i in 0..7 {
        app.create_user(&format!("user{i}"), "GLOBAL").await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/users?limit=3&cursor={c}"),
            None => "/api/v1/users?limit=3".to_owned(),
        };
        let (s, v) = app.get(&app.admin, &path).await;
        assert_eq!(s, StatusCode::OK);
        seen.extend(
            v["users"]
                .as_array()
                .expect("users")
                .iter()
                .map(|u| u["name"].as_str().unwrap_or_default().to_owned()),
        );
        // A write between pages neither repeats nor skips anyone already listed.
        if cursor.is_none() {
            app.create_user("late", "GLOBAL").await;
        }
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let mut want: Vec<String> = vec!["admin".into()];
    want.extend((0..7).map(|i| format!("user{i}")));
    want.push("late".into());
    assert_eq!(seen, want);
    let (_, v) = app.get(&app.admin, "/api/v1/groups").await;
    assert_eq!(v["groups"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn a_check_as_of_a_past_position_sees_the_groups_and_grants_of_then() {
    let (app, _) = world().await;
    let prod = "environment:GLOBAL.Engineering.Prod";
    let q = |as_of: i64| {
        format!("/api/v1/check?user=alice&object={prod}&permission=write&as_of={as_of}")
    };
    let (_, a) = app
        .put(&app.admin, "/api/v1/groups/Developers/members/alice")
        .await;
    let joined = a["position"].as_i64().expect("position");
    let granted = grant(
        &app,
        "Developers",
        "domain:GLOBAL.Engineering",
        json!({"write": true}),
    )
    .await["position"]
        .as_i64()
        .expect("position");
    let denied_on_prod = grant(&app, "Developers", prod, json!({"write": false})).await["position"]
        .as_i64()
        .expect("p");
    let (_, r) = app
        .delete(&app.admin, "/api/v1/groups/Developers/members/alice")
        .await;
    let left = r["position"].as_i64().expect("position");

    // (as of, allowed, via)
    let table = [
        (joined, false, json!([])),
        (
            granted,
            true,
            json!([{"group": "GLOBAL.Engineering.Developers", "on": "domain:GLOBAL.Engineering"}]),
        ),
        (denied_on_prod, false, json!([])),
        (left, false, json!([])),
    ];
    for (at, allowed, via) in table {
        let (s, v) = app.get(&app.admin, &q(at)).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(
            (
                v["allowed"].clone(),
                v["via"].clone(),
                v["position"].clone()
            ),
            (json!(allowed), via, json!(at)),
            "as of {at}"
        );
    }
    // Between the domain grant and the object's deny, by time too.
    let (_, v) = app
        .get(
            &app.admin,
            &format!("/api/v1/check?user=alice&object={prod}&permission=write&as_of={granted}"),
        )
        .await;
    let time = v["as_of"]["time"].as_str().expect("time").to_owned();
    let (_, by_time) = app
        .get(
            &app.admin,
            &format!("/api/v1/check?user=alice&object={prod}&permission=write&as_of={time}"),
        )
        .await;
    assert!(by_time["position"].as_i64().expect("position") >= granted);
    // The live answer agrees with the last position.
    let (_, live) = app
        .get(
            &app.admin,
            &format!("/api/v1/check?user=alice&object={prod}&permission=write"),
        )
        .await;
    assert_eq!(live["allowed"], false);
    // A position after the head is refused, not guessed.
    let (s, _) = app.get(&app.admin, &q(left + 100)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}
