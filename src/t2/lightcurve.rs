//! A light curve view of stored datapoints (AMPEL's `LightCurve`): photo
//! points are datapoints with positive ids, upper limits those with
//! negative ids, each in the order given.

use crate::store::DataPointDoc;
use serde_json::Value as Json;
use std::sync::Arc;

#[derive(Debug)]
pub struct LightCurve<'a> {
    pub photopoints: Vec<&'a DataPointDoc>,
    pub upperlimits: Vec<&'a DataPointDoc>,
}

impl<'a> LightCurve<'a> {
    pub fn build(datapoints: &'a [Arc<DataPointDoc>]) -> Self {
        let points = || datapoints.iter().map(|d| &**d);
        LightCurve {
            photopoints: points().filter(|d| d.id > 0).collect(),
            upperlimits: points().filter(|d| d.id < 0).collect(),
        }
    }
}

/// A numeric body field.
pub fn num(dp: &DataPointDoc, key: &str) -> Option<f64> {
    dp.body.get(key).and_then(Json::as_f64)
}

/// A body field as stored (null when absent, as Python's `dict.get`).
pub fn field(dp: &DataPointDoc, key: &str) -> Json {
    dp.body.get(key).cloned().unwrap_or(Json::Null)
}
