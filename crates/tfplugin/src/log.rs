//! Logging for a plugin: hclog-style JSON lines on stderr, which Terraform parses and
//! re-emits as provider logs (`TF_LOG_PROVIDER`, else `TF_LOG`), and a panic hook that
//! prints the `panic: ` line Terraform uses to report a provider crash, then exits.
//!
//! Line format: `{"@level":"info","@message":"...","@module":"provider",
//! "@timestamp":"2006-01-02T15:04:05.000000Z", ...span and event fields}`. Nothing is ever
//! written to stdout, which belongs to the go-plugin handshake.

use std::io::Write;
use std::time::SystemTime;

use serde_json::{Map, Value as J};
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

/// The level Terraform asked for: `TF_LOG_PROVIDER`, else `TF_LOG` (`trace`, `debug`,
/// `info`, `warn`, `error`, `off`; `json` and anything unrecognised mean trace, as in
/// Terraform). Neither set: warnings and errors only.
pub fn level_from_env() -> LevelFilter {
    let var = |k| {
        std::env::var(k)
            .ok()
            .filter(|v: &String| !v.trim().is_empty())
    };
    match var("TF_LOG_PROVIDER").or_else(|| var("TF_LOG")) {
        None => LevelFilter::WARN,
        Some(v) => parse_level(&v),
    }
}

fn parse_level(v: &str) -> LevelFilter {
    match v.trim().to_ascii_lowercase().as_str() {
        "off" => LevelFilter::OFF,
        "error" => LevelFilter::ERROR,
        "warn" => LevelFilter::WARN,
        "info" => LevelFilter::INFO,
        "debug" => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

/// Installs the JSON stderr logger (at [`level_from_env`]) as the global subscriber and
/// the panic hook. Harmless if a subscriber is already installed.
pub fn init() {
    let layer = HclogLayer::new(level_from_env());
    let _ = tracing_subscriber::registry().with(layer).try_init();
    install_panic_hook();
}

/// Prints `panic: <message>` and the location on stderr, runs the previous hook, and
/// exits with status 2 (as a Go plugin does).
pub fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(non-string panic payload)");
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_default();
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("<unnamed>");
        let _ = writeln!(
            std::io::stderr().lock(),
            "panic: {msg}\n\nthread '{name}' at {location}"
        );
        previous(info);
        // Like a Go plugin: a panic anywhere (even in a request task that tokio would
        // survive) ends the process, so Terraform reports the crash with this output.
        std::process::exit(2);
    }));
}

/// The transport and TLS crates under a plugin, whose debug output drowns everything else:
/// they log at `info` at most, and their lines name them in a `target` field.
const DEPENDENCIES: &[&str] = &[
    "h2",
    "hyper",
    "hyper_util",
    "tonic",
    "tower",
    "rustls",
    "tokio_rustls",
    "reqwest",
    "mio",
    "tokio",
];

/// Whether `target` (a tracing target, `crate::module`) belongs to one of [`DEPENDENCIES`].
fn is_dependency(target: &str) -> bool {
    let krate = target.split("::").next().unwrap_or(target);
    DEPENDENCIES.contains(&krate)
}

/// A tracing layer writing hclog JSON lines to stderr.
///
/// Events of the provider's own code pass at the configured level; events from the
/// transport crates ([`DEPENDENCIES`]) at most at `info`.
#[derive(Debug)]
pub struct HclogLayer {
    max: LevelFilter,
}

impl HclogLayer {
    /// A layer emitting events at `max` and above.
    pub fn new(max: LevelFilter) -> HclogLayer {
        HclogLayer { max }
    }

    fn passes(&self, meta: &Metadata<'_>) -> bool {
        let level = *meta.level();
        if LevelFilter::from_level(level) > self.max {
            return false;
        }
        level <= Level::INFO || !is_dependency(meta.target())
    }
}

/// Fields recorded on a span, kept in its extensions.
struct SpanFields(Map<String, J>);

/// Collects fields of a span or event into a JSON map; `message` goes to `@message`.
struct JsonVisitor<'a>(&'a mut Map<String, J>);

impl JsonVisitor<'_> {
    fn put(&mut self, field: &Field, value: J) {
        let key = if field.name() == "message" {
            "@message"
        } else {
            field.name()
        };
        self.0.insert(key.to_owned(), value);
    }
}

impl Visit for JsonVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, J::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, J::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, J::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, J::from(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, J::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, J::from(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, J::from(format!("{value:?}")));
    }
}

fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    }
}

/// Builds one log line (without the newline).
pub fn format_line(
    level: &Level,
    target: &str,
    time: SystemTime,
    mut fields: Map<String, J>,
) -> String {
    fields.insert("@level".into(), J::from(level_name(level)));
    fields.insert("@module".into(), J::from("provider"));
    fields.insert(
        "@timestamp".into(),
        J::from(humantime::format_rfc3339_micros(time).to_string()),
    );
    fields
        .entry("@message")
        .or_insert_with(|| J::from(String::new()));
    if is_dependency(target) {
        fields.insert("target".into(), J::from(target));
    }
    J::Object(fields).to_string()
}

impl<S> Layer<S> for HclogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn enabled(&self, meta: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        if meta.is_span() {
            // our spans carry fields (tf_rpc, ...) for events of any level inside them
            !is_dependency(meta.target()) || self.passes(meta)
        } else {
            self.passes(meta)
        }
    }

    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        if let Some(span) = ctx.span(id) {
            let mut fields = Map::new();
            attrs.record(&mut JsonVisitor(&mut fields));
            span.extensions_mut().insert(SpanFields(fields));
        }
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: Context<'_, S>,
    ) {
        if let Some(span) = ctx.span(id) {
            let mut ext = span.extensions_mut();
            if let Some(SpanFields(fields)) = ext.get_mut::<SpanFields>() {
                values.record(&mut JsonVisitor(fields));
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        if !self.passes(meta) {
            return;
        }
        let mut fields = Map::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(SpanFields(f)) = span.extensions().get::<SpanFields>() {
                    fields.extend(f.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
        }
        event.record(&mut JsonVisitor(&mut fields));
        let mut line = format_line(meta.level(), meta.target(), SystemTime::now(), fields);
        line.push('\n');
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        assert_eq!(parse_level("TRACE"), LevelFilter::TRACE);
        assert_eq!(parse_level("json"), LevelFilter::TRACE);
        assert_eq!(parse_level("Warn"), LevelFilter::WARN);
        assert_eq!(parse_level("off"), LevelFilter::OFF);
        assert_eq!(parse_level("bogus"), LevelFilter::TRACE);
    }

    #[test]
    fn line_shape() {
        let mut f = Map::new();
        f.insert("@message".into(), J::from("hello"));
        f.insert("tf_rpc".into(), J::from("ReadResource"));
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_micros(1_500_000);
        let line = format_line(&Level::INFO, "tfplugin", t, f);
        assert_eq!(
            line,
            r#"{"@level":"info","@message":"hello","@module":"provider","@timestamp":"1970-01-01T00:00:01.500000Z","tf_rpc":"ReadResource"}"#
        );
    }

    /// Terraform reads these lines as JSON: no colour code (nor any control character) is
    /// ever written raw, whatever a message or field holds, and whatever the terminal.
    #[test]
    fn control_characters_are_escaped() {
        let mut f = Map::new();
        f.insert("@message".into(), J::from("\u{1b}[31mred\u{1b}[0m"));
        f.insert("detail".into(), J::from("a\u{1b}[1mb\r\n"));
        let line = format_line(&Level::WARN, "tfplugin", SystemTime::UNIX_EPOCH, f);
        assert!(!line.bytes().any(|b| b.is_ascii_control()), "{line:?}");
        assert!(line.contains(r"\u001b[31mred"), "{line}");
    }
}
