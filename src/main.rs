//! The `rollcall` command line: parse arguments, call into the library, print
//! the error chain once.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

use rollcall::app::{shutdown_signal, Application};
use rollcall::config::Config;

#[derive(Parser)]
#[command(
    name = "rollcall",
    version,
    about = "Event-sourced group-membership service"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the dmadminweb compat API and the JSON API.
    Serve {
        /// The SQLite database file (created and bootstrapped if new).
        #[arg(long, env = "ROLLCALL_DB", default_value = "rollcall.db")]
        db: PathBuf,
        /// The address to listen on.
        #[arg(long, env = "ROLLCALL_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
    },
    /// Drop the views and fold the whole log again.
    Rebuild {
        #[arg(long, env = "ROLLCALL_DB")]
        db: PathBuf,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ROLLCALL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rollcall: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Cmd::Serve { db, listen } => {
            let mut config = Config::new(db, listen);
            config.admin_password = std::env::var("ROLLCALL_ADMIN_PASSWORD")
                .ok()
                .filter(|p| !p.is_empty());
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(async {
                let app = Application::build(config).await?;
                tracing::info!(addr = %app.local_addr()?, "rollcall listening");
                app.run_until_stopped(shutdown_signal()).await
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Rebuild { db } => {
            let mut conn = rollcall::log::open_writer(&db)?;
            let state = rollcall::projector::rebuild(&mut conn)?;
            println!(
                "rebuilt views at position {}: {} domains, {} users, {} groups, {} memberships",
                state.head.seq,
                state.domain_count(),
                state.user_count(),
                state.group_count(),
                state.membership_count()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
