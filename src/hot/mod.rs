//! Hot state: fast, losable state beside the archive. Now: which alerts were
//! already processed, so that messages redelivered after a crash or a
//! rebalance are skipped instead of adding meta records and journal entries
//! a second time. Losing it loses no data: archive writes are keyed and
//! idempotent, the hot state only keeps provenance clean and saves work.
//!
//! Implementations: [`InProcessHotState`] (the default, one process) and
//! Redis in the runtime (`ampel-actors`), shared by all consumers of a group.

mod queue;

pub use queue::{InProcessT2Queue, QueuedT2, T2Queue};

use std::collections::HashSet;
use thiserror::Error;

#[derive(Debug, Error)]
#[error("hot state {location}: {reason}")]
pub struct HotError {
    pub location: String,
    pub reason: String,
}

pub trait HotState: Send {
    fn location(&self) -> String;
    /// For each alert id: was it processed and stored before?
    fn seen(&mut self, ids: &[i64]) -> Result<Vec<bool>, HotError>;
    /// These alerts are durably stored (called after the archive write).
    fn mark_seen(&mut self, ids: &[i64]) -> Result<(), HotError>;
}

/// Hot state in this process's memory (lost when it exits).
#[derive(Debug, Default)]
pub struct InProcessHotState {
    seen: HashSet<i64>,
}

impl HotState for InProcessHotState {
    fn location(&self) -> String {
        "memory".into()
    }

    fn seen(&mut self, ids: &[i64]) -> Result<Vec<bool>, HotError> {
        Ok(ids.iter().map(|i| self.seen.contains(i)).collect())
    }

    fn mark_seen(&mut self, ids: &[i64]) -> Result<(), HotError> {
        self.seen.extend(ids);
        Ok(())
    }
}
