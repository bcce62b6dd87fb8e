//! Building and running the service: open the database, check the tail of the
//! hash chain and catch the projection up, bootstrap an empty log, start the
//! writer, bind the listener, serve until told to stop, then drain the writer.

use anyhow::Context;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio::net::TcpListener;

use crate::auth::{password, Sessions, Throttle};
use crate::commands::{Command, Request};
use crate::config::Config;
use crate::http::{self, AppState, Shared};
use crate::metrics::Metrics;
use crate::read_model::ReadModel;
use crate::reader::ReadPool;
use crate::{log, projector, server, writer};

pub struct Application {
    listener: TcpListener,
    state: AppState,
    writer_thread: JoinHandle<()>,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        let db = config.db.clone();
        let idle_ms = config.session_idle.as_millis() as i64;
        let (conn, state, sessions) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let mut conn = log::open_writer(&db)?;
            let state = projector::catch_up(&mut conn)?;
            let sessions = Sessions::load(&conn, idle_ms, http::now_ms())
                .context("Failed to load sessions")?;
            Ok((conn, state, sessions))
        })
        .await??;

        let needs_bootstrap = state.head.seq == 0;
        let read = Arc::new(ReadModel::new(state.clone()));
        let metrics = Arc::new(Metrics::default());
        let (writer, writer_thread) =
            writer::spawn_observed(conn, state, read.clone(), metrics.clone())?;
        if needs_bootstrap {
            bootstrap(&writer, config.admin_password.clone()).await?;
        }
        let listener = TcpListener::bind(&config.listen)
            .await
            .with_context(|| format!("Failed to listen on {}", config.listen))?;
        Ok(Application {
            listener,
            state: AppState::new(Shared {
                writer,
                read,
                sessions: Arc::new(sessions),
                pool: ReadPool::new(config.db.clone()),
                metrics,
                throttle: Arc::new(Throttle::new(config.login_throttle.clone())),
                limits: Arc::new(config.limits.clone()),
            }),
            writer_thread,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// A handle to the writer (tests use it to simulate storage faults).
    /// Drop it before stopping: the writer drains once every handle is gone.
    pub fn writer(&self) -> writer::WriterHandle {
        self.state.writer.clone()
    }

    /// Serves until `shutdown` resolves; then stops accepting, lets requests
    /// in flight finish (their writes are committed and answered), and waits
    /// for the writer to drain.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let limits = (*self.state.limits).clone();
        let metrics = self.state.metrics.clone();
        let service = http::service(self.state);
        server::serve(self.listener, service, limits, metrics, shutdown).await;
        // Every handle to the writer is gone with the service: it finishes
        // what is queued and returns.
        let writer = self.writer_thread;
        tokio::task::spawn_blocking(move || writer.join())
            .await?
            .map_err(|_| anyhow::anyhow!("the writer thread panicked"))?;
        Ok(())
    }
}

async fn bootstrap(
    writer: &writer::WriterHandle,
    admin_password: Option<String>,
) -> anyhow::Result<()> {
    let generated = admin_password.is_none();
    let password = admin_password.unwrap_or_else(password::generate);
    let hash = {
        let p = password.clone();
        tokio::task::spawn_blocking(move || password::hash(&p)).await??
    };
    writer
        .execute(Request {
            caller: None,
            request_id: None,
            reason: Some("bootstrap".into()),
            command: Command::Bootstrap {
                admin_password_hash: hash,
            },
        })
        .await
        .context("Failed to bootstrap the database")?;
    if generated {
        // Printed once, on stderr only, and never logged.
        eprintln!("rollcall: bootstrapped a new database; user 'admin' has password: {password}");
        eprintln!("rollcall: set ROLLCALL_ADMIN_PASSWORD to choose it instead.");
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
