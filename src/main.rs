//! The `rollcall` command line: parse arguments, set up logging, call into
//! the library, print the error chain once.

use clap::{Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use rollcall::app::{shutdown_signal, Application};
use rollcall::audit::progress::Progress;
use rollcall::audit::verify::{Report, TrustedHead};
use rollcall::audit::{as_of, export, generate, history, replay, verify};
use rollcall::config::{parse_duration, Config, Limits, LoginThrottle};
use rollcall::domain::{Ident, Kind};
use rollcall::log;
use rollcall::logging;
use std::io::Write;

/// mimalloc instead of the system allocator: a request allocates and frees
/// dozens of small buffers, and with a million memberships in memory glibc's
/// malloc spent ~10% of an access check in its slow paths.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Fold the log itself (not the stored views) and print the membership as JSON.
    Replay {
        #[arg(long, env = "ROLLCALL_DB")]
        db: PathBuf,
        /// Stop at the last event at or before this RFC 3339 time.
        #[arg(long, conflicts_with = "until_seq")]
        until: Option<String>,
        /// Stop at this log position.
        #[arg(long)]
        until_seq: Option<i64>,
        /// Print only this group's members.
        #[arg(long, conflicts_with = "user")]
        group: Option<String>,
        /// Print only this user's groups.
        #[arg(long)]
        user: Option<String>,
    },
    /// Recompute the chain, check the views against a fresh fold and,
    /// optionally, a head saved earlier. Exits non-zero on any problem.
    Verify {
        #[arg(long, env = "ROLLCALL_DB")]
        db: PathBuf,
        /// A head recorded earlier, as HASH@N: the log must still hold it.
        #[arg(long)]
        trusted_head: Option<TrustedHead>,
    },
    /// Write the log as NDJSON on stdout, one event a line with every column.
    Export {
        #[arg(long, env = "ROLLCALL_DB")]
        db: PathBuf,
        /// Only events after this position.
        #[arg(long, default_value_t = 0)]
        after: i64,
    },
    /// Load an exported log into a new (or empty) database, checking the
    /// chain; writes nothing at all if any line is broken.
    Import {
        #[arg(long, env = "ROLLCALL_DB")]
        db: PathBuf,
        /// The NDJSON file `export` wrote.
        file: PathBuf,
        /// A head recorded earlier, as HASH@N: the file must hold it.
        #[arg(long)]
        trusted_head: Option<TrustedHead>,
    },
    /// A readable timeline of a user or a group, oldest first.
    History {
        #[arg(long, env = "ROLLCALL_DB")]
        db: PathBuf,
        #[arg(long, conflicts_with = "group", required_unless_present = "group")]
        user: Option<String>,
        #[arg(long)]
        group: Option<String>,
    },
    /// Write a deterministic generated log as NDJSON (fixtures, measurements).
    #[command(hide = true)]
    Generate {
        /// At least this many events.
        #[arg(long, default_value_t = 10_000)]
        events: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
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
    // Our own line formats, so that a request's id is on its lines without
    // a span per request (see `rollcall::logging`).
    match format {
        LogFormat::Text => builder.event_format(logging::TextLine::new()).init(),
        LogFormat::Json => builder
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .event_format(logging::JsonLine)
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
        Cmd::Replay {
            db,
            until,
            until_seq,
            group,
            user,
        } => {
            let conn = log::open_reader(&db)?;
            let until = replay::until_position(&conn, until.as_deref(), until_seq)?;
            let progress = Progress::events(until as u64, "replaying");
            let state = replay::replay(&conn, until, &progress)?;
            progress.finish();
            let answer = replay::answer(&state, group.as_deref(), user.as_deref())?;
            let mut out = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &answer)?;
            writeln!(out)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Verify { db, trusted_head } => {
            let conn = log::open_reader(&db)?;
            let total = log::head(&conn)?.map_or(0, |(s, _)| s);
            let progress = Progress::events(total as u64, "verifying");
            let report = verify::verify(&conn, trusted_head.as_ref(), &progress)?;
            progress.finish();
            println!("{report}");
            Ok(match report {
                Report::Ok { .. } => ExitCode::SUCCESS,
                Report::Bad { .. } => ExitCode::FAILURE,
            })
        }
        Cmd::Export { db, after } => {
            let conn = log::open_reader(&db)?;
            let total = log::head(&conn)?.map_or(0, |(s, _)| s);
            let progress = Progress::events((total - after).max(0) as u64, "exporting");
            let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            export::export(&conn, after, &mut out, &progress)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Import {
            db,
            file,
            trusted_head,
        } => {
            let head = export::import(&db, &file, trusted_head.as_ref(), |size| {
                Progress::bytes(size, "importing")
            })?;
            println!("imported {} events\n{}@{}", head.seq, head.hash, head.seq);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::History { db, user, group } => {
            let conn = log::open_reader(&db)?;
            let state = rollcall::views::load(&conn)?;
            let (kind, raw) = match (user, group) {
                (Some(u), _) => (Kind::User, u),
                (None, Some(g)) => (Kind::Group, g),
                (None, None) => anyhow::bail!("give --user or --group"),
            };
            let object = as_of::resolve_any(&conn, &state, None, kind, &Ident::parse(kind, &raw))?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            writeln!(out, "{}", history::heading(kind, &object))?;
            history::for_each(&conn, kind, object.id, |e| {
                writeln!(out, "{}", history::render(&e))
            })?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Generate { events, seed } => {
            let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            generate::generate(events, seed, |rec| {
                serde_json::to_writer(&mut out, rec)?;
                out.write_all(b"\n")?;
                Ok(())
            })?;
            out.flush()?;
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
