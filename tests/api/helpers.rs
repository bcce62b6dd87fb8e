//! `spawn_app`: the real service on a random port with a fresh database, and
//! a client with one method per kind of call.

use reqwest::StatusCode;
use rollcall::app::Application;
use rollcall::config::Config;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const ADMIN_PASSWORD: &str = "admin-password-1";

pub struct TestApp {
    pub addr: SocketAddr,
    pub db: PathBuf,
    /// A client without cookies: calls authenticate explicitly.
    pub http: reqwest::Client,
    /// The admin's bearer token.
    pub admin: String,
    _dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

async fn start(
    db: PathBuf,
) -> (
    SocketAddr,
    oneshot::Sender<()>,
    JoinHandle<anyhow::Result<()>>,
) {
    let mut config = Config::new(db, "127.0.0.1:0");
    config.admin_password = Some(ADMIN_PASSWORD.into());
    let app = Application::build(config).await.expect("app builds");
    let addr = app.local_addr().expect("bound");
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    (addr, stop, server)
}

pub async fn spawn_app() -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("rollcall.db");
    let (addr, stop, server) = start(db.clone()).await;
    let mut app = TestApp {
        addr,
        db,
        http: reqwest::Client::new(),
        admin: String::new(),
        _dir: dir,
        stop: Some(stop),
        server: Some(server),
    };
    app.admin = app.login("admin", ADMIN_PASSWORD).await;
    app
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Stops the server gracefully and starts it again on the same database.
    pub async fn restart(&mut self) {
        self.stop().await;
        let (addr, stop, server) = start(self.db.clone()).await;
        self.addr = addr;
        self.stop = Some(stop);
        self.server = Some(server);
    }

    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task")
                .expect("server ran cleanly");
        }
    }

    /// Logs in through the compat call and returns the token.
    pub async fn login(&self, user: &str, pass: &str) -> String {
        let v = self
            .compat_anon(&format!("login?user={user}&pass={pass}"))
            .await;
        assert_eq!(v["success"], true, "login failed: {v}");
        v["token"].as_str().expect("token").to_owned()
    }

    /// A compat call with a bearer token; asserts HTTP 200 and returns the body.
    pub async fn compat(&self, token: &str, path: &str) -> Value {
        let res = self
            .http
            .get(self.url(&format!("/dmadminweb/API/{path}")))
            .bearer_auth(token)
            .send()
            .await
            .expect("request");
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "compat calls always answer 200"
        );
        res.json().await.expect("json body")
    }

    /// A compat call without credentials.
    pub async fn compat_anon(&self, path: &str) -> Value {
        let res = self
            .http
            .get(self.url(&format!("/dmadminweb/API/{path}")))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.expect("json body")
    }

    /// A JSON API call: returns the status and the body (Null when empty).
    pub async fn api(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let text = res.text().await.expect("body");
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("json body")
        };
        (status, v)
    }

    pub async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.api(reqwest::Method::GET, token, path, None).await
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.api(reqwest::Method::POST, token, path, Some(body))
            .await
    }

    pub async fn put(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.api(reqwest::Method::PUT, token, path, None).await
    }

    pub async fn delete(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.api(reqwest::Method::DELETE, token, path, None).await
    }

    /// Creates a domain as admin; panics unless 201.
    pub async fn create_domain(&self, name: &str, parent: &str) -> Value {
        let (s, v) = self
            .post(
                &self.admin,
                "/api/v1/domains",
                serde_json::json!({"name": name, "parent": parent}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v
    }

    /// Creates a user as admin (password = name + "-password"); panics unless 201.
    pub async fn create_user(&self, name: &str, domain: &str) -> Value {
        let body = serde_json::json!({"name": name, "domain": domain, "password": format!("{name}-password")});
        let (s, v) = self.post(&self.admin, "/api/v1/users", body).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v
    }

    pub async fn create_group(&self, name: &str, domain: &str) -> Value {
        let (s, v) = self
            .post(
                &self.admin,
                "/api/v1/groups",
                serde_json::json!({"name": name, "domain": domain}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v
    }

    /// Names of the members of `group`, as the JSON API lists them.
    pub async fn member_names(&self, group: &str) -> Vec<String> {
        let (s, v) = self
            .get(&self.admin, &format!("/api/v1/groups/{group}/members"))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["members"]
            .as_array()
            .expect("members")
            .iter()
            .map(|m| m["qualified_name"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Every event in the log, as (event_type, data) pairs, straight from SQLite.
    pub fn events(&self) -> Vec<(String, Value)> {
        let conn = rusqlite::Connection::open(&self.db).expect("open db");
        let mut stmt = conn
            .prepare("SELECT event_type, data FROM events ORDER BY seq")
            .expect("prepare");
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .expect("query");
        rows.map(|r| {
            let (t, d) = r.expect("row");
            (t, serde_json::from_str(&d).expect("json"))
        })
        .collect()
    }

    pub fn event_count(&self) -> usize {
        self.events().len()
    }
}
