//! The documents of AMPEL's collections, with AMPEL's field names, so that
//! the embedded archive and MongoDB hold the same shapes.

use super::body::DataPointBody;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// AMPEL's document codes (negative: system; positive: unit-defined).
pub mod code {
    pub const OK: i64 = 0;
    pub const NEW: i64 = -1;
    pub const ERROR: i64 = -2;
    pub const INTERNAL_ERROR: i64 = -3;
    pub const EXCEPTION: i64 = -4;
    pub const RUNNING: i64 = -5;
    pub const RERUN_REQUESTED: i64 = -6;
    pub const TOO_MANY_TRIALS: i64 = -7;
    /// A run stopped by a signal (Ctrl-C) before its end. Ours: AMPEL's
    /// event documents use a separate enum (EventCode.ABORTED).
    pub const INTERRUPTED: i64 = -9;
    pub const T2_PENDING_DEPENDENCY: i64 = -2001;
    pub const T2_MISSING_DEPENDENCY: i64 = -2006;
    pub const T2_FAILED_DEPENDENCY: i64 = -2010;

    /// A code by its name (the inverse of [`name`]): `OK`, `NEW`,
    /// `UNIT_3`, `CODE_-9`...
    pub fn from_name(s: &str) -> Option<i64> {
        let known = [
            OK,
            NEW,
            ERROR,
            INTERNAL_ERROR,
            EXCEPTION,
            RUNNING,
            RERUN_REQUESTED,
            TOO_MANY_TRIALS,
            INTERRUPTED,
            T2_PENDING_DEPENDENCY,
            T2_MISSING_DEPENDENCY,
            T2_FAILED_DEPENDENCY,
        ];
        let upper = s.to_ascii_uppercase();
        if let Some(c) = known.into_iter().find(|c| name(*c) == upper) {
            return Some(c);
        }
        upper
            .strip_prefix("UNIT_")
            .or_else(|| upper.strip_prefix("CODE_"))
            .and_then(|n| n.parse().ok())
    }

    /// Name of a code, for tables and logs.
    pub fn name(c: i64) -> String {
        match c {
            OK => "OK".into(),
            NEW => "NEW".into(),
            ERROR => "ERROR".into(),
            INTERNAL_ERROR => "INTERNAL_ERROR".into(),
            EXCEPTION => "EXCEPTION".into(),
            RUNNING => "RUNNING".into(),
            RERUN_REQUESTED => "RERUN_REQUESTED".into(),
            TOO_MANY_TRIALS => "TOO_MANY_TRIALS".into(),
            INTERRUPTED => "INTERRUPTED".into(),
            T2_PENDING_DEPENDENCY => "T2_PENDING_DEPENDENCY".into(),
            T2_MISSING_DEPENDENCY => "T2_MISSING_DEPENDENCY".into(),
            T2_FAILED_DEPENDENCY => "T2_FAILED_DEPENDENCY".into(),
            c if c > 0 => format!("UNIT_{c}"),
            c => format!("CODE_{c}"),
        }
    }
}

/// Tiers.
pub type Tier = u8;

/// One touch of a document: who, when, in which run, what happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetaRecord {
    pub run: i64,
    pub ts: f64,
    pub tier: Tier,
    pub process: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channel: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// The alert that caused the touch (T0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<i64>,
    /// Anything else worth keeping (an error message, a reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<Json>,
}

/// A stock journal entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub run: i64,
    pub ts: f64,
    pub tier: Tier,
    pub process: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channel: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<Json>,
}

/// First/last time a channel touched a stock.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChannelTimes {
    pub tied: f64,
    pub upd: f64,
}

/// `stock` collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StockDoc {
    pub stock: i64,
    pub channel: Vec<String>,
    #[serde(default)]
    pub tag: Vec<String>,
    #[serde(default)]
    pub name: Vec<String>,
    #[serde(default)]
    pub journal: Vec<JournalEntry>,
    #[serde(default)]
    pub ts: BTreeMap<String, ChannelTimes>,
    pub updated: f64,
}

/// `t0` collection: a datapoint. `stock` is a set: a ZTF upper limit's id
/// names no object, so every object not detected in the same exposure and
/// readout channel carries the same datapoint, stored once (AMPEL's t0
/// ingester `$addToSet`s the stock). Reads by stock match any member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataPointDoc {
    pub id: i64,
    #[serde(deserialize_with = "one_or_many")]
    pub stock: Vec<i64>,
    pub channel: Vec<String>,
    #[serde(default)]
    pub tag: Vec<String>,
    #[serde(default)]
    pub meta: Vec<MetaRecord>,
    pub body: DataPointBody,
}

/// `cutout` collection: the science, template and difference stamps of
/// one stored alert, as the survey shipped them (ZTF: gzipped FITS; Rubin:
/// FITS), keyed by the alert's id (ZTF candid, Rubin diaSourceId). Kept
/// apart from the datapoints: the stamps are ~94% of a ZTF packet, and
/// only viewers read them.
#[derive(Debug, Clone, PartialEq)]
pub struct CutoutDoc {
    pub id: i64,
    pub stock: i64,
    /// The alert's time (JD): the newest is the stock's latest cutout.
    pub jd: f64,
    pub science: Option<Vec<u8>>,
    pub template: Option<Vec<u8>>,
    pub difference: Option<Vec<u8>>,
}

/// `t1` collection: a state (compound).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct T1Doc {
    pub stock: i64,
    pub link: i64,
    pub dps: Vec<i64>,
    pub channel: Vec<String>,
    #[serde(default)]
    pub tag: Vec<String>,
    pub code: i64,
    #[serde(default)]
    pub meta: Vec<MetaRecord>,
}

/// `t2` collection: one (stock, unit, config, link) computation, shared by
/// every channel that needs it; `body` holds one entry per run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct T2Doc {
    pub stock: i64,
    pub unit: String,
    pub config: i64,
    pub link: i64,
    /// `"t0"` (point T2: link is a datapoint id), `"stock"` (link is the
    /// stock) or absent (state T2: link is a T1 link).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub col: Option<String>,
    pub channel: Vec<String>,
    #[serde(default)]
    pub tag: Vec<String>,
    pub code: i64,
    #[serde(default)]
    pub meta: Vec<MetaRecord>,
    #[serde(default)]
    pub body: Vec<Json>,
    /// Failed attempts so far.
    #[serde(default)]
    pub trials: u32,
    /// Not before this time (back-off after a failure), unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<f64>,
    /// When a worker last claimed it (unix seconds). A document still
    /// RUNNING `reclaim_after_seconds` after its claim has lost its worker
    /// (killed, or its queue entry lost with a Redis restart) and is taken
    /// over from the archive, whatever the queue remembers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_at: Option<f64>,
}

impl T2Doc {
    /// The identity of a T2 document.
    pub fn key(&self) -> T2Key {
        T2Key {
            stock: self.stock,
            unit: self.unit.clone(),
            config: self.config,
            link: self.link,
        }
    }

    /// The latest result, if any.
    pub fn latest_body(&self) -> Option<&Json> {
        self.body.last()
    }
}

/// Identity of a T2 document.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct T2Key {
    pub stock: i64,
    pub unit: String,
    pub config: i64,
    pub link: i64,
}

/// `t3` collection: one T3 unit run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct T3Doc {
    pub run: i64,
    pub process: String,
    pub unit: String,
    pub confid: i64,
    pub channel: String,
    pub stock: Vec<i64>,
    pub code: i64,
    pub meta: MetaRecord,
    #[serde(default)]
    pub body: Json,
}

/// `event` collection: one process run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventDoc {
    pub run: i64,
    pub process: String,
    pub tier: Option<Tier>,
    pub start: f64,
    #[serde(default)]
    pub end: Option<f64>,
    #[serde(default)]
    pub code: i64,
    #[serde(default)]
    pub counts: BTreeMap<String, i64>,
    pub version: String,
    #[serde(default)]
    pub commit: Option<String>,
    #[serde(default)]
    pub job: Option<String>,
    /// The process that runs it (host name, pid) and when it last said it
    /// was alive: how the next run tells a dead run from a running one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<f64>,
    /// Why the run ended as it did, when not by itself (e.g. its process
    /// died and a later run closed the record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `log` collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogDoc {
    pub run: i64,
    pub ts: f64,
    pub level: String,
    pub tier: Option<Tier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<i64>,
    pub msg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<Json>,
}

/// Where a reaction is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReactionState {
    /// Waiting to be sent (at `next_try`).
    Pending,
    /// A courier claimed it and is sending it now. Still so well past the
    /// send's timeout (a crash), it may or may not have arrived: it becomes
    /// `Uncertain`, never sent again by itself.
    Sending,
    Delivered,
    /// Its attempts of this run failed; the process's next run re-arms it.
    Failed,
    /// Interrupted by a crash between send and record; `ampel reactions
    /// retry --uncertain` sends it again once someone has looked.
    Uncertain,
}

impl ReactionState {
    pub const ALL: [ReactionState; 5] = [
        ReactionState::Pending,
        ReactionState::Sending,
        ReactionState::Delivered,
        ReactionState::Failed,
        ReactionState::Uncertain,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ReactionState::Pending => "pending",
            ReactionState::Sending => "sending",
            ReactionState::Delivered => "delivered",
            ReactionState::Failed => "failed",
            ReactionState::Uncertain => "uncertain",
        }
    }
}

/// `reaction` collection: the outbox. One message of a T3 reaction unit
/// to one destination, with what it covers and how its delivery went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReactionDoc {
    /// Derived from the destination and `items`: planned twice, stored once.
    pub id: String,
    /// `<unit>:<config id>`: what the courier delivers to.
    pub destination: String,
    pub channel: String,
    pub process: String,
    pub unit: String,
    /// The T3 run that planned it.
    pub run: i64,
    /// (stock, digest of what is said about it).
    pub items: Vec<(i64, String)>,
    /// Kafka message key.
    #[serde(default)]
    pub key: Option<String>,
    pub payload: Json,
    pub state: ReactionState,
    #[serde(default)]
    pub attempts: u32,
    /// Not before (unix seconds).
    #[serde(default)]
    pub next_try: f64,
    #[serde(default)]
    pub error: Option<String>,
    pub created: f64,
    #[serde(default)]
    pub updated: f64,
}

impl ReactionDoc {
    pub fn stocks(&self) -> Vec<i64> {
        self.items.iter().map(|i| i.0).collect()
    }
}

/// A stock set as stored: a list, or (archives written before datapoints
/// were shared) a single id.
pub(super) fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(i64),
        Many(Vec<i64>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}
