//! The HTTP server loop: accepts connections up to a limit, serves each with
//! hyper's HTTP/1 under a header-read time-out and a header-buffer cap, and on
//! shutdown stops accepting, lets requests in flight finish, and returns once
//! every connection has closed.
//!
//! axum's own `serve` offers none of these knobs, so the loop lives here.

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::config::Limits;
use crate::http::Service;
use crate::metrics::Metrics;

/// hyper's read buffer: headers beyond it get hyper's own bare 431 before any
/// route is known. Headers between [`Limits::max_header_bytes`] and this get
/// rollcall's 431 in the API's shape (see `http::guard`).
fn header_buffer(limits: &Limits) -> usize {
    (limits.max_header_bytes * 4).max(64 * 1024)
}

/// Serves `service` on `listener` until `shutdown` resolves, then drains.
pub async fn serve(
    listener: TcpListener,
    service: Service,
    limits: Limits,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(header_buffer(&limits))
        // Copy each answer's body behind its headers and send both with one
        // plain write: answers are small (a check is ~200 bytes in all), so
        // the copy costs less than the vectored write's bookkeeping.
        .writev(false)
        .keep_alive(true);
    tokio::pin!(shutdown);

    loop {
        // Wait for a free slot before accepting: beyond the limit, clients
        // wait in the kernel's listen backlog rather than costing a task.
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, addr) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        let answer = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(addr));
            let service = service.clone();
            async move {
                let res = service.answer(req.map(axum::body::Body::new)).await;
                Ok::<_, std::convert::Infallible>(res)
            }
        });
        let conn = http.serve_connection(TokioIo::new(stream), answer);
        let mut stop = stop_rx.clone();
        let metrics = metrics.clone();
        connections.spawn(async move {
            let _permit = permit;
            metrics.connections.fetch_add(1, Ordering::Relaxed);
            tokio::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                _ = async { let _ = stop.wait_for(|stopping| *stopping).await; } => {
                    // Finish the request in flight, if any, then close.
                    conn.as_mut().graceful_shutdown();
                    conn.as_mut().await
                }
            };
            metrics.connections.fetch_sub(1, Ordering::Relaxed);
            if let Err(e) = result {
                // Header time-outs, resets, malformed requests: the client's
                // problem, worth a debug line and no more.
                tracing::debug!(client = %addr, error = %e, "connection ended with an error");
            }
        });
    }

    drop(listener);
    let _ = stop_tx.send(true);
    while connections.join_next().await.is_some() {}
}
