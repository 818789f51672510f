//! T2 units: computations on a state (a T1 and its datapoints), a datapoint,
//! or a stock. Each result is stored once per (stock, unit, config, link)
//! and shared by every channel that asks for it.
//!
//! Units are pure: the tier runner loads their input from the archive, runs
//! them (catching panics), and records body, code and meta.

mod catalog_match;
mod lightcurve;
mod lightcurve_summary;
mod multimess_match;
mod template_match;
mod tutorial_decision;

pub use catalog_match::{T2CatalogMatch, T2CatalogMatchConfig};
pub use lightcurve::LightCurve;
pub use lightcurve_summary::{T2LightCurveSummary, T2LightCurveSummaryConfig};
pub use multimess_match::{NeutrinoRegion, T2MultiMessMatch, T2MultiMessMatchConfig};
pub use template_match::{T2TemplateMatch, T2TemplateMatchConfig};
pub use tutorial_decision::{T2TutorialDecision, T2TutorialDecisionConfig};

use crate::store::{DataPointDoc, StockDoc, T1Doc};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What a T2 unit computes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum T2Kind {
    /// One datapoint (link = datapoint id, col "t0").
    Point,
    /// A state: T1 document and its datapoints (link = T1 link).
    State,
    /// A whole stock (link = stock id, col "stock").
    Stock,
}

/// Another T2 result a tied unit needs, on the same link.
#[derive(Debug, Clone, PartialEq)]
pub struct T2Dependency {
    pub unit: String,
    pub config: Json,
}

/// The input of one T2 run.
#[derive(Debug)]
pub struct T2Input<'a> {
    pub stock: i64,
    /// Point: the datapoint; state: the T1's datapoints in its `dps` order
    /// (ascending ids); stock: all datapoints of the stock.
    pub datapoints: &'a [Arc<DataPointDoc>],
    pub state: Option<&'a T1Doc>,
    pub stock_doc: Option<&'a StockDoc>,
    /// Latest bodies of the dependencies, by unit name.
    pub dependencies: &'a BTreeMap<String, Json>,
}

/// A T2 run's result.
#[derive(Debug, Clone, PartialEq)]
pub enum T2Outcome {
    /// Success: stored with code OK.
    Ok(Json),
    /// A unit-defined code (positive, a valid result) with its body.
    Code(i64, Json),
    /// A transient failure: retried with back-off up to max_try.
    Retry(String),
    /// A permanent failure: stored as ERROR, not retried.
    Error(String),
}

/// A T2 unit.
pub trait T2Unit: Send + Sync {
    fn kind(&self) -> T2Kind;
    /// The full validated config, defaults filled in, under AMPEL's field
    /// names: what the config id is computed over and what the `conf`
    /// collection keeps (AMPEL's `ProcessMorpher.hash_t2_config` hashes
    /// `T2Unit.validate(conf)`, so `{}` and the spelled-out defaults are one
    /// config). Required, so no unit can fall back to hashing `{}`.
    fn config(&self) -> Json;
    /// Tied units name their dependencies; others need none.
    fn dependencies(&self) -> Vec<T2Dependency> {
        Vec::new()
    }
    /// The datapoint body fields this unit reads, when it reads a known
    /// few: the T2 worker then reads only those from the archive (a ZTF
    /// photopoint has 56, the light curve units read about ten) and no
    /// meta. `None` (the default): whole datapoints. A unit naming fields
    /// must compute the same on datapoints cut down to them (tested for
    /// each unit that names any), and reads of a datapoint only its id,
    /// tags and those fields: the worker hands it datapoints read for an
    /// earlier state of the stock, whose channel and stock lists may have
    /// grown since.
    fn body_fields(&self) -> Option<Vec<String>> {
        None
    }
    fn process(&self, input: &T2Input) -> T2Outcome;
}

crate::unit_registry!(
    T2UnitRegistration,
    BuildT2,
    dyn T2Unit,
    t2_names,
    build_t2,
    "T2"
);
