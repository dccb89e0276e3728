//! Logging and panic reporting in the forms Terraform understands.
//!
//! Terraform reads a provider's stderr line by line. A line that is a JSON object with
//! `@level`, `@message` and a `@timestamp` in Go's `2006-01-02T15:04:05.000000Z07:00` layout
//! (exactly six fractional digits) is shown as a structured hclog entry under the provider's
//! logger, so `TF_LOG=debug` shows our events like any Go provider's. A line starting with
//! `panic: ` makes Terraform 1.11 collect the following lines and print its "plugin crashed"
//! report if the process then dies, which is what our panic hook writes.
//!
//! Nothing here ever writes to stdout: stdout belongs to the go-plugin handshake.

use std::fmt::{self, Write as _};
use std::io::Write as _;

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};

/// Installs the stderr JSON logger (level from `TF_LOG_PROVIDER`, else `TF_LOG`) and the panic hook
/// (a panic anywhere then prints Go-style and exits with status 2). Call once, first thing in
/// `main`, so that even start-up failures are reported in a form Terraform shows.
///
/// `module` becomes the `@module` key of every line, e.g. `"provider.terraform-provider-hostup"`.
/// When logging is off (the default) no subscriber is installed at all, so disabled `tracing`
/// call sites cost a single relaxed atomic load.
pub fn init(module: &str) {
    install_panic_hook();
    let level = level_from_env(
        std::env::var("TF_LOG_PROVIDER").ok().as_deref(),
        std::env::var("TF_LOG").ok().as_deref(),
    );
    if level == LevelFilter::OFF {
        return;
    }
    let subscriber = tracing_subscriber::registry().with(HclogLayer {
        module: module.to_owned(),
        level,
    });
    // Fails only if a global subscriber already exists (init called twice); keeping the first
    // one is the right outcome then.
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Maps Terraform's log level variables to a filter, mirroring Terraform's own reading of them:
/// the provider-specific variable wins when non-empty; `JSON` and unknown values mean trace
/// (Terraform defaults an invalid level to TRACE); unset, empty or `OFF` disables logging.
fn level_from_env(tf_log_provider: Option<&str>, tf_log: Option<&str>) -> LevelFilter {
    let raw = match tf_log_provider.map(str::trim).filter(|s| !s.is_empty()) {
        Some(v) => v,
        None => match tf_log.map(str::trim).filter(|s| !s.is_empty()) {
            Some(v) => v,
            None => return LevelFilter::OFF,
        },
    };
    match raw.to_ascii_uppercase().as_str() {
        "OFF" => LevelFilter::OFF,
        "ERROR" => LevelFilter::ERROR,
        "WARN" => LevelFilter::WARN,
        "INFO" => LevelFilter::INFO,
        "DEBUG" => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

/// Formats `now` the way hclog's JSON format does (and go-plugin parses): UTC, microseconds.
fn timestamp(now: time::OffsetDateTime) -> String {
    let now = now.to_offset(time::UtcOffset::UTC);
    let mut out = String::with_capacity(27);
    // Writing into a String cannot fail.
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.microsecond()
    );
    out
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

/// The `tracing` layer that renders each event as one hclog JSON line on stderr.
struct HclogLayer {
    module: String,
    level: LevelFilter,
}

impl HclogLayer {
    /// Our own events pass at the configured level; dependencies (h2, hyper, tonic, rustls…)
    /// only from WARN up: their per-frame debug/trace events would drown Terraform's log and
    /// cost time on every RPC.
    fn allows(&self, target: &str, level: Level) -> bool {
        let cap = if is_own_target(target) {
            self.level
        } else {
            self.level.min(LevelFilter::WARN)
        };
        cap >= level
    }
}

/// Whether a `tracing` target belongs to this crate (library or binaries).
fn is_own_target(target: &str) -> bool {
    ["hostup_provider", "terraform_provider_hostup", "hostup_sim"]
        .iter()
        .any(|own| {
            target
                .strip_prefix(own)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        })
}

impl<S: Subscriber> Layer<S> for HclogLayer {
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        self.allows(metadata.target(), *metadata.level())
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.level)
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        if !self.allows(meta.target(), *meta.level()) {
            return;
        }
        let mut fields = JsonFields::default();
        event.record(&mut fields);
        let mut obj = serde_json::Map::with_capacity(fields.map.len() + 4);
        obj.insert("@level".into(), level_name(meta.level()).into());
        obj.insert(
            "@message".into(),
            fields.message.take().unwrap_or_default().into(),
        );
        obj.insert("@module".into(), self.module.clone().into());
        obj.insert(
            "@timestamp".into(),
            timestamp(time::OffsetDateTime::now_utc()).into(),
        );
        for (k, v) in fields.map {
            // Event fields never override the four keys Terraform interprets.
            obj.entry(k).or_insert(v);
        }
        let mut line = serde_json::Value::Object(obj).to_string();
        line.push('\n');
        // One write per line keeps concurrent events from interleaving mid-line. A closed stderr
        // (Terraform gone) must not take the provider down, so the error is dropped.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

/// Collects an event's fields as JSON values; the `message` field becomes `@message`.
#[derive(Default)]
struct JsonFields {
    message: Option<String>,
    map: serde_json::Map<String, serde_json::Value>,
}

impl JsonFields {
    fn put(&mut self, field: &Field, value: serde_json::Value) {
        if field.name() == "message" {
            self.message = Some(match value {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            });
        } else {
            self.map.insert(field.name().to_owned(), value);
        }
    }
}

impl Visit for JsonFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, value.to_string().into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}").into());
    }
}

/// Replaces the default panic output with Go's shape (`panic: <message>`, then the location
/// and a backtrace), which Terraform 1.11 recognises and turns into its crash report once the
/// process has died, and ends the process like a Go panic does.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = if let Some(s) = info.payload().downcast_ref::<&str>() {
            (*s).to_owned()
        } else if let Some(s) = info.payload().downcast_ref::<String>() {
            s.clone()
        } else {
            "Box<dyn Any>".to_owned()
        };
        let thread = std::thread::current();
        let mut text = format!("panic: {message}\n\n");
        let _ = writeln!(
            text,
            "thread '{}' panicked",
            thread.name().unwrap_or("<unnamed>")
        );
        if let Some(loc) = info.location() {
            let _ = writeln!(text, "\tat {}:{}:{}", loc.file(), loc.line(), loc.column());
        }
        let backtrace = std::backtrace::Backtrace::force_capture();
        let _ = writeln!(text, "{backtrace}");
        // Best effort: there is nowhere else to report a failure to write to stderr.
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
        // Die like a Go provider does (exit status 2). A panic inside an RPC would otherwise
        // only kill that connection's task, Terraform would report "Plugin did not respond"
        // and never show its crash report with the lines above.
        std::process::exit(2);
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_prefers_provider_variable_and_maps_terraform_names() {
        assert_eq!(level_from_env(None, None), LevelFilter::OFF);
        assert_eq!(level_from_env(Some(""), Some("")), LevelFilter::OFF);
        assert_eq!(level_from_env(None, Some("debug")), LevelFilter::DEBUG);
        assert_eq!(
            level_from_env(Some("WARN"), Some("TRACE")),
            LevelFilter::WARN
        );
        assert_eq!(level_from_env(Some(""), Some("INFO")), LevelFilter::INFO);
        assert_eq!(level_from_env(None, Some("JSON")), LevelFilter::TRACE);
        assert_eq!(level_from_env(None, Some("bogus")), LevelFilter::TRACE);
        assert_eq!(level_from_env(Some("off"), Some("TRACE")), LevelFilter::OFF);
        assert_eq!(level_from_env(None, Some("ERROR")), LevelFilter::ERROR);
    }

    #[test]
    fn dependencies_are_capped_at_warn() {
        assert!(is_own_target("hostup_provider::plugin::serve"));
        assert!(is_own_target("terraform_provider_hostup"));
        assert!(!is_own_target("h2::codec"));
        assert!(!is_own_target("hostup_provider_evil"));
        let layer = HclogLayer {
            module: "m".into(),
            level: LevelFilter::TRACE,
        };
        assert!(layer.allows("hostup_provider::x", Level::TRACE));
        assert!(!layer.allows("h2::proto", Level::DEBUG));
        assert!(layer.allows("h2::proto", Level::WARN));
        let quiet = HclogLayer {
            module: "m".into(),
            level: LevelFilter::ERROR,
        };
        assert!(!quiet.allows("h2::proto", Level::WARN));
        assert!(!quiet.allows("hostup_provider::x", Level::WARN));
    }

    #[test]
    fn timestamp_has_six_fraction_digits_and_utc_suffix() {
        let t = time::macros::datetime!(2026-11-22 15:04:05.123_456_789 +02:00);
        assert_eq!(timestamp(t), "2026-11-22T13:04:05.123456Z");
        let t = time::macros::datetime!(2026-01-02 03:04:05 UTC);
        assert_eq!(timestamp(t), "2026-01-02T03:04:05.000000Z");
    }

    #[test]
    fn fields_become_keys_and_message_is_separate() {
        let mut f = JsonFields::default();
        // Exercise the visitor through a real event, without a global subscriber.
        struct Capture(std::sync::Mutex<Option<JsonFields>>);
        impl Subscriber for Capture {
            fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
                true
            }
            fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
                tracing::span::Id::from_u64(1)
            }
            fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
            fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
            fn event(&self, event: &Event<'_>) {
                let mut f = JsonFields::default();
                event.record(&mut f);
                if let Ok(mut slot) = self.0.lock() {
                    *slot = Some(f);
                }
            }
            fn enter(&self, _: &tracing::span::Id) {}
            fn exit(&self, _: &tracing::span::Id) {}
        }
        let cap = std::sync::Arc::new(Capture(std::sync::Mutex::new(None)));
        tracing::subscriber::with_default(cap.clone(), || {
            tracing::info!(
                vps_id = "vps_1",
                attempt = 3u64,
                ok = true,
                "queued {}",
                "backup"
            );
        });
        if let Some(got) = cap.0.lock().ok().and_then(|mut g| g.take()) {
            f = got;
        }
        assert_eq!(f.message.as_deref(), Some("queued backup"));
        assert_eq!(f.map.get("vps_id"), Some(&serde_json::json!("vps_1")));
        assert_eq!(f.map.get("attempt"), Some(&serde_json::json!(3)));
        assert_eq!(f.map.get("ok"), Some(&serde_json::json!(true)));
    }
}
