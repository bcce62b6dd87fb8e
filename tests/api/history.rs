//! The audit endpoints over a real socket: as_of listings, the diff, object
//! histories, the change feed and the log head.

use crate::helpers::{spawn_app, TestApp};
use reqwest::StatusCode;
use rollcall::audit::export::Line;
use rollcall::log::chain;
use rollcall::state::Head;
use serde_json::Value;

fn names(v: &Value, list: &str) -> Vec<String> {
    v[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {v}"))
        .iter()
        .map(|m| m["qualified_name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn position(app: &TestApp, method: reqwest::Method, path: &str, reason: &str) -> i64 {
    let res = app
        .http
        .request(method, app.url(&format!("{path}?reason={reason}")))
        .bearer_auth(&app.admin)
        .header("x-request-id", format!("req-{reason}"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["changed"], true, "{v}");
    v["position"].as_i64().expect("position")
}

async fn get_ok(app: &TestApp, path: &str) -> Value {
    let (s, v) = app.get(&app.admin, path).await;
    assert_eq!(s, StatusCode::OK, "{path}: {v}");
    v
}

#[tokio::test]
async fn members_as_of_a_position_or_a_time_say_who_was_in_and_why() {
    let app = spawn_app().await;
    app.create_user("alice", "GLOBAL").await;
    app.create_user("bob", "GLOBAL").await;
    app.create_group("Devs", "GLOBAL").await;
    let put = reqwest::Method::PUT;
    let p1 = position(
        &app,
        put.clone(),
        "/api/v1/groups/Devs/members/alice",
        "hired",
    )
    .await;
    let p2 = position(&app, put, "/api/v1/groups/Devs/members/bob", "also-hired").await;
    let p3 = position(
        &app,
        reqwest::Method::DELETE,
        "/api/v1/groups/Devs/members/alice",
        "left",
    )
    .await;

    let v = get_ok(&app, &format!("/api/v1/groups/Devs/members?as_of={p1}")).await;
    assert_eq!(names(&v, "members"), ["GLOBAL.alice"]);
    assert_eq!(v["position"], p1);
    let since = &v["members"][0]["since"];
    assert_eq!(since["position"], p1);
    assert!(
        since.get("type").is_none(),
        "an interval's event, by position: {since}"
    );
    assert_eq!(since["actor"]["id"], 1);
    assert_eq!(since["actor"]["name"], "GLOBAL.admin");
    assert_eq!(since["reason"], "hired");
    assert_eq!(since["request_id"], "req-hired");
    assert_eq!(v["as_of"]["time"], since["time"]);

    let v = get_ok(&app, &format!("/api/v1/groups/Devs/members?as_of={p2}")).await;
    assert_eq!(names(&v, "members"), ["GLOBAL.alice", "GLOBAL.bob"]);
    let v = get_ok(&app, &format!("/api/v1/groups/Devs/members?as_of={p3}")).await;
    assert_eq!(names(&v, "members"), ["GLOBAL.bob"]);
    // Before the group existed it cannot be named.
    let (s, _) = app
        .get(
            &app.admin,
            &format!("/api/v1/groups/Devs/members?as_of={}", p1 - 2),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // A time means the last event at or before it.
    let feed = get_ok(&app, "/api/v1/events?after=0&limit=1000").await;
    let events = feed["events"].as_array().expect("events").clone();
    let t1 = events[(p1 - 1) as usize]["occurred_at"]
        .as_str()
        .expect("time")
        .to_owned();
    let expected = events
        .iter()
        .filter(|e| e["occurred_at"].as_str().expect("time") <= t1.as_str())
        .map(|e| e["seq"].as_i64().expect("seq"))
        .max()
        .expect("some");
    let by_time = get_ok(&app, &format!("/api/v1/groups/Devs/members?as_of={t1}")).await;
    assert_eq!(by_time["position"], expected);
    let by_pos = get_ok(
        &app,
        &format!("/api/v1/groups/Devs/members?as_of={expected}"),
    )
    .await;
    assert_eq!(names(&by_time, "members"), names(&by_pos, "members"));
    // Before the first event: nothing existed.
    let (s, _) = app
        .get(
            &app.admin,
            "/api/v1/groups/Devs/members?as_of=2000-01-01T00:00:00Z",
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_users_groups_as_of_include_everyone_and_page_by_cursor() {
    let app = spawn_app().await;
    app.create_user("carol", "GLOBAL").await;
    for g in ["G1", "G2", "G3"] {
        app.create_group(g, "GLOBAL").await;
        app.put(&app.admin, &format!("/api/v1/groups/{g}/members/carol"))
            .await;
    }
    let at = get_ok(&app, "/api/v1/log/head").await["position"]
        .as_i64()
        .expect("head");
    app.delete(&app.admin, "/api/v1/groups/G2/members/carol")
        .await;

    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let v = get_ok(
            &app,
            &format!("/api/v1/users/carol/groups?as_of={at}&limit=2{cursor}"),
        )
        .await;
        seen.extend(names(&v, "groups"));
        match v["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["GLOBAL.Everyone", "GLOBAL.G1", "GLOBAL.G2", "GLOBAL.G3"]
    );
    let now = get_ok(&app, "/api/v1/users/carol/groups").await;
    assert_eq!(
        names(&now, "groups"),
        ["GLOBAL.Everyone", "GLOBAL.G1", "GLOBAL.G3"]
    );
}

#[tokio::test]
async fn members_as_of_name_members_and_actors_the_same_after_they_are_deleted() {
    // Names of users alive now come from memory, of deleted ones from the
    // directory: the answer about the past must not change when they go.
    let app = spawn_app().await;
    app.create_domain("Eng", "GLOBAL").await;
    app.create_user("boss", "GLOBAL.Eng").await;
    app.create_user("ann", "GLOBAL.Eng").await;
    app.create_user("ben", "GLOBAL").await;
    app.create_group("Devs", "GLOBAL").await;
    let (s, v) = app
        .put(&app.admin, "/api/v1/groups/Administrators/members/boss")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let boss = app.login("boss", "boss-password").await;
    for user in ["ann", "ben"] {
        let (s, v) = app
            .put(&boss, &format!("/api/v1/groups/Devs/members/{user}"))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let at = get_ok(&app, "/api/v1/log/head").await["position"]
        .as_i64()
        .expect("head");
    let path = format!("/api/v1/groups/Devs/members?as_of={at}");
    let before = get_ok(&app, &path).await;
    assert_eq!(names(&before, "members"), ["GLOBAL.Eng.ann", "GLOBAL.ben"]);
    assert_eq!(before["members"][0]["name"], "ann");
    assert_eq!(before["members"][0]["domain"], "GLOBAL.Eng");
    assert_eq!(before["members"][1]["domain"], "GLOBAL");
    for m in before["members"].as_array().expect("members") {
        assert_eq!(m["since"]["actor"]["name"], "GLOBAL.Eng.boss", "{m}");
    }

    for user in ["ann", "boss"] {
        let (s, v) = app
            .delete(&app.admin, &format!("/api/v1/users/{user}"))
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    }
    let after = get_ok(&app, &path).await;
    assert_eq!(after["members"], before["members"]);
}

#[tokio::test]
async fn deleted_and_reused_names_resolve_as_they_were() {
    let app = spawn_app().await;
    app.create_user("kim", "GLOBAL").await;
    app.create_user("lee", "GLOBAL").await;
    let old = app.create_group("Squad", "GLOBAL").await["id"]
        .as_i64()
        .expect("id");
    let p1 = position(
        &app,
        reqwest::Method::PUT,
        "/api/v1/groups/Squad/members/kim",
        "first",
    )
    .await;
    let (s, _) = app
        .delete(&app.admin, "/api/v1/groups/Squad?reason=disbanded")
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let new = app.create_group("Squad", "GLOBAL").await["id"]
        .as_i64()
        .expect("id");
    assert_ne!(old, new);
    position(
        &app,
        reqwest::Method::PUT,
        "/api/v1/groups/Squad/members/lee",
        "second",
    )
    .await;

    // The name as it was at p1 is the old group.
    let v = get_ok(&app, &format!("/api/v1/groups/Squad/members?as_of={p1}")).await;
    assert_eq!(v["group"]["id"], old);
    assert!(v["group"]["deleted"]["position"].is_i64(), "{v}");
    assert_eq!(names(&v, "members"), ["GLOBAL.kim"]);
    // Today the name is the new group; the old one answers to its id.
    let v = get_ok(&app, "/api/v1/groups/Squad/history").await;
    assert_eq!(v["group"]["id"], new);
    let v = get_ok(&app, &format!("/api/v1/groups/{old}/history")).await;
    let types: Vec<&str> = v["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(types, ["GroupDeleted", "UserAssigned", "GroupCreated"]);
    assert_eq!(v["events"][0]["reason"], "disbanded");
    // kim's history shows the deletion that ended her membership.
    let v = get_ok(&app, "/api/v1/users/kim/history").await;
    assert_eq!(v["events"][0]["type"], "GroupDeleted");
    assert_eq!(v["events"][0]["data"]["name"], "Squad");
}

#[tokio::test]
async fn history_is_newest_first_with_actor_reason_and_request_id_and_pages_without_gaps() {
    let app = spawn_app().await;
    app.create_user("dora", "GLOBAL").await;
    app.create_group("Ops", "GLOBAL").await;
    let mut changes = Vec::new();
    for i in 0..3 {
        let r = format!("on-{i}");
        changes.push(
            position(
                &app,
                reqwest::Method::PUT,
                "/api/v1/groups/Ops/members/dora",
                &r,
            )
            .await,
        );
        let r = format!("off-{i}");
        changes.push(
            position(
                &app,
                reqwest::Method::DELETE,
                "/api/v1/groups/Ops/members/dora",
                &r,
            )
            .await,
        );
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let v = get_ok(&app, &format!("/api/v1/groups/Ops/history?limit=4{cursor}")).await;
        for e in v["events"].as_array().expect("events") {
            seen.push(e["position"].as_i64().expect("position"));
            assert_eq!(
                e["actor"],
                serde_json::json!({"id": 1, "name": "GLOBAL.admin"})
            );
            assert!(e["hash"].as_str().is_some_and(|h| h.len() == 64));
        }
        match v["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    let created = seen.last().copied().expect("some");
    let mut want: Vec<i64> = changes.clone();
    want.push(created);
    want.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(seen, want, "every event once, newest first");
    let v = get_ok(&app, "/api/v1/users/dora/history?limit=1").await;
    let e = &v["events"][0];
    assert_eq!(e["position"], changes[5]);
    assert_eq!(
        (e["reason"].as_str(), e["request_id"].as_str()),
        (Some("off-2"), Some("req-off-2"))
    );
    assert_eq!(e["data"]["user"], "GLOBAL.dora");
}

#[tokio::test]
async fn the_diff_lists_who_joined_and_who_left_with_the_events() {
    let app = spawn_app().await;
    for u in ["ann", "ben", "cy"] {
        app.create_user(u, "GLOBAL").await;
    }
    app.create_group("Team", "GLOBAL").await;
    let put = reqwest::Method::PUT;
    let del = reqwest::Method::DELETE;
    position(&app, put.clone(), "/api/v1/groups/Team/members/ann", "a").await;
    let from = position(&app, put.clone(), "/api/v1/groups/Team/members/cy", "c").await;
    let joined = position(&app, put.clone(), "/api/v1/groups/Team/members/ben", "b").await;
    let left = position(&app, del.clone(), "/api/v1/groups/Team/members/ann", "gone").await;
    // cy leaves and comes back: no net change.
    position(&app, del, "/api/v1/groups/Team/members/cy", "brb").await;
    let to = position(&app, put, "/api/v1/groups/Team/members/cy", "back").await;

    let v = get_ok(
        &app,
        &format!("/api/v1/groups/Team/members/diff?from={from}&to={to}"),
    )
    .await;
    assert_eq!(v["from"]["position"], from);
    assert_eq!(v["to"]["position"], to);
    let users = |list: &str| -> Vec<(String, i64)> {
        v[list]
            .as_array()
            .expect("list")
            .iter()
            .map(|c| {
                (
                    c["user"]["qualified_name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    c["event"]["position"].as_i64().unwrap_or_default(),
                )
            })
            .collect()
    };
    assert_eq!(users("joined"), [("GLOBAL.ben".to_owned(), joined)]);
    assert_eq!(users("left"), [("GLOBAL.ann".to_owned(), left)]);
    assert_eq!(v["left"][0]["event"]["reason"], "gone");
    // `to` defaults to the head.
    let v2 = get_ok(
        &app,
        &format!("/api/v1/groups/Team/members/diff?from={from}"),
    )
    .await;
    assert_eq!(v2["to"]["position"], to);
    // Reversed: the other way round.
    let (s, _) = app
        .get(
            &app.admin,
            &format!("/api/v1/groups/Team/members/diff?from={to}&to={from}"),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn the_change_feed_carries_a_verifiable_chain_and_tails_live() {
    let app = spawn_app().await;
    app.create_user("eve", "GLOBAL").await;
    let feed = get_ok(&app, "/api/v1/events?after=0&limit=3").await;
    let first = feed["events"].as_array().expect("events").clone();
    assert_eq!(first.len(), 3);
    let feed = get_ok(&app, "/api/v1/events?after=3").await;
    let rest = feed["events"].as_array().expect("events").clone();
    let mut head = Head::default();
    for e in first.iter().chain(rest.iter()) {
        let line: Line = serde_json::from_value(e.clone()).expect("every column");
        let rec = rollcall::audit::export::into_recorded(line).expect("decodes");
        chain::check_link(&head, &rec).expect("a follower can check every link");
        head = Head {
            seq: rec.seq,
            hash: rec.hash.clone(),
        };
    }
    let h = get_ok(&app, "/api/v1/log/head").await;
    assert_eq!(
        h,
        serde_json::json!({"position": head.seq, "hash": head.hash})
    );
    assert_eq!(feed["head"], head.seq);

    // A live tail: held open until the next event exists, then answered with it.
    let url = app.url(&format!("/api/v1/events?after={}&wait=30", head.seq));
    let tail = tokio::spawn({
        let (http, token) = (app.http.clone(), app.admin.clone());
        async move {
            let res = http
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("request");
            res.json::<Value>().await.expect("json")
        }
    });
    app.create_group("Late", "GLOBAL").await;
    let v = tail.await.expect("tail");
    assert_eq!(v["events"][0]["seq"], head.seq + 1);
    assert_eq!(v["events"][0]["event_type"], "GroupCreated");
    // Nothing new: an immediate empty answer without wait.
    let v = get_ok(&app, &format!("/api/v1/events?after={}", head.seq + 1)).await;
    assert_eq!(v["events"], serde_json::json!([]));
}

#[tokio::test]
async fn bad_audit_requests_get_clear_errors() {
    let app = spawn_app().await;
    app.create_group("Devs", "GLOBAL").await;
    for (path, status) in [
        (
            "/api/v1/groups/Devs/members?as_of=yesterday",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/v1/groups/Devs/members?as_of=-3",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/v1/groups/Devs/members?as_of=99999",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("/api/v1/groups/Devs/members/diff", StatusCode::BAD_REQUEST),
        (
            "/api/v1/groups/Devs/members/diff?from=x",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/v1/groups/Devs/history?cursor=zz",
            StatusCode::BAD_REQUEST,
        ),
        ("/api/v1/groups/Nope/history", StatusCode::NOT_FOUND),
        ("/api/v1/users/42/history", StatusCode::NOT_FOUND),
        ("/api/v1/events?wait=61", StatusCode::BAD_REQUEST),
        ("/api/v1/events?after=-1", StatusCode::BAD_REQUEST),
        ("/api/v1/events?limit=0", StatusCode::BAD_REQUEST),
        ("/api/v1/events?after=abc", StatusCode::BAD_REQUEST),
    ] {
        let (s, v) = app.get(&app.admin, path).await;
        assert_eq!(s, status, "{path}: {v}");
        assert!(v["error"].is_string(), "{path}: {v}");
    }
    for path in [
        "/api/v1/events",
        "/api/v1/log/head",
        "/api/v1/groups/Devs/history",
        "/api/v1/groups/Devs/members?as_of=1",
    ] {
        let (s, _) = app.get("not-a-token", path).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{path}");
    }
}

#[tokio::test]
async fn a_long_poll_answers_empty_before_the_request_time_out_would() {
    let app = crate::helpers::spawn_app_with(|c| {
        c.limits.request_timeout = std::time::Duration::from_millis(1500);
    })
    .await;
    let head = get_ok(&app, "/api/v1/log/head").await["position"]
        .as_i64()
        .expect("head");
    let v = get_ok(&app, &format!("/api/v1/events?after={head}&wait=60")).await;
    assert_eq!(v["events"], serde_json::json!([]));
    assert_eq!(v["head"], head);
}

#[tokio::test]
async fn grants_show_in_the_groups_history() {
    let app = spawn_app().await;
    app.create_group("Deployers", "GLOBAL").await;
    let body = serde_json::json!({"group": "Deployers", "object": "environment:GLOBAL.Prod", "write": true, "reason": "release duty"});
    app.grant(body).await;
    let v = get_ok(&app, "/api/v1/groups/Deployers/history").await;
    let e = &v["events"][0];
    assert_eq!(e["type"], "AccessGranted");
    assert_eq!(e["reason"], "release duty");
    assert_eq!(e["data"]["object"], "environment:GLOBAL.Prod");
    assert_eq!(v["events"][1]["type"], "GroupCreated");
}

#[tokio::test]
async fn a_group_deleted_shows_in_its_members_and_its_grant_holders_histories() {
    let app = spawn_app().await;
    app.create_user("erin", "GLOBAL").await;
    app.create_group("Auditors", "GLOBAL").await;
    app.create_group("Temp", "GLOBAL").await;
    position(
        &app,
        reqwest::Method::PUT,
        "/api/v1/groups/Temp/members/erin",
        "joined",
    )
    .await;
    let body =
        serde_json::json!({"group": "Auditors", "object": "group:GLOBAL.Temp", "read": true});
    app.grant(body).await;
    let (s, v) = app
        .api(
            reqwest::Method::DELETE,
            &app.admin,
            "/api/v1/groups/Temp",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let head = get_ok(&app, "/api/v1/log/head").await;
    let gone = head["position"].as_i64().expect("position");

    // Erin's membership ended with the group, and the grant Auditors held
    // on it went too: each history's newest event is the deletion.
    for path in [
        "/api/v1/users/erin/history",
        "/api/v1/groups/Auditors/history",
    ] {
        let v = get_ok(&app, path).await;
        let e = &v["events"][0];
        assert_eq!(
            (e["position"].as_i64(), &e["type"]),
            (Some(gone), &serde_json::json!("GroupDeleted")),
            "{path}: {v}"
        );
    }
    let v = get_ok(&app, "/api/v1/groups/Auditors/history").await;
    assert_eq!(v["events"][1]["type"], "AccessGranted", "{v}");
}
