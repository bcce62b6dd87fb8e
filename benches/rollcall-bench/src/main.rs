//! rollcall-bench: builds a data set through rollcall's real write path,
//! starts the real `rollcall serve` on it, drives it over loopback beside a
//! minimal axum server (the ceiling) and an fsync-per-write loop (the floor),
//! times the offline commands, and prints the results as Markdown tables.
//!
//! `cargo run --release -p rollcall-bench -- [--quick]`

mod ceiling;
mod dataset;
mod fsync;
mod load;
mod offline;
mod report;
mod scenarios;
mod server;

use anyhow::Context;
use hyper::Method;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dataset::{DataSet, Size};
use load::{Measured, Req, Shape, Target, Workload};
use report::{met, ms, percent, thousands};
use scenarios::{Api, Read};

const USAGE: &str = "usage: rollcall-bench [--quick] [--rollcall PATH] [--dir DIR] [--keep]

  --quick          a data set a tenth the size and short scenarios
  --rollcall PATH  the rollcall binary to measure (default: build it with cargo)
  --dir DIR        where the temporary database goes (default: the system temp dir)
  --keep           keep the database afterwards (to profile rebuild or serve on it)";

/// Connections for every HTTP scenario and the ceiling alike.
const CONNECTIONS: usize = 64;

struct Options {
    quick: bool,
    rollcall: Option<PathBuf>,
    dir: Option<PathBuf>,
    keep: bool,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut opts = Options {
        quick: false,
        rollcall: None,
        dir: None,
        keep: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => opts.quick = true,
            "--rollcall" => {
                opts.rollcall = Some(it.next().ok_or("--rollcall needs a path")?.into())
            }
            "--dir" => opts.dir = Some(it.next().ok_or("--dir needs a path")?.into()),
            "--keep" => opts.keep = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(opts)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(ceiling::SUBCOMMAND) {
        return ceiling::serve_main();
    }
    let opts = match parse(&args) {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("rollcall-bench: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = tokio::runtime::Runtime::new()
        .context("starting the client runtime")
        .and_then(|rt| rt.block_on(run(opts)));
    match result {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rollcall-bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// How long and how big the run is.
struct Plan {
    size: Size,
    shape: Shape,
    /// The fsync floor at the start, alone on the disk.
    floor: Duration,
    /// The fsync floor again right before each write scenario.
    paired_floor: Duration,
    as_of: Duration,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                size: Size::QUICK,
                shape: Shape {
                    connections: CONNECTIONS,
                    warmup: Duration::from_millis(500),
                    duration: Duration::from_secs(2),
                },
                floor: Duration::from_secs(1),
                paired_floor: Duration::from_millis(500),
                as_of: Duration::from_secs(1),
            }
        } else {
            Plan {
                size: Size::FULL,
                shape: Shape {
                    connections: CONNECTIONS,
                    warmup: Duration::from_secs(1),
                    duration: Duration::from_secs(5),
                },
                floor: Duration::from_secs(3),
                paired_floor: Duration::from_secs(1),
                as_of: Duration::from_secs(2),
            }
        }
    }
}

fn progress(what: &str) {
    eprintln!("rollcall-bench: {what}");
}

/// A scenario's measurement, with the ceiling measured right before and
/// right after it and pooled (and, for writes, the fsync floor measured right
/// before it): on a machine whose load drifts, a ratio is only fair between
/// runs seconds apart, and a ceiling on both sides of the scenario does not
/// favour either end of a drift.
struct Run {
    m: Measured,
    ceiling: Option<Measured>,
    /// The ceiling's rate before and after the scenario, to show its spread.
    ceiling_sides: Option<(f64, f64)>,
    floor: Option<fsync::Floor>,
}

/// A measured HTTP scenario, or why it was not measured.
type Outcome = Result<Run, String>;

/// What to measure right before a scenario, to compare it with.
struct Pair {
    /// The ceiling, sent these requests.
    ceiling: scenarios::Checks,
    /// The fsync floor in this directory, for this long (write scenarios).
    floor: Option<(PathBuf, Duration)>,
}

const NOT_PRESENT: &str = "n/a: endpoint not present";

/// The server process and its database, watched while a scenario runs.
#[derive(Clone, Copy)]
struct Watch<'a> {
    pid: u32,
    db: &'a Path,
}

/// Probes the scenario's endpoint with one request (undone if it wrote), then
/// measures what `pair` asks for, then drives the scenario; an endpoint that
/// answers 404 (no route) is not measured. The CPU time of the server process
/// `pid` is taken over the run; with `watch`, also what the server wrote and
/// appended.
async fn scenario<W: Workload>(
    name: &str,
    target: &Target,
    workload: W,
    shape: Shape,
    pid: u32,
    watch: Option<Watch<'_>>,
    pair: Option<Pair>,
) -> anyhow::Result<Outcome> {
    let workload = Arc::new(workload);
    let mut conn = workload.connection(0);
    let (status, body) = scenarios::once(target, workload.next(&mut conn)).await?;
    if let Some(undo) = workload.wind_down(&mut conn) {
        scenarios::once(target, undo).await?;
    }
    if scenarios::route_missing(status, &body) {
        progress(&format!("{name}: {NOT_PRESENT}"));
        return Ok(Err(NOT_PRESENT.into()));
    }
    let (mut ceiling, mut floor, mut ceiling_checks) = (None, None, None);
    if let Some(pair) = pair {
        if let Some((dir, time)) = pair.floor {
            let f = tokio::task::spawn_blocking(move || fsync::measure(&dir, time)).await??;
            progress(&format!(
                "fsync floor: {} commits/s",
                thousands(f.per_second())
            ));
            floor = Some(f);
        }
        ceiling = Some(measure_ceiling(pair.ceiling.clone(), shape).await?);
        ceiling_checks = Some(pair.ceiling);
    }
    progress(&format!(
        "{name}: {} connections for {:?}",
        shape.connections, shape.duration
    ));
    let before = match watch {
        Some(w) => Some((
            server::written(w.pid),
            log_head(w.db).await?,
            scenarios::writer_metrics(target).await?,
        )),
        None => None,
    };
    let cpu_before = server::cpu_time(pid);
    let started = Instant::now();
    let mut m = load::drive(target, workload, shape).await?;
    let wall_seconds = started.elapsed().as_secs_f64();
    m.server_cpu = cpu_before
        .zip(server::cpu_time(pid))
        .map(|(before, after)| after.saturating_sub(before));
    if let (Some(w), Some((written, head, metrics))) = (watch, before) {
        if let (Some(a), Some(b)) = (metrics, scenarios::writer_metrics(target).await?) {
            m.writer = Some(load::WriterStats {
                batches: b.batches - a.batches,
                jobs: b.jobs - a.jobs,
                busy_seconds: b.busy_seconds - a.busy_seconds,
                wall_seconds,
            });
        }
        m.server_written = written
            .zip(server::written(w.pid))
            .map(|(before, after)| after.saturating_sub(before));
        let now = log_head(w.db).await?;
        if now > head {
            let db = w.db.to_owned();
            m.appended =
                Some(tokio::task::spawn_blocking(move || server::appended(&db, head, now)).await??);
        }
    }
    progress(&format!(
        "{name}: {} req/s, p99 {} ms, {} errors",
        thousands(m.rps()),
        ms(m.ms(0.99)),
        m.errors
    ));
    let mut ceiling_sides = None;
    if let (Some(before), Some(checks)) = (ceiling.take(), ceiling_checks) {
        let after = measure_ceiling(checks, shape).await?;
        ceiling_sides = Some((before.rps(), after.rps()));
        ceiling = Some(before.then(after)?);
    }
    Ok(Ok(Run {
        m,
        ceiling,
        ceiling_sides,
        floor,
    }))
}

/// The log head, read off the executor (SQLite blocks).
async fn log_head(db: &Path) -> anyhow::Result<i64> {
    let db = db.to_owned();
    tokio::task::spawn_blocking(move || server::log_head(&db)).await?
}

async fn measure_ceiling(checks: scenarios::Checks, shape: Shape) -> anyhow::Result<Measured> {
    let ceiling = ceiling::Ceiling::start()?;
    let target = Target {
        addr: ceiling.addr,
        cookie: Some("token=0000000000000000000000000000000000000000000".into()),
    };
    let outcome = Box::pin(scenario(
        "ceiling",
        &target,
        scenarios::CeilingLoad(checks),
        shape,
        ceiling.pid(),
        None,
        None,
    ))
    .await?;
    outcome
        .map(|run| run.m)
        .map_err(|e| anyhow::anyhow!("the ceiling server was not measured: {e}"))
}

/// Everything the run measured, for the report.
struct Results {
    started: chrono::DateTime<chrono::Utc>,
    load_before: String,
    load_after: String,
    took: Duration,
    bin: PathBuf,
    data: Arc<DataSet>,
    events_after: i64,
    floor: fsync::Floor,
    grants: Result<scenarios::Loaded, String>,
    http: Vec<(&'static str, Outcome, Option<&'static str>)>,
    startup: Duration,
    rss_start: Option<u64>,
    rss_peak: Option<u64>,
    as_of: Outcome,
    rebuild: Option<Duration>,
    verify: Option<Duration>,
}

async fn run(opts: Options) -> anyhow::Result<String> {
    let plan = Plan::new(opts.quick);
    let bin = tokio::task::spawn_blocking(move || server::locate(opts.rollcall)).await??;
    // The run proper starts once the binary is built.
    let started = chrono::Utc::now();
    let clock = Instant::now();
    let load_before = report::load_average();
    let mut tmp = tempfile::Builder::new();
    tmp.prefix("rollcall-bench-");
    let dir = match &opts.dir {
        Some(d) => tmp.tempdir_in(d)?,
        None => tmp.tempdir()?,
    };
    let db = dir.path().join("rollcall.db");
    progress(&format!("working in {}", dir.path().display()));

    progress(&format!(
        "fsync floor: one commit per row for {:?}",
        plan.floor
    ));
    let floor_dir = dir.path().to_owned();
    let floor_time = plan.floor;
    let floor =
        tokio::task::spawn_blocking(move || fsync::measure(&floor_dir, floor_time)).await??;
    progress(&format!(
        "fsync floor: {} commits/s",
        thousands(floor.per_second())
    ));

    progress(&format!(
        "building the data set: {} users, {} groups, {} memberships",
        plan.size.users,
        plan.size.groups,
        plan.size.memberships()
    ));
    let data = Arc::new(dataset::build(&db, plan.size).await?);
    progress(&format!(
        "data set: {} events in {:.1} s",
        data.head,
        data.took.as_secs_f64()
    ));

    let spawned = Instant::now();
    let mut server = server::Server::start(&bin, &db, &dir.path().join("server.log"))?;
    let ready = server.wait_ready(Duration::from_secs(120)).await?;
    let startup = ready - spawned;
    let rss_start = server.peak_rss();
    progress(&format!(
        "rollcall serve answered after {} ms",
        startup.as_millis()
    ));

    let mut target = Target {
        addr: server.addr,
        cookie: None,
    };
    target.cookie = Some(scenarios::login(&target).await?);

    let plan_grants = scenarios::grant_plan(&data);
    let probe = Req {
        method: Method::PUT,
        path: "/api/v1/grants".into(),
        body: plan_grants.bodies.first().cloned(),
    };
    let (status, body) = scenarios::once(&target, probe).await?;
    let (grants, objects) = if scenarios::route_missing(status, &body) {
        progress(&format!("grants: {NOT_PRESENT}"));
        (Err(NOT_PRESENT.to_owned()), Vec::new())
    } else {
        progress(&format!("loading {} grants", plan_grants.bodies.len()));
        let loaded = scenarios::load_grants(&target, plan_grants.bodies, CONNECTIONS).await?;
        (Ok(loaded), plan_grants.objects)
    };
    let objects = Arc::new(objects);
    let checks = || scenarios::Checks {
        data: data.clone(),
        objects: objects.clone(),
    };

    let shape = plan.shape;
    let watch = Some(Watch {
        pid: server.pid(),
        db: &db,
    });
    let pair = |floor: bool| {
        Some(Pair {
            ceiling: checks(),
            floor: floor.then(|| (dir.path().to_owned(), plan.paired_floor)),
        })
    };
    let mut http = Vec::new();
    for (name, api) in [
        ("1. assign/unassign, compat GET + cookie", Api::Compat),
        ("2. assign/unassign, JSON PUT/DELETE", Api::Json),
    ] {
        let w = scenarios::Writes {
            api,
            data: data.clone(),
            connections: shape.connections,
        };
        let marked = (api == Api::Json).then_some("changed");
        http.push((
            name,
            scenario(name, &target, w, shape, server.pid(), watch, pair(true)).await?,
            marked,
        ));
    }
    let name = "3. access check";
    http.push((
        name,
        scenario(
            name,
            &target,
            checks(),
            shape,
            server.pid(),
            watch,
            pair(false),
        )
        .await?,
        Some("allowed"),
    ));
    for (name, read) in [
        ("4a. a user's groups", Read::UserGroups),
        ("4b. a group's members, page of 100", Read::GroupMembers),
    ] {
        let w = scenarios::Reads {
            read,
            data: data.clone(),
        };
        http.push((
            name,
            scenario(name, &target, w, shape, server.pid(), watch, pair(false)).await?,
            None,
        ));
    }

    let as_of = if scenarios::as_of_supported(&target, &data).await? {
        let one = Shape {
            connections: 1,
            warmup: Duration::from_millis(200),
            duration: plan.as_of,
        };
        let w = scenarios::AsOf {
            position: data.head,
        };
        scenario("as_of members", &target, w, one, server.pid(), watch, None).await?
    } else {
        progress("as_of: n/a: not supported");
        Err("n/a: as_of not supported".into())
    };

    let rss_peak = server.peak_rss();
    progress("stopping rollcall serve");
    server.stop()?;
    let events_after: i64 = rusqlite::Connection::open(&db)?.query_row(
        "SELECT coalesce(max(seq), 0) FROM events",
        [],
        |r| r.get(0),
    )?;

    progress(&format!("rollcall rebuild on {events_after} events"));
    let rebuild = offline::timed(&bin, "rebuild", &db)?;
    progress(&format!("rollcall verify on {events_after} events"));
    let verify = offline::timed(&bin, "verify", &db)?;
    if verify.is_none() {
        progress("verify: n/a: subcommand not present");
    }
    if opts.keep {
        progress(&format!(
            "kept the database: {}",
            dir.keep().join("rollcall.db").display()
        ));
    }

    let results = Results {
        started,
        load_before,
        load_after: report::load_average(),
        took: clock.elapsed(),
        bin,
        data,
        events_after,
        floor,
        grants,
        http,
        startup,
        rss_start,
        rss_peak,
        as_of,
        rebuild,
        verify,
    };
    Ok(render(&results, opts.quick))
}

fn render(r: &Results, quick: bool) -> String {
    let mut out = String::new();
    let data = &r.data;
    let size = &data.size;
    let shape = Plan::new(quick).shape;

    let _ = writeln!(
        out,
        "# rollcall benchmark{}\n",
        if quick { " (--quick)" } else { "" }
    );
    let _ = writeln!(out, "- date: {}", r.started.format("%Y-%m-%d %H:%M UTC"));
    let _ = writeln!(
        out,
        "- command: `cargo run --release -p rollcall-bench{}`",
        if quick { " -- --quick" } else { "" }
    );
    let _ = writeln!(out, "- machine: {}", report::machine());
    let _ = writeln!(
        out,
        "- load average (1/5/15 min) before: {}, after: {}",
        r.load_before, r.load_after
    );
    let _ = writeln!(out, "- server: `{} serve`", r.bin.display());
    let _ = writeln!(
        out,
        "- data set: {} users and {} groups in {} domains (nested up to 4 deep), {} memberships: \
         {} events, built through the writer in {:.1} s ({} events/s; {})",
        thousands(size.users as f64),
        thousands(size.groups as f64),
        data.domains.len(),
        thousands(size.memberships() as f64),
        thousands(data.head as f64),
        data.took.as_secs_f64(),
        thousands(data.head as f64 / data.took.as_secs_f64()),
        data.phases
            .iter()
            .map(|p| format!(
                "{}: {} commands in {:.1} s",
                p.name,
                thousands(p.commands as f64),
                p.took.as_secs_f64()
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        out,
        "- grants: {}",
        match &r.grants {
            Ok(g) => format!(
                "{} via PUT /api/v1/grants in {:.1} s, {} errors{}",
                thousands(g.count as f64),
                g.took.as_secs_f64(),
                g.errors,
                g.first_error
                    .as_ref()
                    .map(|e| format!(" (first: {e})"))
                    .unwrap_or_default()
            ),
            Err(e) => e.clone(),
        }
    );
    let _ = writeln!(
        out,
        "- client: {} keep-alive HTTP/1.1 connections (hyper), each sending back to back; \
         {:?} warm-up, then {:?} measured; same process shape for rollcall and the ceiling",
        shape.connections, shape.warmup, shape.duration
    );
    let _ = writeln!(
        out,
        "- whole run: {:.0} s (after building the binaries)\n",
        r.took.as_secs_f64()
    );

    let _ = writeln!(out, "## HTTP, {} connections\n", shape.connections);
    let mut rows = Vec::new();
    let mut ceilings = Vec::new();
    for (name, outcome, marked) in &r.http {
        let run = match outcome {
            Ok(run) => run,
            Err(why) => {
                let mut row = vec![name.to_string()];
                row.extend((0..11).map(|_| "–".to_owned()));
                row.push(why.clone());
                rows.push(row);
                continue;
            }
        };
        let m = &run.m;
        let mut notes = Vec::new();
        if let Some(label) = marked {
            notes.push(format!(
                "{label} {}",
                percent(m.marked as f64 / m.requests.max(1) as f64)
            ));
        }
        if let Some(a) = m.appended {
            notes.push(format!(
                "{} events in {} commits ({:.0} per commit)",
                thousands(a.events as f64),
                thousands(a.commits as f64),
                a.events as f64 / a.commits.max(1) as f64
            ));
        }
        if let Some(w) = m.writer.filter(|w| w.batches > 0.0) {
            notes.push(format!(
                "writer: {:.0} jobs/batch, {} ms/batch, busy {}",
                w.jobs / w.batches,
                ms(w.busy_seconds * 1000.0 / w.batches),
                percent(w.busy_seconds / w.wall_seconds)
            ));
        }
        if let Some(bytes) = m.server_written {
            notes.push(format!(
                "{:.1} KB to disk/request",
                bytes as f64 / 1000.0 / m.sent.max(1) as f64
            ));
        }
        if let Some(f) = &run.floor {
            notes.push(format!(
                "fsync floor just before: {} commits/s",
                thousands(f.per_second())
            ));
        }
        if let Some((before, after)) = run.ceiling_sides {
            notes.push(format!(
                "ceiling before/after: {} / {} req/s",
                thousands(before),
                thousands(after)
            ));
            ceilings.extend([before, after]);
        }
        if let Some(e) = &m.first_error {
            notes.push(format!("first error: {}", truncate(e, 80)));
        }
        let vs = |f: &dyn Fn(&Measured) -> String| run.ceiling.as_ref().map_or("–".into(), f);
        let cpu = m.cpu_us_per_request();
        rows.push(vec![
            name.to_string(),
            thousands(m.rps()),
            vs(&|c| thousands(c.rps())),
            vs(&|c| percent(m.rps() / c.rps())),
            cpu.map_or("–".into(), |us| format!("{us:.1}")),
            vs(&|c| match (cpu, c.cpu_us_per_request()) {
                (Some(us), Some(c)) if c > 0.0 => format!("{:.1}×", us / c),
                _ => "–".into(),
            }),
            ms(m.ms(0.5)),
            ms(m.ms(0.99)),
            ms(m.ms(0.999)),
            vs(&|c| ms(c.ms(0.99))),
            vs(&|c| format!("{:.1}×", m.ms(0.99) / c.ms(0.99))),
            m.errors.to_string(),
            notes.join("; "),
        ]);
    }
    out.push_str(&report::table(
        &[
            "scenario",
            "req/s",
            "ceiling req/s",
            "÷ ceiling",
            "server CPU µs/req",
            "÷ ceiling's",
            "p50 ms",
            "p99 ms",
            "p99.9 ms",
            "ceiling p99 ms",
            "p99 ÷ ceiling p99",
            "errors",
            "notes",
        ],
        &rows,
    ));
    let low = ceilings.iter().copied().fold(f64::INFINITY, f64::min);
    let high = ceilings.iter().copied().fold(0.0, f64::max);
    if !ceilings.is_empty() {
        let _ = writeln!(
            out,
            "\nThe ceiling (a minimal axum server answering a fixed JSON body, same client, \
             same connections, the check scenario's requests) is measured right before and \
             right after each scenario, for as long as the scenario each time; the two are \
             pooled (requests over time, one latency histogram) and the ratios are to that. \
             Over this run a single ceiling measurement ranged from {} to {} req/s: that \
             spread is the machine's noise. Server CPU per request is the server process's \
             user and system time over the whole run (warm-up included) over the requests \
             sent, and the ceiling's is its own process's, measured the same way: a cost, \
             which the machine's drift moves less than it moves a rate.\n",
            thousands(low),
            thousands(high)
        );
    }

    let _ = writeln!(out, "## Offline, start-up and memory\n");
    let per_s = |d: Option<Duration>| d.map(|d| r.events_after as f64 / d.as_secs_f64());
    let mut rows = vec![vec![
        "fsync floor at the start: one commit per row, WAL, synchronous=FULL".to_owned(),
        format!("{} commits/s", thousands(r.floor.per_second())),
        format!(
            "p50 {} ms, p99 {} ms, same disk as the database",
            ms(r.floor.hist.value_at_quantile(0.5) as f64 / 1000.0),
            ms(r.floor.hist.value_at_quantile(0.99) as f64 / 1000.0)
        ),
    ]];
    for (label, d) in [
        ("rollcall rebuild", r.rebuild),
        ("rollcall verify", r.verify),
    ] {
        rows.push(match per_s(d) {
            Some(rate) => vec![
                format!("`{label}` on {} events", thousands(r.events_after as f64)),
                format!("{} events/s", thousands(rate)),
                format!(
                    "{:.2} s wall, whole process",
                    d.map_or(0.0, |d| d.as_secs_f64())
                ),
            ],
            None => vec![
                format!("`{label}`"),
                "–".into(),
                "n/a: subcommand not present".into(),
            ],
        });
    }
    rows.push(match &r.as_of {
        Ok(Run { m, .. }) => vec![
            format!(
                "`as_of` members of a {}-member group at position {}",
                thousands(size.big_group as f64),
                thousands(data.head as f64)
            ),
            format!("p50 {} ms", ms(m.ms(0.5))),
            format!(
                "p99 {} ms, 1 connection, {} requests",
                ms(m.ms(0.99)),
                m.requests
            ),
        ],
        Err(e) => vec!["`as_of` members query".into(), "–".into(), e.clone()],
    });
    rows.push(vec![
        format!(
            "`rollcall serve` start to first answer ({} events)",
            thousands(data.head as f64)
        ),
        format!("{} ms", r.startup.as_millis()),
        "process start, projection load, first HTTP answer".into(),
    ]);
    rows.push(vec![
        "server peak RSS (VmHWM)".into(),
        r.rss_peak.map_or("–".into(), mb),
        format!(
            "{} right after start; peak after all scenarios",
            r.rss_start.map_or("–".into(), mb)
        ),
    ]);
    out.push_str(&report::table(&["figure", "value", "notes"], &rows));

    let _ = writeln!(out, "\n## Targets (issue 5)\n");
    if quick {
        let _ = writeln!(
            out,
            "A --quick run uses a data set a tenth the size: the targets are for the full run.\n"
        );
    }
    let mut rows = Vec::new();
    for (name, outcome, _) in &r.http {
        let Ok(Run {
            m,
            ceiling: Some(c),
            floor,
            ..
        }) = outcome
        else {
            continue;
        };
        let (rps, ceiling_rps) = (m.rps(), c.rps());
        if name.contains("assign") {
            rows.push(vec![
                format!("{name}: ≥ 25% of ceiling req/s"),
                report::percent1(rps / ceiling_rps),
                met(rps >= 0.25 * ceiling_rps),
            ]);
            if let Some(f) = floor {
                let floor = f.per_second();
                rows.push(vec![
                    format!("{name}: ≥ 10× the fsync floor"),
                    format!("{:.2}×", rps / floor),
                    met(rps >= 10.0 * floor),
                ]);
            }
        } else if name.contains("check") {
            let (p99, ceiling_p99) = (m.ms(0.99), c.ms(0.99));
            rows.push(vec![
                format!("{name}: ≥ 70% of ceiling req/s"),
                report::percent1(rps / ceiling_rps),
                met(rps >= 0.7 * ceiling_rps),
            ]);
            rows.push(vec![
                format!("{name}: p99 ≤ 2× ceiling p99"),
                format!("{:.2}×", p99 / ceiling_p99),
                met(p99 <= 2.0 * ceiling_p99),
            ]);
        }
    }
    for (label, d) in [("rebuild", r.rebuild), ("verify", r.verify)] {
        if let Some(rate) = per_s(d) {
            rows.push(vec![
                format!("{label}: ≥ 1,000,000 events/s"),
                thousands(rate),
                met(rate >= 1e6),
            ]);
        }
    }
    if let Ok(Run { m, .. }) = &r.as_of {
        rows.push(vec![
            "as_of query: under 5 ms (p99)".into(),
            format!("{} ms", ms(m.ms(0.99))),
            met(m.ms(0.99) < 5.0),
        ]);
    }
    rows.push(vec![
        "first answer after start: under 1 s".into(),
        format!("{} ms", r.startup.as_millis()),
        met(r.startup < Duration::from_secs(1)),
    ]);
    if let Some(peak) = r.rss_peak {
        rows.push(vec![
            "peak RSS: under 300 MB".into(),
            mb(peak),
            met(peak < 300_000_000),
        ]);
    }
    out.push_str(&report::table(&["target", "measured", "met"], &rows));
    let missing: Vec<&str> = r
        .http
        .iter()
        .filter(|(_, o, _)| o.is_err())
        .map(|(n, _, _)| *n)
        .chain(r.verify.is_none().then_some("verify"))
        .chain(r.as_of.is_err().then_some("as_of"))
        .collect();
    if !missing.is_empty() {
        let _ = writeln!(
            out,
            "\nNot measured (not built yet): {}.",
            missing.join(", ")
        );
    }
    out
}

fn mb(bytes: u64) -> String {
    format!("{:.0} MB", bytes as f64 / 1e6)
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}
