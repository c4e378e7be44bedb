//! The server's log on stderr, one event per line, through `tracing`: `jit portal: ...` text by
//! default, or one JSON object per line (`--log-format json`) for a log collector. Anything a
//! client or an admin chose (paths, names) is escaped before it is logged, in either format, so
//! a request can neither forge a log line nor send terminal escapes.

use std::fmt::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;

/// How the server's log lines look.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `jit portal: GET /path 200 user client 3ms`
    #[default]
    Text,
    /// One JSON object per line: timestamp, level, message and the event's fields
    Json,
}

static JSON: AtomicBool = AtomicBool::new(false);

/// Send the portal's events (its own, not its libraries') to stderr in `format`; debug lines
/// too when `verbose`. With `statements`, sqlx's event for each statement it ran feeds the
/// statement metric (never the log): it costs a little on every statement, so only a portal
/// that serves metrics asks for it.
pub fn init(format: LogFormat, verbose: bool, statements: bool) {
    let level = if verbose { Level::DEBUG } else { Level::INFO };
    let ours = Targets::new().with_target(env!("CARGO_CRATE_NAME"), level);
    let json = format == LogFormat::Json;
    JSON.store(json, Ordering::Relaxed);
    let text = (!json).then(|| {
        tracing_subscriber::fmt::layer()
            .event_format(Plain)
            .with_writer(std::io::stderr)
    });
    let json = json.then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_target(false)
            .with_ansi(false)
            .with_writer(std::io::stderr)
    });
    // Always there, filtered off when not wanted: an absent (`None`) layer would tell tracing
    // every event is of interest, and sqlx would then format every statement it runs.
    let statements = Statements.with_filter(Targets::new().with_target(
        "sqlx::query",
        if statements {
            LevelFilter::DEBUG
        } else {
            LevelFilter::OFF
        },
    ));
    let subscriber = tracing_subscriber::registry()
        .with(text.with_filter(ours.clone()))
        .with(json.with_filter(ours))
        .with(statements);
    // Only fails when one is set already: the first stays.
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Whether the log is JSON, so a fatal error can be written as one more JSON line.
pub fn is_json() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// The text format: `jit portal: ` and the message, `jit portal: debug: ` for debug lines. The
/// fields beside the message are for the JSON format; the message already says them.
struct Plain;

impl<S, N> FormatEvent<S, N> for Plain
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let mut message = Message(String::new());
        event.record(&mut message);
        let debug = if *event.metadata().level() == Level::DEBUG {
            "debug: "
        } else {
            ""
        };
        writeln!(writer, "jit portal: {debug}{}", message.0)
    }
}

struct Message(String);

/// Counts the statements sqlx reports (`sqlx::query` events, one per statement, with its
/// `elapsed_secs`) into [`crate::metrics::db_statement`].
struct Statements;

impl<S: Subscriber> tracing_subscriber::Layer<S> for Statements {
    fn on_event(&self, event: &Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut took = Elapsed(None);
        event.record(&mut took);
        if let Some(secs) = took.0 {
            crate::metrics::db_statement(secs);
        }
    }
}

struct Elapsed(Option<f64>);

impl Visit for Elapsed {
    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.name() == "elapsed_secs" {
            self.0 = Some(value);
        }
    }
    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        }
    }
}

/// `s` with control characters, backslashes and quotes spelled out (`\n`, `\x1b`, `\u{85}`).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            // C1 controls, and the Unicode line and paragraph separators and bidi overrides that
            // some terminals and viewers honour.
            c if c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
            {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// A failure inside the portal, in full and escaped: `what` and the error's whole chain.
pub fn failure(what: &str, e: &anyhow::Error) {
    crate::metrics::failure(e);
    tracing::error!("{what}: {}", escape(&format!("{e:#}")));
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt as _;

    use super::escape;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The text format is today's: the message behind `jit portal: `, the fields left to JSON.
    #[test]
    fn text_lines_are_the_message_behind_the_prefix() {
        let buffer = Buffer::default();
        let sink = buffer.clone();
        let layer = tracing_subscriber::fmt::layer()
            .event_format(super::Plain)
            .with_writer(move || sink.clone());
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(
                method = "GET",
                status = 200u16,
                "GET /x 200 alice 127.0.0.1 3ms"
            );
            tracing::warn!("WARNING: {}", "plain HTTP");
            tracing::debug!("purged {} expired tokens", 2);
        });
        let text = String::from_utf8(buffer.0.lock().expect("buffer").clone()).expect("utf-8");
        assert_eq!(
            text,
            "jit portal: GET /x 200 alice 127.0.0.1 3ms\n\
             jit portal: WARNING: plain HTTP\n\
             jit portal: debug: purged 2 expired tokens\n"
        );
    }

    #[test]
    fn control_characters_cannot_forge_lines_or_drive_the_terminal() {
        assert_eq!(escape("/ok/path"), "/ok/path");
        assert_eq!(
            escape("/x\njit portal: GET /admin 200 root"),
            "/x\\njit portal: GET /admin 200 root"
        );
        assert_eq!(escape("\x1b[2J\x07\r"), "\\x1b[2J\\x07\\r");
        assert_eq!(
            escape("a\u{85}b\u{2028}c\u{202e}"),
            "a\\u{85}b\\u{2028}c\\u{202e}"
        );
        assert_eq!(escape("back\\slash \"q\""), "back\\\\slash \\\"q\\\"");
        assert!(!escape("\u{7f}").contains('\u{7f}'));
    }
}
