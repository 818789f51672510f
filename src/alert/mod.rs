//! The survey-neutral alert model: what every tier sees after shaping.
//!
//! An [`Alert`] is one packet from a survey, reduced to what AMPEL works
//! with: its id, the stock (AMPEL's transient id) it belongs to, and its
//! datapoints in the survey shaper's order (latest point first). Survey
//! specifics stay in `crate::survey`; nothing here names ZTF or LSST fields.

mod body;
mod cutouts;
mod value;

pub use body::{Body, FieldNames};
pub use cutouts::Cutouts;
pub use value::{Row, Value};

use bytes::Bytes;
use serde::Serialize;
use std::sync::Arc;

/// AMPEL's stock id: the integer identity of a transient.
pub type StockId = i64;

/// What kind of measurement a datapoint is; filters count detections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DataPointKind {
    /// A detection with its own survey id (ZTF candid, LSST diaSourceId).
    Detection,
    /// A non-detection (ZTF upper limit) with an id derived from its values.
    UpperLimit,
    /// Forced photometry (LSST diaForcedSource).
    Forced,
}

/// One measurement with its AMPEL id and tags.
#[derive(Debug, Clone, Serialize)]
pub struct DataPoint {
    pub id: i64,
    pub kind: DataPointKind,
    pub tags: &'static [&'static str],
    /// Survey programme (ZTF programid); `None` where the survey has none.
    /// Access rules (ZTF_PRIV) read it.
    pub program: Option<i64>,
    pub body: Body,
}

/// Which survey an alert came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Survey {
    #[serde(rename = "ZTF")]
    Ztf,
    #[serde(rename = "LSST")]
    Lsst,
}

/// The undecoded datum an alert was shaped from, kept so that large optional
/// parts (cutouts) can be decoded on demand instead of on the hot path.
#[derive(Clone)]
pub struct RawDatum {
    pub datum: Bytes,
    pub schema: Arc<crate::avro::WriterSchema>,
}

impl std::fmt::Debug for RawDatum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RawDatum({} bytes, {})",
            self.datum.len(),
            self.schema.name
        )
    }
}

/// A shaped alert.
#[derive(Debug, Clone)]
pub struct Alert {
    /// Alert id (ZTF candid, LSST diaSourceId).
    pub id: i64,
    pub stock: StockId,
    pub survey: Survey,
    /// The survey's external name of the stock (ZTF objectId); LSST: the
    /// diaObjectId as text.
    pub name: String,
    /// Writer schema version, e.g. `4.02` or `lsst.v9_0`.
    pub schema_version: String,
    /// Latest point first, then history in packet order.
    pub datapoints: Vec<DataPoint>,
    pub raw: Option<RawDatum>,
}

impl Alert {
    /// The point that triggered the alert (ZTF candidate, LSST diaSource).
    pub fn latest(&self) -> &DataPoint {
        &self.datapoints[0]
    }

    pub fn detections(&self) -> impl Iterator<Item = &DataPoint> {
        self.datapoints
            .iter()
            .filter(|d| d.kind == DataPointKind::Detection)
    }

    /// Datapoint ids in shaper order, optionally without private-programme
    /// points (ZTF programid 2) for channels without private access.
    pub fn datapoint_ids(&self, private_access: bool) -> Vec<i64> {
        self.datapoints
            .iter()
            .filter(|d| private_access || d.program != Some(2))
            .map(|d| d.id)
            .collect()
    }
}
