//! The rest of the dmadminweb family: user, list, domain, new, del, import.

use crate::helpers::spawn_app;
use serde_json::json;

#[tokio::test]
async fn new_user_and_domain_then_read_them_back() {
    let app = spawn_app().await;
    let v = app
        .compat(&app.admin, "new/domain/Engineering?domain=GLOBAL")
        .await;
    assert_eq!(v["success"], true, "{v}");
    let v = app
        .compat(&app.admin, "new/user/alice?domain=GLOBAL.Engineering&realname=Alice%20A&email=a@x.org&pw=alice-password")
        .await;
    assert_eq!(
        v,
        json!({"success": true, "result": {"id": 2, "name": "alice", "domain": "GLOBAL.Engineering"}})
    );
    // The new user can log in with the password given.
    app.login("alice", "alice-password").await;

    let v = app.compat(&app.admin, "user/alice").await;
    assert_eq!(
        v,
        json!({"success": true, "result": {"id": 2, "name": "alice", "domain": "GLOBAL.Engineering"}})
    );
    let v = app.compat(&app.admin, "user/2").await;
    assert_eq!(v["result"]["name"], "alice");
    let v = app.compat(&app.admin, "domain/GLOBAL.Engineering").await;
    assert_eq!(v["result"]["id"], 2);
    let v = app.compat(&app.admin, "list/domains").await;
    assert_eq!(v["domains"].as_array().map(Vec::len), Some(2));
    let v = app.compat(&app.admin, "user/nobody").await;
    assert_eq!(
        v,
        json!({"success": false, "error": "User nobody Not Found or No Access"})
    );
    let v = app
        .compat(&app.admin, "new/user/alice?domain=GLOBAL.Engineering")
        .await;
    assert_eq!(
        v,
        json!({"success": false, "error": "User alice already exists in GLOBAL.Engineering"})
    );
}

#[tokio::test]
async fn lists_show_users_with_their_groups_and_groups_with_their_details() {
    let app = spawn_app().await;
    app.create_user("alice", "GLOBAL").await;
    app.create_group("Ops", "GLOBAL").await;
    app.compat(&app.admin, "assign/user/alice/Ops").await;
    let v = app.compat(&app.admin, "list/users").await;
    let alice = v["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["name"] == "alice")
        .cloned()
        .expect("alice");
    assert_eq!(
        alice,
        json!({"name": "alice", "domain": "GLOBAL", "realname": null, "email": null, "groups": ["Ops"]})
    );
    let v = app.compat(&app.admin, "list/groups").await;
    let names: Vec<&str> = v["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    assert_eq!(names, vec!["Everyone", "Administrators", "Ops"]);
    let v = app.compat(&app.admin, "list/planets").await;
    assert_eq!(v["success"], false);
}

#[tokio::test]
async fn del_user_and_group() {
    let app = spawn_app().await;
    app.create_user("alice", "GLOBAL").await;
    app.create_group("Ops", "GLOBAL").await;
    assert_eq!(
        app.compat(&app.admin, "del/user/alice").await,
        json!({"success": true})
    );
    assert_eq!(
        app.compat(&app.admin, "del/group/Ops").await,
        json!({"success": true})
    );
    assert_eq!(
        app.compat(&app.admin, "del/group/Ops").await["error"],
        "Usergroup Ops Not Found or No Access"
    );
    assert_eq!(
        app.compat(&app.admin, "del/group").await["error"],
        "Path contains wrong number of elements (2)"
    );
}

#[tokio::test]
async fn import_creates_the_group_with_its_members_once() {
    let app = spawn_app().await;
    app.create_domain("Engineering", "GLOBAL").await;
    for u in ["alice", "bob"] {
        app.create_user(u, "GLOBAL.Engineering").await;
    }
    let body = json!({"objtype": "gr", "objname": "GLOBAL.Engineering.Devs", "members": ["alice", "bob", "alice"]});
    let post = |body: serde_json::Value| {
        let app = &app;
        async move {
            app.http
                .post(app.url("/dmadminweb/API/import"))
                .bearer_auth(&app.admin)
                .json(&body)
                .send()
                .await
                .expect("request")
                .json::<serde_json::Value>()
                .await
                .expect("json")
        }
    };
    let v = post(body.clone()).await;
    assert_eq!(v["success"], true, "{v}");
    assert_eq!(v["result"]["created"], true);
    assert_eq!(v["result"]["added"], 2);
    assert_eq!(
        app.member_names("Devs").await,
        vec!["GLOBAL.Engineering.alice", "GLOBAL.Engineering.bob"]
    );
    let count = app.event_count();
    let v = post(body).await;
    assert_eq!(
        (v["result"]["created"].clone(), v["result"]["added"].clone()),
        (json!(false), json!(0))
    );
    assert_eq!(
        app.event_count(),
        count,
        "re-running the import changes nothing"
    );

    // One bad member rejects the whole import: no group, no members.
    let v = post(
        json!({"objtype": "gr", "objname": "GLOBAL.Engineering.QA", "members": ["alice", "ghost"]}),
    )
    .await;
    assert_eq!(
        v,
        json!({"success": false, "error": "User ghost Not Found or No Access"})
    );
    assert_eq!(app.event_count(), count);
    let v = post(json!({"objtype": "env", "objname": "GLOBAL.X"})).await;
    assert_eq!(v["success"], false);
}
