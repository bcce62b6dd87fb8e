//! The `rollcall` command line: parse arguments, set up logging, call into
//! the library, print the error chain once.

use clap::{Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use rollcall::app::{shutdown_signal, Application};
use rollcall::config::{parse_duration, Config, Limits, LoginThrottle};

#[derive(Parser)]
#[command(
    name = "rollcall",
    version,
    about = "Event-sourced group-membership service"
)]
struct Cli {
    /// How log lines are written to stderr.
    #[arg(
        long,
        env = "ROLLCALL_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    /// One human-readable line per event, with the request span's fields.
    Text,
    /// One JSON object per line, with the request span's fields.
    Json,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the dmadminweb compat API and the JSON API.
    Serve(Box<ServeArgs>),
    /// Drop the views and fold the whole log again.
    Rebuild {
        #[arg(long, env = "ROLLCALL_DB")]
        db: PathBuf,
    },
    /// Copy a database, even while it is served, and check the copy.
    Backup {
        #[arg(long, env = "ROLLCALL_DB")]
        db: PathBuf,
        /// Where to write the copy; must not exist yet.
        out: PathBuf,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// The SQLite database file (created and bootstrapped if new).
    #[arg(long, env = "ROLLCALL_DB", default_value = "rollcall.db")]
    db: PathBuf,
    /// The address to listen on.
    #[arg(long, env = "ROLLCALL_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// The largest request body accepted, in bytes.
    #[arg(long, env = "ROLLCALL_MAX_BODY_BYTES", default_value_t = Limits::default().max_body_bytes)]
    max_body_bytes: usize,
    /// The largest total size of a request's headers, in bytes.
    #[arg(long, env = "ROLLCALL_MAX_HEADER_BYTES", default_value_t = Limits::default().max_header_bytes)]
    max_header_bytes: usize,
    /// How long a client may take to send its headers (also the keep-alive idle time).
    #[arg(long, env = "ROLLCALL_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    header_timeout: Duration,
    /// How long a request may take to be answered.
    #[arg(long, env = "ROLLCALL_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    request_timeout: Duration,
    /// Connections served at once; more wait to be accepted.
    #[arg(long, env = "ROLLCALL_MAX_CONNECTIONS", default_value_t = Limits::default().max_connections)]
    max_connections: usize,
    /// Failed logins per user name before the back-off starts.
    #[arg(long, env = "ROLLCALL_LOGIN_FREE_PER_USER", default_value_t = LoginThrottle::default().free_per_user)]
    login_free_per_user: u32,
    /// Failed logins per client address before the back-off starts.
    #[arg(long, env = "ROLLCALL_LOGIN_FREE_PER_ADDRESS", default_value_t = LoginThrottle::default().free_per_address)]
    login_free_per_address: u32,
    /// The first lock-out after the free failures; it doubles with each further failure.
    #[arg(long, env = "ROLLCALL_LOGIN_BACKOFF", default_value = "1s", value_parser = parse_duration)]
    login_backoff: Duration,
    /// The longest lock-out.
    #[arg(long, env = "ROLLCALL_LOGIN_BACKOFF_MAX", default_value = "15m", value_parser = parse_duration)]
    login_backoff_max: Duration,
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ROLLCALL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a person at a terminal, never into a journal or file.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rollcall: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve_config(args: ServeArgs) -> Config {
    let mut config = Config::new(args.db, args.listen);
    config.admin_password = std::env::var("ROLLCALL_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    config.limits = Limits {
        max_body_bytes: args.max_body_bytes,
        max_header_bytes: args.max_header_bytes,
        header_read_timeout: args.header_timeout,
        request_timeout: args.request_timeout,
        max_connections: args.max_connections,
    };
    config.login_throttle = LoginThrottle {
        free_per_user: args.login_free_per_user,
        free_per_address: args.login_free_per_address,
        base: args.login_backoff,
        max: args.login_backoff_max,
        ..LoginThrottle::default()
    };
    config
}

fn run(command: Cmd) -> anyhow::Result<ExitCode> {
    match command {
        Cmd::Serve(args) => {
            let config = serve_config(*args);
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
        Cmd::Backup { db, out } => {
            let head = rollcall::backup::backup(&db, &out)?;
            println!(
                "backed up {} to {} at position {} (hash chain and views checked)",
                db.display(),
                out.display(),
                head.seq
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
