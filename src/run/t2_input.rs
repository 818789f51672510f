//! What a T2 run computes on, read from the archive: a state with its
//! datapoints, one datapoint, or a stock. Datapoints are read only as far
//! as the worker's units need them ([`T2Unit::body_fields`]), and, so
//! read, only once while the worker holds them ([`RecentDatapoints`]).

use super::t2_recent::RecentDatapoints;
use crate::store::{
    Archive, DataPointDoc, DataPointProjection, StockDoc, StoreError, T1Doc, T2Doc,
};
use crate::t2::{T2Kind, T2Unit};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Datapoints a worker holds for the next state of their stock: about
/// 40 MB of projected ZTF datapoints. All 44,886 of a 10k-alert night's
/// accept-all replay fit; over a longer run the stocks read longest ago
/// go first.
const RECENT_DATAPOINTS: usize = 50_000;

/// A T2 run's input, shared by the units on the same (stock, link, kind).
pub(super) struct LoadedInput {
    pub dps: Vec<Arc<DataPointDoc>>,
    pub state: Option<T1Doc>,
    pub stock: Option<StockDoc>,
}

/// Reads T2 inputs for one worker's units.
pub(super) struct InputLoader {
    /// What every unit of the worker reads of a datapoint, when all of
    /// them say ([`T2Unit::body_fields`]): loads read only that.
    projection: Option<DataPointProjection>,
    /// Projected datapoints read before, by stock.
    recent: Mutex<RecentDatapoints>,
}

impl InputLoader {
    /// One projection per worker, not per unit, because units on the same
    /// state share one load: the union of the units' body fields, or
    /// whole datapoints if a unit reads them whole.
    pub(super) fn new<'a>(units: impl Iterator<Item = &'a Arc<dyn T2Unit>>) -> Self {
        let mut fields = Vec::new();
        for u in units {
            let Some(f) = u.body_fields() else {
                return InputLoader::with(None);
            };
            fields.extend(f);
        }
        InputLoader::with(Some(DataPointProjection::body(fields)))
    }

    fn with(projection: Option<DataPointProjection>) -> Self {
        InputLoader {
            projection,
            recent: Mutex::new(RecentDatapoints::new(RECENT_DATAPOINTS)),
        }
    }

    /// A stock's datapoints as this worker's units read them.
    fn datapoints(
        &self,
        archive: &dyn Archive,
        stock: i64,
    ) -> Result<Vec<Arc<DataPointDoc>>, StoreError> {
        let dps = match &self.projection {
            Some(p) => archive.datapoints_projected(stock, p)?,
            None => archive.datapoints(stock)?,
        };
        Ok(dps.into_iter().map(Arc::new).collect())
    }

    /// The datapoints `ids` (ascending) of `stock` that are stored, in the
    /// ids' order, as this worker's units read them: those held from an
    /// earlier read, and the rest from the archive (by id when projected).
    fn datapoints_among(
        &self,
        archive: &dyn Archive,
        stock: i64,
        ids: &[i64],
    ) -> Result<Vec<Arc<DataPointDoc>>, StoreError> {
        let Some(p) = &self.projection else {
            let mut by_id: HashMap<i64, Arc<DataPointDoc>> = self
                .datapoints(archive, stock)?
                .into_iter()
                .map(|d| (d.id, d))
                .collect();
            return Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect());
        };
        let recent = || self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        let mut found = recent().lookup(stock, ids);
        if found.missing.is_empty() {
            return Ok(found.found.into_iter().flatten().collect());
        }
        // Read without the lock: the other thread of a replay may load too.
        found.missing.sort_unstable();
        let read: Vec<Arc<DataPointDoc>> = archive
            .datapoints_projected_among(stock, &found.missing, p)?
            .into_iter()
            .map(Arc::new)
            .collect();
        recent().keep(stock, &read);
        let mut read: HashMap<i64, Arc<DataPointDoc>> =
            read.into_iter().map(|d| (d.id, d)).collect();
        Ok(ids
            .iter()
            .zip(found.found)
            .filter_map(|(id, held)| held.or_else(|| read.remove(id)))
            .collect())
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
                let dps = self.datapoints_among(archive, d.stock, &state.dps)?;
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
                let dps = self.datapoints_among(archive, d.stock, &[d.link])?;
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
