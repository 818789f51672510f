//! The archive: AMPEL's collections behind one trait, with an embedded
//! SQLite implementation (the default: no server needed). The MongoDB
//! implementation lives in the runtime crate (network I/O stays out of the
//! core); both pass the same conformance suite (`tests/archive_conformance.rs`).
//!
//! Writes go through [`Archive::write`]: a batch of [`WriteOp`]s applied
//! atomically. Ops carry AMPEL's update semantics (add a channel to a set,
//! append a meta record, insert a T2 ticket only once), spelled out in
//! [`merge`] so every backend applies them the same way.

mod body;
mod doc;
mod fingerprint;
pub mod merge;
mod projection;
mod sqlite;

pub use body::{DataPointBody, RowBody, RowFields};
pub use doc::*;
pub use fingerprint::fingerprint;
pub use projection::DataPointProjection;
pub use sqlite::SqliteArchive;

use serde_json::Value as Json;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    /// The backend refused or failed an operation. `transient` is decided by
    /// the backend from its error codes and labels (SQLite's BUSY/LOCKED,
    /// MongoDB's `TransientTransactionError`/`RetryableWriteError` labels,
    /// network and write-conflict codes), never from the message text.
    #[error("archive {location}: {reason}{}", if *transient { " (transient)" } else { "" })]
    Backend {
        location: String,
        reason: String,
        transient: bool,
    },
    #[error("archive {location}: stored document does not parse ({collection}): {reason}")]
    Corrupt {
        location: String,
        collection: &'static str,
        reason: String,
    },
    #[error("unsupported store address {0:?} (expected sqlite:PATH or mongodb://...)")]
    BadAddress(String),
}

impl StoreError {
    /// Whether retrying the same operation may succeed (connection loss,
    /// lock contention, a write conflict) rather than fail the same way
    /// again. A corrupt document or a bad address is permanent.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Backend {
                transient: true,
                ..
            }
        )
    }
}

/// One write; see [`merge`] for how each op combines with what is stored.
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// Insert the datapoint, or add its channels/tags and meta to the stored one.
    DataPoint(DataPointDoc),
    /// Insert or update a stock for a channel: channel, names and tags added,
    /// journal entry appended, `ts.<channel>` set (tied once, upd always).
    Stock {
        stock: i64,
        channel: String,
        names: Vec<String>,
        tags: Vec<String>,
        journal: JournalEntry,
    },
    /// Append a journal entry to an existing stock.
    Journal {
        stock: i64,
        entry: JournalEntry,
    },
    /// Insert the state, or add its channels and meta to the stored one.
    State(T1Doc),
    /// Insert a T2 ticket (code NEW) once; later tickets add their channels.
    T2Ticket(T2Doc),
    /// Record a T2 run: code, trials, back-off, meta, and a body if any.
    T2Result {
        key: T2Key,
        code: i64,
        body: Option<Json>,
        meta: MetaRecord,
        trials: u32,
        retry_after: Option<f64>,
    },
    /// Set a T2 document's code (reset to NEW, pending dependency...).
    T2Code {
        key: T2Key,
        code: i64,
    },
    T3(T3Doc),
    /// Store an alert's stamps once (a later op for the same id is
    /// ignored: a redelivered alert carries the same stamps).
    Cutout(CutoutDoc),
    Log(LogDoc),
    /// Insert or replace the event of a run.
    Event(EventDoc),
    /// A running run is alive at `ts`: sets the event's heartbeat if it is
    /// still RUNNING (never reopens a finished run).
    Heartbeat {
        run: i64,
        ts: f64,
    },
    /// Store a config under its id (idempotent).
    Config {
        id: i64,
        config: Json,
    },
    Trouble(Json),
    /// Queue a reaction (once per id; its items are remembered per
    /// destination so they are not planned again).
    Reaction(ReactionDoc),
    /// Record a delivery step of a reaction.
    ReactionState {
        id: String,
        state: ReactionState,
        attempts: u32,
        next_try: f64,
        error: Option<String>,
        ts: f64,
    },
    /// Failed reactions of a destination become pending again (a new run
    /// of their process, or `ampel reactions retry`); with `uncertain`,
    /// those interrupted by a crash too.
    RearmReactions {
        destination: Option<String>,
        uncertain: bool,
        ts: f64,
    },
}

/// Which T2 documents to read.
#[derive(Debug, Clone, Default)]
pub struct T2Query {
    pub stock: Option<i64>,
    pub unit: Option<String>,
    /// The unit's config id (with `unit`).
    pub config: Option<i64>,
    pub code: Option<i64>,
    pub channel: Option<String>,
}

/// Which stocks to read (T3 selection).
#[derive(Debug, Clone, Default)]
pub struct StockQuery {
    pub channel: Option<String>,
    /// Updated at or after (unix seconds).
    pub updated_after: Option<f64>,
    pub updated_before: Option<f64>,
    /// All of these tags.
    pub tags: Vec<String>,
}

/// Which reactions to read.
#[derive(Debug, Clone, Default)]
pub struct ReactionQuery {
    pub destination: Option<String>,
    /// Any of these (all when empty).
    pub states: Vec<ReactionState>,
    /// `next_try` at or before.
    pub due_by: Option<f64>,
    pub limit: Option<usize>,
}

/// Which log lines to read.
#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    pub run: Option<i64>,
    pub stock: Option<i64>,
    pub channel: Option<String>,
    pub limit: Option<usize>,
}

/// AMPEL's collections.
pub trait Archive: Send {
    /// Where the archive is, for messages.
    fn location(&self) -> String;
    /// The next run id (a persistent monotonic counter).
    fn next_run_id(&mut self) -> Result<i64, StoreError>;
    /// A random id the archive draws on first asking and keeps for ever:
    /// hot state (seen alerts, stock memos, the T2 queue) is scoped by it
    /// as well as by the job, so a fresh archive never inherits what Redis
    /// remembers for another archive of a job with the same name.
    fn archive_id(&mut self) -> Result<i64, StoreError>;
    /// Applies the ops atomically, in order.
    fn write(&mut self, ops: Vec<WriteOp>) -> Result<(), StoreError>;

    fn stock(&self, stock: i64) -> Result<Option<StockDoc>, StoreError>;
    fn stock_by_name(&self, name: &str) -> Result<Option<StockDoc>, StoreError>;
    fn stocks(&self, q: &StockQuery) -> Result<Vec<StockDoc>, StoreError>;
    /// Datapoints of a stock, ordered by id.
    fn datapoints(&self, stock: i64) -> Result<Vec<DataPointDoc>, StoreError>;
    /// Datapoints of a stock, ordered by id, holding only what `p` keeps
    /// (see [`DataPointProjection`]). The default reads them whole and
    /// cuts them down; an archive that can skip the rest while reading
    /// does, which is the point.
    fn datapoints_projected(
        &self,
        stock: i64,
        p: &DataPointProjection,
    ) -> Result<Vec<DataPointDoc>, StoreError> {
        Ok(p.apply_all(self.datapoints(stock)?))
    }
    /// The stored datapoints among `ids` (ascending; a state's, so of
    /// `stock`), holding only what `p` keeps, ordered by id. What a T2
    /// worker reads for a state when it holds most of the state's
    /// datapoints already (read for an earlier state of the same stock).
    /// The default reads the stock and keeps those; an archive that can
    /// look datapoints up by id does, so the cost follows `ids` (and it
    /// need not check the stock: ids are unique).
    fn datapoints_projected_among(
        &self,
        stock: i64,
        ids: &[i64],
        p: &DataPointProjection,
    ) -> Result<Vec<DataPointDoc>, StoreError> {
        let mut dps = self.datapoints_projected(stock, p)?;
        dps.retain(|d| ids.binary_search(&d.id).is_ok());
        Ok(dps)
    }
    /// Ids and tags of a stock's datapoints (what T1 needs), ordered by id.
    fn datapoint_tags(&self, stock: i64) -> Result<Vec<(i64, Vec<String>)>, StoreError>;
    fn states(&self, stock: i64) -> Result<Vec<T1Doc>, StoreError>;
    /// One state of a stock, by its link. The default reads them all; the
    /// archives read the one by key (a stock seen for years has hundreds
    /// of states, and T2 loads one for each state it runs on).
    fn state(&self, stock: i64, link: i64) -> Result<Option<T1Doc>, StoreError> {
        Ok(self.states(stock)?.into_iter().find(|s| s.link == link))
    }
    /// The stamps of one alert.
    fn cutout(&self, id: i64) -> Result<Option<CutoutDoc>, StoreError>;
    /// The stamps of a stock's newest stored alert (by time).
    fn latest_cutout(&self, stock: i64) -> Result<Option<CutoutDoc>, StoreError>;
    fn t2(&self, q: &T2Query) -> Result<Vec<T2Doc>, StoreError>;
    /// How many T2 documents `q` selects, counted by the archive (by
    /// index), not by reading them: waits on unfinished work ask this
    /// often, and the documents can be many.
    fn count_t2(&self, q: &T2Query) -> Result<usize, StoreError> {
        Ok(self.t2(q)?.len())
    }
    /// T2 documents per code, counted by the archive (a run's summary
    /// asks at its end): the documents are never loaded, so the cost is
    /// an index scan, not a parse of every result the archive holds.
    fn t2_codes(&self) -> Result<std::collections::BTreeMap<i64, u64>, StoreError> {
        let mut out = std::collections::BTreeMap::new();
        for d in self.t2(&T2Query::default())? {
            *out.entry(d.code).or_default() += 1;
        }
        Ok(out)
    }
    /// The channels holding stocks, with how many each holds (counted by
    /// the archive).
    fn channel_counts(&self) -> Result<std::collections::BTreeMap<String, u64>, StoreError>;
    /// T2 documents per (unit, code), counted by the archive (a viewer's
    /// overview).
    fn t2_outcomes(&self) -> Result<std::collections::BTreeMap<(String, i64), u64>, StoreError>;
    /// Atomically moves up to `max` T2 documents of the given units that are
    /// NEW or RERUN_REQUESTED (and past their back-off) to RUNNING, and
    /// returns them: due reruns first, then the oldest tickets of any unit,
    /// the order AMPEL's T2 worker takes them in (the conformance suite
    /// checks it on every archive).
    fn claim_t2(
        &mut self,
        now: f64,
        max: usize,
        units: &[String],
    ) -> Result<Vec<T2Doc>, StoreError>;
    /// Claims these documents (NEW -> RUNNING) where they are claimable
    /// (NEW, or RERUN_REQUESTED past its back-off); with `steal_running`
    /// also RUNNING ones, whose worker is presumed dead (a live runtime's
    /// reclaimed queue entries). Atomic: two workers never both get one,
    /// and a key given twice is claimed once.
    fn claim_t2_keys(
        &mut self,
        keys: &[T2Key],
        now: f64,
        steal_running: bool,
    ) -> Result<Vec<T2Doc>, StoreError>;
    fn t3(&self, stock: Option<i64>) -> Result<Vec<T3Doc>, StoreError>;
    /// When a T3 process (`channel:name`) last made its selection (the
    /// latest `meta.extra.selected_at` of its T3 documents), if ever.
    fn t3_last_selected(&self, process: &str) -> Result<Option<f64>, StoreError> {
        Ok(self
            .t3(None)?
            .iter()
            .filter(|d| d.process == process)
            .filter_map(|d| d.meta.extra.as_ref()?.get("selected_at")?.as_f64())
            .reduce(f64::max))
    }
    /// Reactions in creation order.
    fn reactions(&self, q: &ReactionQuery) -> Result<Vec<ReactionDoc>, StoreError>;
    /// Takes the destination's oldest pending reaction due at `now`, atomically
    /// (one process's courier only): it becomes `sending`, its attempts + 1.
    fn claim_reaction(
        &mut self,
        destination: &str,
        now: f64,
    ) -> Result<Option<ReactionDoc>, StoreError>;
    /// A destination's reactions not yet delivered or failed (pending or
    /// sending), and how many of those are due at `now`.
    fn reactions_open(&self, destination: &str, now: f64) -> Result<(usize, usize), StoreError>;
    /// The (stock, digest) items a destination already has, for `stocks`.
    fn reaction_items(
        &self,
        destination: &str,
        stocks: &[i64],
    ) -> Result<Vec<(i64, String)>, StoreError>;
    fn events(&self) -> Result<Vec<EventDoc>, StoreError>;
    fn logs(&self, q: &LogQuery) -> Result<Vec<LogDoc>, StoreError>;
    fn config(&self, id: i64) -> Result<Option<Json>, StoreError>;
    /// Dead letters and other trouble reports, oldest first.
    fn troubles(&self) -> Result<Vec<Json>, StoreError>;
    /// Counts per collection (for summaries).
    fn counts(&self) -> Result<std::collections::BTreeMap<String, i64>, StoreError>;
    /// T2 documents in all: a cheap progress mark for a T3 process in
    /// another process than the T2 work (`ampel worker t3`), polled often.
    fn t2_count(&self) -> Result<u64, StoreError>;
    /// A second handle on the same archive (its own connection), for work
    /// on another thread of this process; `None` when the archive cannot
    /// be shared that way (an in-memory archive), and the work stays on
    /// one thread.
    fn another(&self) -> Result<Option<Box<dyn Archive>>, StoreError> {
        Ok(None)
    }
}

/// Opens an embedded archive from `sqlite:PATH` (or a bare path).
pub fn open_embedded(address: &str) -> Result<SqliteArchive, StoreError> {
    let path = address.strip_prefix("sqlite:").unwrap_or(address);
    if path.contains("://") {
        return Err(StoreError::BadAddress(address.to_string()));
    }
    SqliteArchive::open(path)
}
