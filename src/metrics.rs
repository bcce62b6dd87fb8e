//! The service's counters, gauges and histograms, and their Prometheus text
//! exposition for `/metrics`.
//!
//! Everything on the request and commit paths is a relaxed atomic add; the
//! only lock is a read lock on the route table, taken for write once per new
//! (route, status) pair. Rendering happens on a scrape, off the hot path.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::RwLock;
use std::time::Duration;

/// Upper bounds of the writer batch-size histogram (jobs per transaction).
const BATCH_BOUNDS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 1024.0];
/// Upper bounds of the commit-latency histogram, in seconds.
const COMMIT_BOUNDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// A Prometheus histogram with fixed buckets.
pub struct Histogram {
    bounds: &'static [f64],
    /// Per-bucket (not cumulative) counts; the last is the `+Inf` overflow.
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    /// The sum, in millionths of the unit, so it fits an integer atomic.
    sum_micros: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, value: f64) {
        let i = self
            .bounds
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(self.bounds.len());
        self.buckets[i].fetch_add(1, Relaxed);
        self.count.fetch_add(1, Relaxed);
        self.sum_micros
            .fetch_add((value.max(0.0) * 1e6) as u64, Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, bound) in self.bounds.iter().enumerate() {
            cumulative += self.buckets[i].load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.buckets[self.bounds.len()].load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_micros.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {cumulative}");
    }
}

/// Per-route counters by status code.
type RouteTable = BTreeMap<String, Vec<(u16, AtomicU64)>>;

pub struct Metrics {
    requests: RwLock<RouteTable>,
    pub in_flight: AtomicI64,
    pub connections: AtomicI64,
    pub batch_size: Histogram,
    pub commit_seconds: Histogram,
    /// Transactions that failed to store (disk full, read-only, I/O).
    pub storage_failures: AtomicU64,
    pub logins_throttled: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: RwLock::new(BTreeMap::new()),
            in_flight: AtomicI64::new(0),
            connections: AtomicI64::new(0),
            batch_size: Histogram::new(BATCH_BOUNDS),
            commit_seconds: Histogram::new(COMMIT_BOUNDS),
            storage_failures: AtomicU64::new(0),
            logins_throttled: AtomicU64::new(0),
        }
    }
}

/// Values read at scrape time rather than counted as they happen.
pub struct Gauges {
    /// The newest event in the log file.
    pub log_head: i64,
    /// The position of the published read model.
    pub published: i64,
    /// The position the SQLite views' checkpoint records.
    pub views: i64,
    pub sessions: usize,
}

impl Metrics {
    /// Counts one answered request. `route` is a route template, never a raw
    /// path, so the number of series stays bounded.
    pub fn count_request(&self, route: &str, status: u16) {
        // The usual case: the pair has been seen, and a read lock serves.
        if let Some(statuses) = self.read_table().get(route) {
            if let Some((_, c)) = statuses.iter().find(|(s, _)| *s == status) {
                c.fetch_add(1, Relaxed);
                return;
            }
        }
        let mut table = self.requests.write().unwrap_or_else(|e| e.into_inner());
        let statuses = table.entry(route.to_owned()).or_default();
        match statuses.iter().find(|(s, _)| *s == status) {
            Some((_, c)) => c.fetch_add(1, Relaxed),
            None => {
                statuses.push((status, AtomicU64::new(1)));
                0
            }
        };
    }

    pub fn observe_commit(&self, jobs: usize, took: Duration) {
        self.batch_size.observe(jobs as f64);
        self.commit_seconds.observe(took.as_secs_f64());
    }

    fn read_table(&self) -> std::sync::RwLockReadGuard<'_, RouteTable> {
        // A poisoned lock only means a panic elsewhere mid-insert; the map is intact.
        self.requests.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self, g: &Gauges) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP rollcall_http_requests_total Requests answered, by route template and status.\n# TYPE rollcall_http_requests_total counter\n");
        for (route, statuses) in self.read_table().iter() {
            let mut statuses: Vec<_> = statuses.iter().collect();
            statuses.sort_by_key(|(s, _)| *s);
            for (status, c) in statuses {
                let _ = writeln!(
                    out,
                    "rollcall_http_requests_total{{route=\"{}\",status=\"{status}\"}} {}",
                    escape_label(route),
                    c.load(Relaxed)
                );
            }
        }
        gauge(
            &mut out,
            "rollcall_http_requests_in_flight",
            "Requests being served now.",
            self.in_flight.load(Relaxed),
        );
        gauge(
            &mut out,
            "rollcall_http_connections_open",
            "Client connections open now.",
            self.connections.load(Relaxed),
        );
        self.batch_size.render(
            &mut out,
            "rollcall_writer_batch_size",
            "Jobs committed per writer transaction (group commit).",
        );
        self.commit_seconds.render(
            &mut out,
            "rollcall_commit_seconds",
            "Time to commit one writer transaction durably.",
        );
        counter(
            &mut out,
            "rollcall_storage_failures_total",
            "Writer transactions that could not be stored (disk full, read-only, I/O).",
            self.storage_failures.load(Relaxed),
        );
        counter(
            &mut out,
            "rollcall_logins_throttled_total",
            "Logins refused by the failed-login back-off.",
            self.logins_throttled.load(Relaxed),
        );
        gauge(
            &mut out,
            "rollcall_log_head",
            "Position (seq) of the newest event in the log.",
            g.log_head,
        );
        gauge(
            &mut out,
            "rollcall_read_model_position",
            "Log position the published read model reflects.",
            g.published,
        );
        gauge(
            &mut out,
            "rollcall_projection_lag",
            "Events in the log not yet in the published read model.",
            (g.log_head - g.published).max(0),
        );
        gauge(
            &mut out,
            "rollcall_views_lag",
            "Events in the log the SQLite views (written behind the log) have not reached yet.",
            (g.log_head - g.views).max(0),
        );
        gauge(
            &mut out,
            "rollcall_sessions",
            "Live sessions.",
            g.sessions as i64,
        );
        out
    }
}

fn gauge(out: &mut String, name: &str, help: &str, value: i64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
    );
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
    );
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_render_cumulative_buckets() {
        let m = Metrics::default();
        m.observe_commit(1, Duration::from_micros(300));
        m.observe_commit(3, Duration::from_millis(20));
        m.observe_commit(2000, Duration::from_secs(5));
        let text = m.render(&Gauges {
            log_head: 7,
            published: 7,
            views: 7,
            sessions: 2,
        });
        assert!(text.contains("rollcall_writer_batch_size_bucket{le=\"1\"} 1\n"));
        assert!(text.contains("rollcall_writer_batch_size_bucket{le=\"4\"} 2\n"));
        assert!(text.contains("rollcall_writer_batch_size_bucket{le=\"+Inf\"} 3\n"));
        assert!(text.contains("rollcall_commit_seconds_bucket{le=\"0.0005\"} 1\n"));
        assert!(text.contains("rollcall_commit_seconds_bucket{le=\"0.025\"} 2\n"));
        assert!(text.contains("rollcall_commit_seconds_count 3\n"));
        assert!(text.contains("rollcall_projection_lag 0\n"));
        assert!(text.contains("rollcall_sessions 2\n"));
    }

    #[test]
    fn requests_are_counted_per_route_and_status() {
        let m = Metrics::default();
        m.count_request("/api/v1/users/{user}", 200);
        m.count_request("/api/v1/users/{user}", 200);
        m.count_request("/api/v1/users/{user}", 404);
        let text = m.render(&Gauges {
            log_head: 0,
            published: 0,
            views: 0,
            sessions: 0,
        });
        assert!(text.contains(
            "rollcall_http_requests_total{route=\"/api/v1/users/{user}\",status=\"200\"} 2\n"
        ));
        assert!(text.contains(
            "rollcall_http_requests_total{route=\"/api/v1/users/{user}\",status=\"404\"} 1\n"
        ));
    }
}
