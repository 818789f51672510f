//! # ampel-actors: the live runtime around the core
//!
//! Everything that does network I/O lives here, never in `ampel` (the core):
//! - [`store`]: archive backends over the network (MongoDB) and opening an
//!   archive from its address.
//! - [`kafka`]: producing alerts into topics in each survey's wire format,
//!   and the consumer settings.
//! - [`hot`]: hot state in Redis (alert de-duplication and stock memos
//!   across processes) and the Redis Streams T2 queue.
//! - [`live`]: the live runtime, a Kafka job as supervised actix actors.
//! - [`react`]: couriers that deliver the reactions T3 runs queue (Slack,
//!   webhooks, GCN notices, output topics).
//! - [`synth`]: distinct copies of real alerts for load tests.
//! - [`metrics`]: Prometheus metrics from a run's events, /metrics,
//!   /healthz and /readyz.
//!
//! The `ampel` binary (`src/main.rs`, `src/cli/`) is the command line.

pub mod heartbeat;
pub mod hot;
pub mod kafka;
pub mod live;
pub mod metrics;
pub mod react;
pub mod serve;
pub mod store;
pub mod synth;
