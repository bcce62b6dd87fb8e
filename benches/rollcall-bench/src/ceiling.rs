//! The ceiling: a minimal axum server answering every request with a fixed
//! small JSON body, as fast as this machine's HTTP stack goes.
//!
//! It runs as a child process (this binary re-executed with [`SUBCOMMAND`]) on
//! a default multi-threaded tokio runtime, exactly as `rollcall serve` does, so
//! both servers get the same cores and compete with the same client.

use anyhow::{bail, Context};
use axum::http::header::CONTENT_TYPE;
use axum::Router;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitCode, Stdio};

/// The hidden first argument that makes this binary the ceiling server.
pub const SUBCOMMAND: &str = "__ceiling-server";

/// What every request gets: about the size of an access-check answer.
const BODY: &str = r#"{"allowed":true,"via":["GLOBAL.Engineering.g00042"],"position":1000000}"#;

/// The child's entry point: bind a loopback port, print it, serve forever.
pub fn serve_main() -> ExitCode {
    let run = || -> anyhow::Result<()> {
        let rt = tokio::runtime::Runtime::new()?;
        rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let mut out = std::io::stdout();
            writeln!(out, "{addr}")?;
            out.flush()?;
            let app =
                Router::new().fallback(|| async { ([(CONTENT_TYPE, "application/json")], BODY) });
            axum::serve(listener, app).await?;
            anyhow::Ok(())
        })
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ceiling server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The running ceiling server; killed when dropped.
pub struct Ceiling {
    child: Child,
    pub addr: SocketAddr,
}

impl Ceiling {
    pub fn start() -> anyhow::Result<Ceiling> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .arg(SUBCOMMAND)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the ceiling server")?;
        let Some(stdout) = child.stdout.take() else {
            bail!("the ceiling server has no stdout");
        };
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let addr = line
            .trim()
            .parse()
            .with_context(|| format!("the ceiling server printed {line:?}, not an address"))?;
        Ok(Ceiling { child, addr })
    }
}

impl Ceiling {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Ceiling {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
