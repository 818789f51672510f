//! What two runs of one job over the same alerts must agree on, whatever
//! their layout (a replay, one live process, many scaled-out processes):
//! stocks with their channels and datapoints, states, and T2 results.
//! Run ids, times and journals differ between runs and are left out.

use super::{Archive, StoreError, T2Query};
use serde_json::{json, Value as Json};

/// The archive's results as one comparable JSON value.
pub fn fingerprint(a: &dyn Archive) -> Result<Json, StoreError> {
    let mut stocks = Vec::new();
    for s in a.stocks(&Default::default())? {
        let dps: Vec<i64> = a.datapoints(s.stock)?.iter().map(|d| d.id).collect();
        let states: Vec<Json> = a
            .states(s.stock)?
            .iter()
            .map(|t| json!([t.link, t.dps, t.channel]))
            .collect();
        stocks.push(json!([s.stock, s.channel, s.name, dps, states]));
    }
    let t2: Vec<Json> = a
        .t2(&T2Query::default())?
        .into_iter()
        .map(|d| json!([d.stock, d.unit, d.config, d.link, d.code, d.body, d.channel]))
        .collect();
    Ok(json!({"stocks": stocks, "t2": t2}))
}
