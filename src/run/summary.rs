//! What a run did, printed last by `ampel run` and kept in its event.

use serde::Serialize;
use std::collections::BTreeMap;

/// What a run did, printed last by `ampel run`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunSummary {
    pub job: String,
    pub run: i64,
    pub archive: String,
    pub alerts: u64,
    pub failed: u64,
    /// Alerts skipped as already processed (redeliveries, per the hot state).
    pub duplicates: u64,
    /// Alerts that every accepting channel had already ingested, found in
    /// the archive (a replay of the same file, or a redelivery the hot
    /// state had forgotten): logged, nothing stored again.
    pub reingested: u64,
    pub accepted: BTreeMap<String, u64>,
    pub rejected: BTreeMap<String, u64>,
    /// Per channel, alerts of a survey its access does not name (a mixed
    /// stream): not filtered, neither accepted nor rejected.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub other_survey: BTreeMap<String, u64>,
    pub datapoints: i64,
    pub states: i64,
    pub t2: BTreeMap<String, i64>,
    pub t2_runs: u64,
    pub t3_runs: u64,
    /// T3 unit runs that failed (error or panic): their output is missing.
    #[serde(skip_serializing_if = "is_zero")]
    pub t3_failed: u64,
    /// Live runs: the most messages taken from Kafka and not yet stored at
    /// any one time (the consumer keeps it within `max_in_flight`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_flight_peak: Option<u64>,
    pub seconds: f64,
    pub alerts_per_s: f64,
    /// Stopped by a signal (Ctrl-C) before its end: what was read is
    /// stored; T2 and T3 work left is for the next run.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
