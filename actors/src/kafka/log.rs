//! librdkafka's errors, summarised: with a broker down, librdkafka reports
//! every reconnect attempt (its log and its error callback, ~20 lines a
//! second), which buries everything else on stderr. The first error is
//! said at once; after that, at most one line per [`WINDOW`], with how many
//! more came and the latest. Notices and debug lines go to debug level.

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::ClientContext;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// At most one error line per this long.
pub const WINDOW: Duration = Duration::from_secs(10);

/// Errors held back since the last line.
#[derive(Default)]
struct Held {
    last_line: Option<Instant>,
    count: u64,
    latest: Option<String>,
}

/// The summariser, shared by a client's context and its owner (the live
/// consumer reports its own failures through it, so they share the
/// window).
#[derive(Default)]
pub struct KafkaLog {
    held: Mutex<Held>,
}

impl KafkaLog {
    pub fn new() -> Arc<KafkaLog> {
        Arc::new(KafkaLog::default())
    }

    /// An error or warning: said now if the window has passed, else held.
    pub fn report(&self, what: &str) {
        let Ok(mut h) = self.held.lock() else {
            return;
        };
        let now = Instant::now();
        if h.last_line.is_some_and(|t| now.duration_since(t) < WINDOW) {
            h.count += 1;
            h.latest = Some(what.to_string());
            return;
        }
        let more = std::mem::take(&mut h.count);
        let since = h.last_line.map(|t| now.duration_since(t).as_secs());
        h.last_line = Some(now);
        h.latest = None;
        match (more, since) {
            (0, _) => tracing::warn!("kafka: {what} (retrying with back-off)"),
            (n, Some(s)) => tracing::warn!(
                "kafka: {what} ({n} more error(s) in the last {s} s, retrying with back-off)"
            ),
            (n, None) => {
                tracing::warn!("kafka: {what} ({n} more error(s), retrying with back-off)")
            }
        }
    }

    /// What is held when the client goes: one last line.
    pub fn flush(&self) {
        let Ok(mut h) = self.held.lock() else {
            return;
        };
        let n = std::mem::take(&mut h.count);
        if let (true, Some(latest)) = (n > 0, h.latest.take()) {
            tracing::warn!("kafka: {n} more error(s) since the last report; the latest: {latest}");
        }
    }

    /// librdkafka's log callback.
    pub fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error
            | RDKafkaLogLevel::Warning => self.report(&format!("{fac}: {message}")),
            _ => tracing::debug!(target: "librdkafka", "{fac}: {message}"),
        }
    }

    /// librdkafka's error callback.
    pub fn error(&self, error: KafkaError, reason: &str) {
        self.report(&format!("{error}: {reason}"))
    }
}

/// A client context that only summarises logs and errors (producers,
/// admin and metadata clients).
#[derive(Clone)]
pub struct SummarizingContext(pub Arc<KafkaLog>);

impl Default for SummarizingContext {
    fn default() -> Self {
        SummarizingContext(KafkaLog::new())
    }
}

impl ClientContext for SummarizingContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        self.0.log(level, fac, message)
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.0.error(error, reason)
    }
}

/// Deliveries are not watched here (as with rdkafka's default context).
impl rdkafka::producer::ProducerContext for SummarizingContext {
    type DeliveryOpaque = ();
    fn delivery(&self, _: &rdkafka::producer::DeliveryResult<'_>, _: ()) {}
}

impl Drop for SummarizingContext {
    fn drop(&mut self) {
        if Arc::strong_count(&self.0) == 1 {
            self.0.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_within_the_window_are_held_and_counted() {
        let log = KafkaLog::default();
        log.report("first");
        for i in 0..50 {
            log.report(&format!("again {i}"));
        }
        let h = log.held.lock().unwrap();
        assert_eq!(h.count, 50);
        assert_eq!(h.latest.as_deref(), Some("again 49"));
    }
}
