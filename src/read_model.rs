//! The published read model: the latest committed [`State`], swapped in
//! atomically after each commit, plus signals for callers waiting on a
//! position: of the log (and state), and of the SQLite views behind it.

use arc_swap::ArcSwap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

use crate::state::State;

pub struct ReadModel {
    current: ArcSwap<State>,
    /// The committed log position; waiters (read-your-writes, live tails) watch it.
    position: watch::Sender<i64>,
    /// The position the SQLite views have reached (the view writer's last
    /// commit); audit queries, which read them, wait on it.
    views: watch::Sender<i64>,
}

impl ReadModel {
    pub fn new(state: State) -> Self {
        let (position, _) = watch::channel(state.head.seq);
        let (views, _) = watch::channel(state.head.seq);
        ReadModel {
            current: ArcSwap::from_pointee(state),
            position,
            views,
        }
    }

    /// A consistent snapshot at one log position; hold it as long as needed.
    pub fn snapshot(&self) -> Arc<State> {
        self.current.load_full()
    }

    /// The latest snapshot, for a question answered at once (an access
    /// check, a session's user). Unlike [`ReadModel::snapshot`] it does not
    /// touch the snapshot's reference count, which every request on every
    /// core would otherwise write; do not hold it across an `.await` or for
    /// long (each thread has a few such guards cheap; more fall back to
    /// counting).
    pub fn peek(&self) -> arc_swap::Guard<Arc<State>> {
        self.current.load()
    }

    /// Publishes a newly committed state. Only the writer calls this.
    pub(crate) fn publish(&self, state: State) {
        let seq = state.head.seq;
        self.current.store(Arc::new(state));
        self.position.send_replace(seq);
    }

    /// Waits until the published state includes position `at_least`, up to
    /// `timeout`. Returns the snapshot, or `None` on time-out.
    pub async fn wait_for(&self, at_least: i64, timeout: Duration) -> Option<Arc<State>> {
        let mut rx = self.position.subscribe();
        let reached = tokio::time::timeout(timeout, rx.wait_for(|p| *p >= at_least)).await;
        match reached {
            Ok(Ok(_)) => Some(self.snapshot()),
            _ => None,
        }
    }

    /// Records that the views now reflect the log up to `seq`. Only the view
    /// writer calls this.
    pub(crate) fn publish_views(&self, seq: i64) {
        self.views.send_replace(seq);
    }

    /// The position the SQLite views have reached.
    pub fn views_position(&self) -> i64 {
        *self.views.borrow()
    }

    /// Waits until the views include position `at_least`, up to `timeout`;
    /// false on time-out.
    pub async fn wait_for_views(&self, at_least: i64, timeout: Duration) -> bool {
        let mut rx = self.views.subscribe();
        let reached = tokio::time::timeout(timeout, rx.wait_for(|p| *p >= at_least)).await;
        matches!(reached, Ok(Ok(_)))
    }

    /// [`ReadModel::wait_for_views`] for threads outside the runtime (tests,
    /// the benchmark's loader): polls, so keep it off the request path.
    pub fn wait_for_views_blocking(&self, at_least: i64, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while self.views_position() < at_least {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }
}
