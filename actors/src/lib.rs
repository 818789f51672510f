//! # ampel-actors: the live runtime around the core
//!
//! Everything that does network I/O lives here, never in `ampel` (the core):
//! - [`store`]: archive backends over the network (MongoDB) and opening an
//!   archive from its address.
//! - [`kafka`]: producing alerts into topics in each survey's wire format,
//!   and consuming them for `ampel run`.
//! - [`hot`]: hot state in Redis (alert de-duplication across processes).
//! - [`metrics`]: Prometheus metrics from a run's events, /metrics,
//!   /healthz and /readyz.
//!
//! The `ampel` binary (`src/main.rs`, `src/cli/`) is the command line; the
//! supervised actors (Kafka consumer, channel filters, T2 workers, T3
//! reactors) arrive with step 3.

pub mod hot;
pub mod kafka;
pub mod live;
pub mod metrics;
pub mod store;
pub mod synth;
