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

use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use thiserror::Error;

#[derive(Debug, Error)]
#[error("hot state {location}: {reason}")]
pub struct HotError {
    pub location: String,
    pub reason: String,
}

/// What the archive holds of a stock, as far as T0/T1 need it: the
/// channels that hold it and its datapoints with their tags. With it the
/// ingester builds states without reading the archive.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StockMemo {
    pub channels: Vec<String>,
    pub datapoints: Vec<(i64, Vec<String>)>,
}

pub trait HotState: Send {
    fn location(&self) -> String;
    /// For each alert id: was it processed and stored before?
    fn seen(&mut self, ids: &[i64]) -> Result<Vec<bool>, HotError>;
    /// These alerts are durably stored (called after the archive write).
    fn mark_seen(&mut self, ids: &[i64]) -> Result<(), HotError>;
    /// Another handle on the same shared state, for lookups from other
    /// threads (the live runtime's decoders ask `seen` in parallel, off
    /// the single ingest thread). `None` when the state lives in this
    /// object alone.
    fn another(&self) -> Option<Box<dyn HotState>> {
        None
    }
    /// Memos of these stocks (`None`: unknown, read the archive).
    fn stock_memos(&mut self, stocks: &[i64]) -> Result<Vec<Option<StockMemo>>, HotError> {
        Ok(vec![None; stocks.len()])
    }
    /// Complete memos of stocks just written (merged into what is there:
    /// channels and datapoints only ever grow). Called after the archive
    /// write; a memo must never claim less than the archive holds, so an
    /// implementation that cannot store one must forget it instead.
    fn remember_stocks(&mut self, memos: &[(i64, StockMemo)]) -> Result<(), HotError> {
        let _ = memos;
        Ok(())
    }
}

/// Hot state in this process's memory (lost when it exits). Bounded: past
/// `MAX_ENTRIES` seen alerts it forgets them and starts over (only
/// de-duplication is lost, never data). It keeps no stock memos: other
/// processes may write the same archive, and only a shared memo (Redis)
/// sees their writes.
#[derive(Debug, Default)]
pub struct InProcessHotState {
    seen: HashSet<i64>,
}

const MAX_ENTRIES: usize = 1_000_000;

impl HotState for InProcessHotState {
    fn location(&self) -> String {
        "memory".into()
    }

    fn seen(&mut self, ids: &[i64]) -> Result<Vec<bool>, HotError> {
        Ok(ids.iter().map(|i| self.seen.contains(i)).collect())
    }

    fn mark_seen(&mut self, ids: &[i64]) -> Result<(), HotError> {
        if self.seen.len() + ids.len() > MAX_ENTRIES {
            self.seen.clear();
        }
        self.seen.extend(ids);
        Ok(())
    }
}
