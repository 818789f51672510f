//! Rubin/LSST: alert packets (lsst.v9_0 and compatible), shaped like ZTF's:
//! the triggering diaSource first, then prvDiaSources, then
//! prvDiaForcedSources.
//!
//! Ids: the stock is the diaObjectId (solar-system sources without one use
//! their ssObjectId); detections keep their diaSourceId, forced photometry its
//! diaForcedSourceId. All are positive 64-bit integers assigned by Rubin, so
//! they cannot collide with ZTF's negative upper-limit ids.

use crate::alert::{Alert, Body, DataPoint, DataPointKind, FieldNames, Row, Survey, Value};
use crate::avro::{AvroError, WriterSchema};
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::sync::Arc;

const DP_TAGS: &[&str] = &["LSST", "LSST_DP"];
const FP_TAGS: &[&str] = &["LSST", "LSST_FP"];

/// The parts of an LSST packet the shaper reads.
#[derive(Debug, Deserialize)]
#[allow(non_snake_case)]
pub struct LsstRecord {
    pub diaSourceId: i64,
    pub diaSource: Row,
    #[serde(default)]
    pub prvDiaSources: Option<Vec<Row>>,
    #[serde(default)]
    pub prvDiaForcedSources: Option<Vec<Row>>,
    // The stamps, skipped (not copied): only whether any is there, so a
    // decoder keeps the raw datum just for packets with stamps
    // (`AlertDecoder::keep_stamps`).
    #[serde(default)]
    pub cutoutScience: Option<IgnoredAny>,
    #[serde(default)]
    pub cutoutTemplate: Option<IgnoredAny>,
    #[serde(default)]
    pub cutoutDifference: Option<IgnoredAny>,
}

impl LsstRecord {
    /// Whether any of the packet's cutouts is there.
    pub fn has_stamps(&self) -> bool {
        self.cutoutScience.is_some()
            || self.cutoutTemplate.is_some()
            || self.cutoutDifference.is_some()
    }
}

#[derive(Debug)]
pub struct LsstLayout {
    version: String,
    source: Arc<FieldNames>,
    forced: Arc<FieldNames>,
    source_id: usize,
    object_id: Option<usize>,
    ss_object_id: Option<usize>,
    forced_id: Option<usize>,
}

impl LsstLayout {
    pub fn build(schema: &WriterSchema) -> Result<Self, AvroError> {
        let source = schema
            .json
            .record_fields(&["diaSource"])?
            .ok_or_else(|| AvroError::Schema("LSST schema without a diaSource record".into()))?;
        let forced = schema
            .json
            .record_fields(&["prvDiaForcedSources"])?
            .unwrap_or_default();
        let source = FieldNames::new(source);
        let forced = FieldNames::new(forced);
        Ok(LsstLayout {
            version: schema.name.trim_end_matches(".alert").to_string(),
            source_id: source
                .position("diaSourceId")
                .ok_or_else(|| AvroError::Schema("diaSource without diaSourceId".into()))?,
            object_id: source.position("diaObjectId"),
            ss_object_id: source.position("ssObjectId"),
            forced_id: forced.position("diaForcedSourceId"),
            source,
            forced,
        })
    }

    pub fn shape(&self, rec: LsstRecord, index: usize) -> Result<Alert, AvroError> {
        let err = |reason: String| AvroError::Shape { index, reason };
        let nonzero = |pos: Option<usize>| {
            pos.and_then(|i| rec.diaSource.0.get(i))
                .and_then(Value::as_i64)
                .filter(|&v| v != 0)
        };
        let stock = nonzero(self.object_id)
            .or_else(|| nonzero(self.ss_object_id))
            .ok_or_else(|| err("diaSource has neither diaObjectId nor ssObjectId".into()))?;

        let prv = rec.prvDiaSources.unwrap_or_default();
        let forced = rec.prvDiaForcedSources.unwrap_or_default();
        let mut dps = Vec::with_capacity(1 + prv.len() + forced.len());
        dps.push(self.detection(rec.diaSourceId, rec.diaSource));
        for (n, row) in prv.into_iter().enumerate() {
            let id = row
                .0
                .get(self.source_id)
                .and_then(Value::as_i64)
                .ok_or_else(|| err(format!("prvDiaSources[{n}] without diaSourceId")))?;
            dps.push(self.detection(id, row));
        }
        for (n, row) in forced.into_iter().enumerate() {
            let id = self
                .forced_id
                .and_then(|i| row.0.get(i))
                .and_then(Value::as_i64)
                .ok_or_else(|| {
                    err(format!(
                        "prvDiaForcedSources[{n}] without diaForcedSourceId"
                    ))
                })?;
            dps.push(DataPoint {
                id,
                kind: DataPointKind::Forced,
                tags: FP_TAGS,
                program: None,
                body: Body::new(self.forced.clone(), row),
            });
        }
        Ok(Alert {
            id: rec.diaSourceId,
            stock,
            survey: Survey::Lsst,
            name: stock.to_string(),
            schema_version: self.version.clone(),
            datapoints: dps,
            raw: None,
        })
    }

    fn detection(&self, id: i64, row: Row) -> DataPoint {
        DataPoint {
            id,
            kind: DataPointKind::Detection,
            tags: DP_TAGS,
            program: None,
            body: Body::new(self.source.clone(), row),
        }
    }
}
