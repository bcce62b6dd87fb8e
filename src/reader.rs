//! A small pool of read-only connections for the few reads that must go to
//! SQLite (credentials, and the log itself), run on blocking threads.

use rusqlite::Connection;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct ReadPool {
    path: Arc<PathBuf>,
    idle: Arc<Mutex<Vec<Connection>>>,
}

impl ReadPool {
    pub fn new(path: PathBuf) -> Self {
        ReadPool {
            path: Arc::new(path),
            idle: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Runs `f` with a read connection on a blocking thread.
    pub async fn run<T, F>(&self, f: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> anyhow::Result<T> + Send + 'static,
    {
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = match pool.lock().pop() {
                Some(c) => c,
                None => crate::log::open_reader(&pool.path)?,
            };
            let out = f(&conn);
            pool.lock().push(conn);
            out
        })
        .await?
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        // The vector of idle connections stays valid even if a holder panicked.
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }
}
