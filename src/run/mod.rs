//! Running a job through the tiers on an archive: T0 (filter, ingest), T1
//! (states), T2 (tickets, then a worker draining them), T3 (selections and
//! reactions). This is the embedded, single-process runner used by
//! `ampel run` for replays; the live runtime (actors) calls the same tier
//! functions.

mod beside;
mod ingest;
mod pipeline;
mod progress;
pub mod react;
mod record;
mod summary;
mod t0;
mod t0_loop;
mod t2;
mod t2_input;
mod t2_recent;
mod t3;
mod telemetry;

pub use ingest::{Flushed, Ingester};
pub use pipeline::{Input, Pipeline, PipelineParts};
pub use progress::Progress;
pub use record::{heartbeat_op, host_name, RunRecord, DEAD_AFTER_SECONDS, HEARTBEAT_SECONDS};
pub use summary::RunSummary;
pub use t0::{Batch, ChannelRt, T0};
pub use t2::T2Worker;
pub use t3::{run_process, T3Process};
pub use telemetry::{Event, NoTelemetry, Telemetry};

/// Seconds since the Unix epoch (the `ts` of meta records and events).
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Identity of the running program, recorded in every event.
#[derive(Debug, Clone)]
pub struct Version {
    pub version: String,
    pub commit: Option<String>,
}
