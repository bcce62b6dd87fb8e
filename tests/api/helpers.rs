//! `spawn_app`: the real service on a random port with a fresh database, and
//! a client with one method per kind of call.

use reqwest::StatusCode;
use rollcall::app::Application;
use rollcall::config::Config;
use rollcall::writer::WriterHandle;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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
    /// The writer, for simulating storage faults; dropped on stop.
    pub writer: Option<WriterHandle>,
    configure: Arc<dyn Fn(&mut Config) + Send + Sync>,
    _dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

struct Started {
    addr: SocketAddr,
    writer: WriterHandle,
    stop: oneshot::Sender<()>,
    server: JoinHandle<anyhow::Result<()>>,
}

async fn start(db: PathBuf, configure: &(dyn Fn(&mut Config) + Send + Sync)) -> Started {
    let mut config = Config::new(db, "127.0.0.1:0");
    config.admin_password = Some(ADMIN_PASSWORD.into());
    configure(&mut config);
    let app = Application::build(config).await.expect("app builds");
    let addr = app.local_addr().expect("bound");
    let writer = app.writer();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    Started {
        addr,
        writer,
        stop,
        server,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The service with `configure` applied to its settings (limits, throttling).
pub async fn spawn_app_with(configure: impl Fn(&mut Config) + Send + Sync + 'static) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("rollcall.db");
    let configure: Arc<dyn Fn(&mut Config) + Send + Sync> = Arc::new(configure);
    let s = start(db.clone(), &*configure).await;
    let mut app = TestApp {
        addr: s.addr,
        db,
        http: reqwest::Client::new(),
        admin: String::new(),
        writer: Some(s.writer),
        configure,
        _dir: dir,
        stop: Some(s.stop),
        server: Some(s.server),
    };
    app.admin = app.login("admin", ADMIN_PASSWORD).await;
    app
}

/// A raw HTTP/1.1 exchange: sends `request` byte for byte (no client-side
/// path normalisation) and reads until the server closes. Returns the status
/// (0 if the server closed without answering), the headers and the body.
pub async fn raw(addr: SocketAddr, request: &[u8]) -> (u16, String, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    // The server may answer and close before reading everything we send.
    let _ = s.write_all(request).await;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    parse_response(&buf)
}

pub fn parse_response(buf: &[u8]) -> (u16, String, String) {
    let text = String::from_utf8_lossy(buf).into_owned();
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return (0, text, String::new());
    };
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_owned(), body.to_owned())
}

/// A GET with `Connection: close` and the admin's token, sent verbatim.
pub async fn raw_get(app: &TestApp, path: &str) -> (u16, String, String) {
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        app.admin
    );
    raw(app.addr, req.as_bytes()).await
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Stops the server gracefully and starts it again on the same database.
    pub async fn restart(&mut self) {
        self.stop().await;
        let s = start(self.db.clone(), &*self.configure).await;
        self.addr = s.addr;
        self.writer = Some(s.writer);
        self.stop = Some(s.stop);
        self.server = Some(s.server);
    }

    pub async fn stop(&mut self) {
        self.writer = None;
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

    /// Sets a grant as admin (`body` as `PUT /api/v1/grants` takes it);
    /// panics unless 200.
    pub async fn grant(&self, body: Value) -> Value {
        let (s, v) = self
            .api(
                reqwest::Method::PUT,
                &self.admin,
                "/api/v1/grants",
                Some(body),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
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
