//! How log lines look, text or JSON, each carrying the id of the request
//! being served when there is one.
//!
//! The id travels in a task-local ([`in_request`]), not in a `tracing`
//! span: the subscriber builds a span's record and formats its fields when
//! the span is made, and enters and leaves it on every poll, whether or not
//! anything is logged — about 8% of the instructions of an access check,
//! which at the default level logs nothing. Here a request costs one
//! task-local, and only a line that is written looks the id up. The lines
//! read as they did with the span: `request{id=…}:` in text, and
//! `"span":{"id":…,"name":"request"}` in JSON. Field values are formatted,
//! and escaped, by `tracing-subscriber`'s own field formatters.

use std::fmt;
use std::future::Future;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::registry::LookupSpan;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Runs `f` as the serving of the request with this id: every line it logs
/// carries the id.
pub fn in_request<F: Future>(id: String, f: F) -> impl Future<Output = F::Output> {
    REQUEST_ID.scope(id, f)
}

/// Writes, with `f`, the id of the request being served on this task;
/// nothing outside a request.
fn write_request_id(f: impl FnOnce(&str) -> fmt::Result) -> fmt::Result {
    REQUEST_ID.try_with(|id| f(id)).unwrap_or(Ok(()))
}

/// Text lines: `time level [request{id=…}: ]target: message fields`.
pub struct TextLine {
    fields: format::Format<format::Full, ()>,
}

impl TextLine {
    pub fn new() -> Self {
        TextLine {
            fields: format::Format::default().without_time().with_level(false),
        }
    }
}

impl Default for TextLine {
    fn default() -> Self {
        TextLine::new()
    }
}

impl<S, N> FormatEvent<S, N> for TextLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let ansi = writer.has_ansi_escapes();
        if ansi {
            writer.write_str("\x1b[2m")?;
        }
        SystemTime.format_time(&mut writer)?;
        if ansi {
            writer.write_str("\x1b[0m")?;
        }
        let level = *event.metadata().level();
        match ansi {
            true => write!(writer, " {}{}\x1b[0m ", colour(level), padded(level))?,
            false => write!(writer, " {} ", padded(level))?,
        }
        // Written as it is: a request id is printable ASCII without spaces
        // (`RequestId::from_headers` makes one otherwise), so it cannot
        // carry an escape sequence or break the line.
        write_request_id(|id| match ansi {
            true => write!(writer, "\x1b[1mrequest\x1b[0m{{id={id}}}: "),
            false => write!(writer, "request{{id={id}}}: "),
        })?;
        // The rest — target, message and fields, escaped — as the
        // subscriber's own format writes it.
        self.fields.format_event(ctx, writer, event)
    }
}

fn padded(level: Level) -> &'static str {
    match level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => " INFO",
        Level::WARN => " WARN",
        Level::ERROR => "ERROR",
    }
}

fn colour(level: Level) -> &'static str {
    match level {
        Level::TRACE => "\x1b[35m",
        Level::DEBUG => "\x1b[34m",
        Level::INFO => "\x1b[32m",
        Level::WARN => "\x1b[33m",
        Level::ERROR => "\x1b[31m",
    }
}

/// JSON lines: `{"timestamp","level","fields","target"[,"span"]}`, one
/// object per line, the fields as `tracing-subscriber`'s `JsonFields`
/// writes them.
pub struct JsonLine;

impl<S, N> FormatEvent<S, N> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut time = String::with_capacity(32);
        SystemTime.format_time(&mut Writer::new(&mut time))?;
        let mut fields = String::with_capacity(128);
        ctx.format_fields(Writer::new(&mut fields), event)?;
        let meta = event.metadata();
        write!(
            writer,
            "{{\"timestamp\":{},\"level\":\"{}\",\"fields\":{},\"target\":{}",
            json_str(&time),
            meta.level(),
            fields,
            json_str(meta.target())
        )?;
        write_request_id(|id| {
            write!(
                writer,
                ",\"span\":{{\"id\":{},\"name\":\"request\"}}",
                json_str(id)
            )
        })?;
        writeln!(writer, "}}")
    }
}

/// A JSON string literal.
fn json_str(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Captured {
            self.clone()
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().expect("lock").clone()).expect("utf-8")
        }
    }

    async fn log_some_lines() {
        tracing::info!(status = 200, "outside");
        in_request("req-42".into(), async {
            tokio::task::yield_now().await;
            tracing::warn!(note = "a \u{1b}[31mred\u{1b}[0m value", "inside");
        })
        .await;
    }

    #[tokio::test]
    async fn text_lines_carry_the_request_id_and_escape_values() {
        let out = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(out.clone())
            .event_format(TextLine::new())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        log_some_lines().await;
        let text = out.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(
            lines[0].ends_with(" INFO rollcall::logging::tests: outside status=200"),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].contains(" WARN request{id=req-42}: rollcall::logging::tests: inside note="),
            "{}",
            lines[1]
        );
        assert!(
            !text.contains('\u{1b}'),
            "an escape reached the log: {text:?}"
        );
        // The time comes first, as RFC 3339 in UTC.
        assert!(
            lines[0].starts_with("20") && lines[0].contains('T'),
            "{}",
            lines[0]
        );
    }

    #[tokio::test]
    async fn json_lines_carry_the_request_id_as_the_span_did() {
        let out = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(out.clone())
            .fmt_fields(format::JsonFields::new())
            .event_format(JsonLine)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        log_some_lines().await;
        let lines: Vec<serde_json::Value> = out
            .text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["fields"]["message"], "outside");
        assert_eq!(lines[0]["fields"]["status"], 200);
        assert_eq!(lines[0]["level"], "INFO");
        assert_eq!(lines[0]["target"], "rollcall::logging::tests");
        assert!(lines[0].get("span").is_none());
        assert_eq!(lines[1]["span"]["id"], "req-42");
        assert_eq!(lines[1]["span"]["name"], "request");
        assert_eq!(lines[1]["level"], "WARN");
        assert!(lines[1]["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')));
    }
}
