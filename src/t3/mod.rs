//! T3: reactions on selected stocks. A T3 process selects a channel's
//! stocks (time window, tags, T2 results matched with [`query`]), loads
//! their documents projected to the channel, and runs T3 units on them.

pub mod query;
pub mod react;
mod summary;

pub use summary::{T3ChannelSummary, T3ChannelSummaryConfig, T3LogSummary};

use crate::store::{DataPointDoc, StockDoc, T1Doc, T2Doc};
use serde_json::{Map, Value as Json};

/// A stock as a channel's T3 sees it: only that channel's documents.
#[derive(Debug, Clone)]
pub struct StockView {
    pub stock: StockDoc,
    pub datapoints: Vec<DataPointDoc>,
    pub states: Vec<T1Doc>,
    pub t2: Vec<T2Doc>,
    /// Latest body per T2 unit: `{"T2LightCurveSummary": {...}, ...}`.
    pub results: Map<String, Json>,
}

impl StockView {
    /// The stock's display name: its survey name, else its numeric id.
    pub fn name(&self) -> String {
        self.stock
            .name
            .first()
            .cloned()
            .unwrap_or_else(|| self.stock.stock.to_string())
    }

    /// Pages, position and photometry of the stock, as reactions show them.
    pub fn summary(&self) -> crate::survey::summary::ObjectSummary {
        crate::survey::summary::object_summary(&self.stock.tag, &self.name(), &self.datapoints)
    }
}

/// Where a T3 unit runs.
#[derive(Debug, Clone)]
pub struct T3Context<'a> {
    pub channel: &'a str,
    pub process: &'a str,
    pub run: i64,
    /// Why the stocks were selected, in words (the process's filter).
    pub why: &'a str,
    /// When the run started (unix seconds).
    pub now: f64,
    /// Whether units print their human-readable lines on stderr (off with
    /// `ampel run --quiet`; the t3 documents keep them either way).
    pub echo: bool,
}

/// A T3 unit. Its body (or error) is recorded in the t3 collection.
pub trait T3Unit: Send + Sync {
    fn process(&self, ctx: &T3Context, stocks: &[StockView]) -> Result<Json, String>;

    /// Reaction units answer their [`react::Reactor`]: the T3 run then
    /// queues their messages in the outbox instead of calling `process`.
    fn reactor(&self) -> Option<&dyn react::Reactor> {
        None
    }

    /// A reaction unit told to build its messages without sending them.
    fn dry_run(&self) -> bool {
        false
    }
}

crate::unit_registry!(
    T3UnitRegistration,
    BuildT3,
    dyn T3Unit,
    t3_names,
    build_t3,
    "T3"
);
