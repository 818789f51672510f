//! What a T2 run computes on, read from the archive: a state with its
//! datapoints, one datapoint, or a stock. Datapoints are read only as far
//! as the worker's units need them ([`T2Unit::body_fields`]).

use crate::store::{
    Archive, DataPointDoc, DataPointProjection, StockDoc, StoreError, T1Doc, T2Doc,
};
use crate::t2::{T2Kind, T2Unit};
use std::collections::HashMap;
use std::sync::Arc;

/// A T2 run's input, shared by the units on the same (stock, link, kind).
pub(super) struct LoadedInput {
    pub dps: Vec<DataPointDoc>,
    pub state: Option<T1Doc>,
    pub stock: Option<StockDoc>,
}

/// Reads T2 inputs for one worker's units.
pub(super) struct InputLoader {
    /// What every unit of the worker reads of a datapoint, when all of
    /// them say ([`T2Unit::body_fields`]): loads read only that.
    projection: Option<DataPointProjection>,
}

impl InputLoader {
    /// One projection per worker, not per unit, because units on the same
    /// state share one load: the union of the units' body fields, or
    /// whole datapoints if a unit reads them whole.
    pub(super) fn new<'a>(units: impl Iterator<Item = &'a Arc<dyn T2Unit>>) -> Self {
        let mut fields = Vec::new();
        for u in units {
            let Some(f) = u.body_fields() else {
                return InputLoader { projection: None };
            };
            fields.extend(f);
        }
        InputLoader {
            projection: Some(DataPointProjection::body(fields)),
        }
    }

    /// A stock's datapoints as this worker's units read them.
    fn datapoints(
        &self,
        archive: &dyn Archive,
        stock: i64,
    ) -> Result<Vec<DataPointDoc>, StoreError> {
        match &self.projection {
            Some(p) => archive.datapoints_projected(stock, p),
            None => archive.datapoints(stock),
        }
    }

    /// The input of `d` (a unit of `kind`); `Err(why)` when what it names
    /// is not in the archive (a permanent failure of that run).
    pub(super) fn load(
        &self,
        archive: &dyn Archive,
        kind: T2Kind,
        d: &T2Doc,
    ) -> Result<Result<LoadedInput, String>, StoreError> {
        Ok(match kind {
            T2Kind::State => {
                let Some(state) = archive.state(d.stock, d.link)? else {
                    return Ok(Err(format!(
                        "state {} of stock {} not found",
                        d.link, d.stock
                    )));
                };
                let mut by_id: HashMap<i64, DataPointDoc> = self
                    .datapoints(archive, d.stock)?
                    .into_iter()
                    .map(|p| (p.id, p))
                    .collect();
                let dps: Vec<DataPointDoc> =
                    state.dps.iter().filter_map(|id| by_id.remove(id)).collect();
                if dps.len() != state.dps.len() {
                    return Ok(Err(format!(
                        "{} datapoints of state {} missing",
                        state.dps.len() - dps.len(),
                        d.link
                    )));
                }
                Ok(LoadedInput {
                    dps,
                    state: Some(state),
                    stock: None,
                })
            }
            T2Kind::Point => {
                let dps: Vec<DataPointDoc> = self
                    .datapoints(archive, d.stock)?
                    .into_iter()
                    .filter(|p| p.id == d.link)
                    .collect();
                if dps.is_empty() {
                    return Ok(Err(format!("datapoint {} not found", d.link)));
                }
                Ok(LoadedInput {
                    dps,
                    state: None,
                    stock: None,
                })
            }
            T2Kind::Stock => Ok(LoadedInput {
                dps: self.datapoints(archive, d.stock)?,
                state: None,
                stock: archive.stock(d.stock)?,
            }),
        })
    }
}
