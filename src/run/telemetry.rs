//! Typed telemetry: what a run reports while it works. The core emits these
//! events; the runtime turns them into Prometheus metrics (and could into
//! logs) without the core knowing either. Every component that processes
//! alerts emits the events of its tier:
//!
//! | event | emitted by | metric (ampel-actors) |
//! |---|---|---|
//! | `Consumed` | T0 loop, per message | `ampel_alerts_consumed_total`, `ampel_alert_latency_seconds{stage="t0"}` |
//! | `Filtered` | T0, per channel | `ampel_alerts_filtered_total{channel,result}` |
//! | `Failed` | T0, unreadable message | `ampel_alerts_failed_total` |
//! | `Stored` | T0, per archive batch | `ampel_archive_batch_seconds`, `ampel_archive_ops_total` |
//! | `T2Done` | T2 worker, per unit run | `ampel_t2_runs_total{unit,code}`, `ampel_t2_seconds{unit}` |
//! | `T3Done` | T3, per unit run | `ampel_t3_runs_total{process,unit,code}` |
//! | `T2Latency` | live T2 worker, per result | `ampel_alert_latency_seconds{stage="t2"}` |
//! | `Restarted` | live supervisor, per actor restart | `ampel_actor_restarts_total{actor}` |
//! | `DeadLetter` | live runtime, per message set aside | `ampel_dead_letters_total{reason}` |
//! | `Reaction` | courier, per delivery step | `ampel_reactions_total{destination,outcome}` |

/// One thing that happened in a run.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<'a> {
    /// A message was taken from the source; `latency_s` since it entered the
    /// stream, when the source knows.
    Consumed {
        latency_s: Option<f64>,
    },
    Filtered {
        channel: &'a str,
        accepted: bool,
    },
    Failed,
    Stored {
        ops: usize,
        seconds: f64,
    },
    T2Done {
        unit: &'a str,
        code: i64,
        seconds: f64,
    },
    T3Done {
        process: &'a str,
        unit: &'a str,
        code: i64,
    },
    /// A T2 result stored, `seconds` after its alert entered the stream.
    T2Latency {
        seconds: f64,
    },
    /// An actor was restarted after a panic or error.
    Restarted {
        actor: &'a str,
    },
    /// A message was set aside in the dead-letter collection.
    DeadLetter {
        reason: &'a str,
    },
    /// A reaction delivery step: `delivered`, `retried` (will be tried
    /// again), `failed` (attempts of this run used up or rejected),
    /// `uncertain` (interrupted by a crash between send and record).
    Reaction {
        destination: &'a str,
        outcome: &'a str,
    },
}

/// Receives a run's events (must be cheap: it is called on the hot path).
pub trait Telemetry: Send + Sync {
    fn event(&self, e: Event<'_>);
}

/// Drops every event.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoTelemetry;

impl Telemetry for NoTelemetry {
    fn event(&self, _: Event<'_>) {}
}
