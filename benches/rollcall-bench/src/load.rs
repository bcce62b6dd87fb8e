//! The load generator: a fixed number of keep-alive HTTP/1.1 connections, each
//! a task sending requests back to back for a fixed time, latencies recorded
//! into an HDR histogram.
//!
//! One connection per task (hyper's low-level client, no pool) so the
//! connection count is exactly what the table says, for the ceiling and for
//! rollcall alike.

use anyhow::Context;
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderValue, CONTENT_TYPE, COOKIE, HOST};
use hyper::{Method, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// Latencies are recorded in microseconds, from 1 µs to 60 s, 3 significant digits.
const HIST_MAX_US: u64 = 60_000_000;

/// One request to send: the body, when present, is JSON.
pub struct Req {
    pub method: Method,
    pub path: String,
    pub body: Option<Bytes>,
}

impl Req {
    pub fn get(path: String) -> Req {
        Req {
            method: Method::GET,
            path,
            body: None,
        }
    }
}

/// How an answer counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A correct answer.
    Ok,
    /// A correct answer of the kind the scenario counts separately
    /// (a write that changed something, a check that was allowed).
    Marked,
    /// A wrong status or body: counted as an error.
    Failed,
}

/// What a scenario sends and how it judges the answers. `Conn` is the
/// per-connection state (a random generator, a pending write).
pub trait Workload: Send + Sync + 'static {
    type Conn: Send + 'static;
    fn connection(&self, index: usize) -> Self::Conn;
    fn next(&self, conn: &mut Self::Conn) -> Req;
    fn verdict(&self, conn: &mut Self::Conn, status: StatusCode, body: &[u8]) -> Verdict;
    /// A request sent after the measurement ends, unmeasured (e.g. undoing a
    /// pending assign so the data set is left as it was).
    fn wind_down(&self, _conn: &mut Self::Conn) -> Option<Req> {
        None
    }
}

/// Where requests go, and the session cookie they carry (if any).
#[derive(Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub cookie: Option<String>,
}

/// How long and how wide a run is.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub connections: usize,
    /// Requests before this are sent but not recorded.
    pub warmup: Duration,
    pub duration: Duration,
}

/// The outcome of a run.
pub struct Measured {
    pub requests: u64,
    pub marked: u64,
    pub errors: u64,
    pub elapsed: Duration,
    /// Latencies of every recorded request (errors included), in µs.
    pub hist: Histogram<u64>,
    /// The first wrong answer seen, to say what went wrong.
    pub first_error: Option<String>,
    /// Every request sent, warm-up and wind-down included.
    pub sent: u64,
    /// Bytes the server process wrote to storage during the whole run, when
    /// the caller measured it.
    pub server_written: Option<u64>,
    /// Events the run appended to the log and the commits they took, when
    /// the caller measured it.
    pub appended: Option<Appended>,
    /// The server's own group-commit figures over the run, when it has them.
    pub writer: Option<WriterStats>,
    /// CPU time (user and system) the server process used during the whole
    /// run, when the caller measured it: with [`Measured::sent`], the
    /// server's cost per request, which the machine's drifting speed moves
    /// far less than it moves a rate.
    pub server_cpu: Option<Duration>,
}

/// What the writer did during a run, from the server's `/metrics`
/// (`rollcall_writer_batch_size` and `rollcall_commit_seconds`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WriterStats {
    /// Transactions committed.
    pub batches: f64,
    /// Jobs (commands and session writes) in them.
    pub jobs: f64,
    /// Time spent running batches: decide, append, fold, commit.
    pub busy_seconds: f64,
    /// The run's wall time, to say how busy the writer was.
    pub wall_seconds: f64,
}

#[derive(Clone, Copy, Debug)]
pub struct Appended {
    pub events: u64,
    pub commits: u64,
}

impl Measured {
    /// Nothing yet, over `elapsed`.
    fn empty(elapsed: Duration) -> Measured {
        Measured {
            requests: 0,
            marked: 0,
            errors: 0,
            elapsed,
            hist: histogram(),
            first_error: None,
            sent: 0,
            server_written: None,
            appended: None,
            writer: None,
            server_cpu: None,
        }
    }

    /// Adds the counts and latencies of `part`, measured over the same time
    /// (another connection of the same run).
    fn absorb(&mut self, part: Measured) -> anyhow::Result<()> {
        self.requests += part.requests;
        self.marked += part.marked;
        self.errors += part.errors;
        self.sent += part.sent;
        self.hist.add(&part.hist)?;
        if self.first_error.is_none() {
            self.first_error = part.first_error;
        }
        Ok(())
    }

    /// This run and `later`, a run of the same load after it, as one
    /// measurement: counts, latencies and time add up, so the rate is the
    /// requests of both over the time of both.
    pub fn then(mut self, later: Measured) -> anyhow::Result<Measured> {
        self.elapsed += later.elapsed;
        self.server_cpu = self.server_cpu.zip(later.server_cpu).map(|(a, b)| a + b);
        self.absorb(later)?;
        Ok(self)
    }

    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    /// The server's CPU time per request sent, in µs, when it was measured.
    pub fn cpu_us_per_request(&self) -> Option<f64> {
        self.server_cpu
            .map(|cpu| cpu.as_secs_f64() * 1e6 / self.sent.max(1) as f64)
    }

    /// The latency at quantile `q` (0..1), in milliseconds.
    pub fn ms(&self, q: f64) -> f64 {
        self.hist.value_at_quantile(q) as f64 / 1000.0
    }
}

pub fn histogram() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts; failure is a bug here.
    Histogram::new_with_bounds(1, HIST_MAX_US, 3).expect("valid histogram bounds")
}

/// Records `d` into `h`, clamped to the histogram's range.
pub fn record(h: &mut Histogram<u64>, d: Duration) {
    let us = (d.as_micros() as u64).clamp(1, HIST_MAX_US);
    h.saturating_record(us);
}

/// An open HTTP/1.1 connection.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: HeaderValue,
}

pub async fn connect(addr: SocketAddr) -> anyhow::Result<Conn> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // Ends when the connection closes; a broken connection shows up as a
        // failed request on the sending side.
        let _ = connection.await;
    });
    Ok(Conn {
        sender,
        host: HeaderValue::from_str(&addr.to_string())?,
    })
}

impl Conn {
    /// Sends one request and reads the whole answer.
    pub async fn send(
        &mut self,
        cookie: Option<&HeaderValue>,
        req: Req,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let mut builder = hyper::Request::builder()
            .method(req.method)
            .uri(req.path)
            .header(HOST, self.host.clone());
        if let Some(c) = cookie {
            builder = builder.header(COOKIE, c.clone());
        }
        if req.body.is_some() {
            builder = builder.header(CONTENT_TYPE, "application/json");
        }
        let request = builder.body(Full::new(req.body.unwrap_or_default()))?;
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}

/// Runs `workload` against `target` with `shape.connections` connections for
/// `shape.warmup + shape.duration`, recording only the last `duration`.
pub async fn drive<W: Workload>(
    target: &Target,
    workload: Arc<W>,
    shape: Shape,
) -> anyhow::Result<Measured> {
    let cookie = target
        .cookie
        .as_deref()
        .map(HeaderValue::from_str)
        .transpose()?;
    let start = Instant::now() + shape.warmup;
    let end = start + shape.duration;
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..shape.connections {
        let workload = workload.clone();
        let cookie = cookie.clone();
        let addr = target.addr;
        tasks
            .spawn(async move { connection_loop(addr, cookie, workload, index, start, end).await });
    }
    let mut total = Measured::empty(shape.duration);
    while let Some(done) = tasks.join_next().await {
        total.absorb(done.context("a load task panicked")??)?;
    }
    Ok(total)
}

async fn connection_loop<W: Workload>(
    addr: SocketAddr,
    cookie: Option<HeaderValue>,
    workload: Arc<W>,
    index: usize,
    start: Instant,
    end: Instant,
) -> anyhow::Result<Measured> {
    let mut state = workload.connection(index);
    let mut tally = Measured::empty(end - start);
    let mut conn = connect(addr).await?;
    loop {
        let sent = Instant::now();
        if sent >= end {
            break;
        }
        let req = workload.next(&mut state);
        let outcome = conn.send(cookie.as_ref(), req).await;
        let took = sent.elapsed();
        tally.sent += 1;
        let measuring = sent >= start;
        let verdict = match &outcome {
            Ok((status, body)) => workload.verdict(&mut state, *status, body),
            Err(_) => Verdict::Failed,
        };
        if measuring {
            tally.requests += 1;
            record(&mut tally.hist, took);
            match verdict {
                Verdict::Ok => {}
                Verdict::Marked => tally.marked += 1,
                Verdict::Failed => {
                    tally.errors += 1;
                    if tally.first_error.is_none() {
                        tally.first_error = Some(match &outcome {
                            Ok((status, body)) => {
                                format!("{status}: {}", String::from_utf8_lossy(body))
                            }
                            Err(e) => format!("{e:#}"),
                        });
                    }
                }
            }
        }
        if outcome.is_err() {
            // The connection is broken: open a new one and go on.
            conn = connect(addr).await?;
        }
    }
    if let Some(req) = workload.wind_down(&mut state) {
        let _ = conn.send(cookie.as_ref(), req).await;
        tally.sent += 1;
    }
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;

    /// Sends `/ok` and `/bad` in turn; `/ok` answers are marked.
    struct Alternate;

    impl Workload for Alternate {
        type Conn = bool;

        fn connection(&self, index: usize) -> bool {
            index % 2 == 0
        }

        fn next(&self, flip: &mut bool) -> Req {
            *flip = !*flip;
            Req::get(if *flip { "/ok" } else { "/bad" }.into())
        }

        fn verdict(&self, _: &mut bool, status: StatusCode, body: &[u8]) -> Verdict {
            match (status, body) {
                (StatusCode::OK, b"yes") => Verdict::Marked,
                _ => Verdict::Failed,
            }
        }
    }

    #[tokio::test]
    async fn every_answer_is_counted_once_and_judged() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = axum::Router::new()
            .route("/ok", get(|| async { "yes" }))
            .route(
                "/bad",
                get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "no") }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await });
        let shape = Shape {
            connections: 4,
            warmup: Duration::from_millis(20),
            duration: Duration::from_millis(200),
        };
        let target = Target { addr, cookie: None };
        let m = drive(&target, Arc::new(Alternate), shape)
            .await
            .expect("drives");
        assert!(m.requests > 0);
        assert_eq!(m.hist.len(), m.requests);
        assert_eq!(m.marked + m.errors, m.requests);
        assert!(
            m.sent > m.requests,
            "warm-up requests are sent, not recorded"
        );
        // Each connection alternates, so neither kind can dominate by more
        // than one request per connection.
        assert!(m.marked.abs_diff(m.errors) <= shape.connections as u64);
        let first = m.first_error.expect("an error was seen");
        assert!(first.starts_with("500"), "{first}");
    }

    #[test]
    fn two_runs_pool_into_one_rate_and_one_histogram() {
        let run = |requests: u64, secs: u64, latency_us: u64| {
            let mut m = Measured::empty(Duration::from_secs(secs));
            m.requests = requests;
            m.sent = requests;
            for _ in 0..requests {
                m.hist.record(latency_us).expect("in range");
            }
            m
        };
        let before = run(100, 1, 1_000);
        let after = run(300, 3, 9_000);
        let pooled = before.then(after).expect("pools");
        assert_eq!(pooled.requests, 400);
        assert_eq!(pooled.elapsed, Duration::from_secs(4));
        assert_eq!(pooled.rps(), 100.0);
        assert_eq!(pooled.hist.len(), 400);
        // A quarter of the answers took 1 ms, the rest 9 ms.
        assert!((pooled.ms(0.2) - 1.0).abs() < 0.01, "{}", pooled.ms(0.2));
        assert!((pooled.ms(0.5) - 9.0).abs() < 0.01, "{}", pooled.ms(0.5));
    }
}
