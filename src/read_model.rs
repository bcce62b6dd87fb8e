//! The published read model: the latest committed [`State`], swapped in
//! atomically after each commit, plus a signal for callers waiting on a position.

use arc_swap::ArcSwap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

use crate::state::State;

pub struct ReadModel {
    current: ArcSwap<State>,
    /// The committed log position; waiters (read-your-writes, live tails) watch it.
    position: watch::Sender<i64>,
}

impl ReadModel {
    pub fn new(state: State) -> Self {
        let (position, _) = watch::channel(state.head.seq);
        ReadModel {
            current: ArcSwap::from_pointee(state),
            position,
        }
    }

    /// A consistent snapshot at one log position; hold it as long as needed.
    pub fn snapshot(&self) -> Arc<State> {
        self.current.load_full()
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
}
