//! ZTF packets -> [`Alert`]: AMPEL's `ZiAlertSupplier.shape_alert_dict` plus the
//! ids of `ZiDataPointShaper`.
//!
//! The packet decodes into [`ZtfRecord`], a typed struct of what shaping
//! needs; cutouts and forced-photometry histories are skipped by the decoder
//! (they stay in the raw datum, see [`crate::alert::RawDatum`]).

use crate::alert::{Alert, Body, DataPoint, DataPointKind, FieldNames, Row, Survey, Value};
use crate::avro::{AvroError, WriterSchema};
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::sync::Arc;

/// JD of 2017-01-01, the origin of upper-limit ids.
pub const JD2017: f64 = 2457754.5;

/// The parts of a ZTF packet the shaper reads.
#[derive(Debug, Deserialize)]
pub struct ZtfRecord {
    /// Absent before schema 2.0 (2018 packets); AMPEL does not read it.
    #[serde(default)]
    pub schemavsn: Option<String>,
    #[serde(rename = "objectId")]
    pub object_id: String,
    pub candid: i64,
    pub candidate: Row,
    #[serde(default)]
    pub prv_candidates: Option<Vec<Row>>,
    // The stamps, skipped (not copied): only whether any is there, so a
    // decoder keeps the raw datum just for packets with stamps
    // (`AlertDecoder::keep_stamps`).
    #[serde(default, rename = "cutoutScience")]
    pub cutout_science: Option<IgnoredAny>,
    #[serde(default, rename = "cutoutTemplate")]
    pub cutout_template: Option<IgnoredAny>,
    #[serde(default, rename = "cutoutDifference")]
    pub cutout_difference: Option<IgnoredAny>,
}

impl ZtfRecord {
    /// Whether any of the packet's cutouts is there.
    pub fn has_stamps(&self) -> bool {
        self.cutout_science.is_some()
            || self.cutout_template.is_some()
            || self.cutout_difference.is_some()
    }
}

/// Field tables and positions derived once per ZTF writer schema.
#[derive(Debug)]
pub struct ZtfLayout {
    candidate: Arc<FieldNames>,
    prv: Arc<FieldNames>,
    upper_limit: Arc<FieldNames>,
    cand: Positions,
    prv_pos: Positions,
    /// The version a packet without `schemavsn` is reported under: the
    /// writer schema's `version` attribute, else [`PRE_2_0`].
    fallback_version: String,
}

/// ZTF added the top-level `schemavsn` field in schema 2.0: a `ztf.alert`
/// without it (and without a `version` attribute) is a 1.x packet.
pub const PRE_2_0: &str = "1.x";

#[derive(Debug, Default)]
struct Positions {
    candid: Option<usize>,
    jd: Option<usize>,
    fid: Option<usize>,
    pid: Option<usize>,
    diffmaglim: Option<usize>,
    programid: Option<usize>,
    rcid: Option<usize>,
    pdiffimfilename: Option<usize>,
}

impl Positions {
    fn of(f: &FieldNames) -> Self {
        Positions {
            candid: f.position("candid"),
            jd: f.position("jd"),
            fid: f.position("fid"),
            pid: f.position("pid"),
            diffmaglim: f.position("diffmaglim"),
            programid: f.position("programid"),
            rcid: f.position("rcid"),
            pdiffimfilename: f.position("pdiffimfilename"),
        }
    }
}

const UL_FIELDS: [&str; 7] = [
    "jd",
    "fid",
    "pid",
    "diffmaglim",
    "programid",
    "pdiffimfilename",
    "rcid",
];

impl ZtfLayout {
    pub fn build(schema: &WriterSchema) -> Result<Self, AvroError> {
        let candidate = schema
            .json
            .record_fields(&["candidate"])?
            .ok_or_else(|| AvroError::Schema("ZTF schema without a candidate record".into()))?;
        // Schemas without prv_candidates still shape (candidate only).
        let prv = schema
            .json
            .record_fields(&["prv_candidates"])?
            .unwrap_or_default();
        let candidate = FieldNames::new(candidate);
        let prv = FieldNames::new(prv);
        Ok(ZtfLayout {
            cand: Positions::of(&candidate),
            prv_pos: Positions::of(&prv),
            candidate,
            prv,
            upper_limit: FieldNames::new(UL_FIELDS),
            fallback_version: schema
                .json
                .root_attr("version")
                .unwrap_or_else(|| PRE_2_0.to_string()),
        })
    }

    /// Shapes a decoded packet. `index` names the record in errors.
    pub fn shape(&self, rec: ZtfRecord, index: usize) -> Result<Alert, AvroError> {
        let err = |reason: String| AvroError::Shape { index, reason };
        let stock = super::to_stock_id(&rec.object_id).map_err(|e| err(e.to_string()))?;
        let prv = rec.prv_candidates.unwrap_or_default();
        let mut dps = Vec::with_capacity(1 + prv.len());

        let cand = &rec.candidate.0;
        let program = get_i64(cand, self.cand.programid);
        let fid = get_i64(cand, self.cand.fid).unwrap_or(0);
        dps.push(DataPoint {
            id: rec.candid,
            kind: DataPointKind::Detection,
            tags: super::tags(program.unwrap_or(0), fid),
            program,
            body: Body::new(self.candidate.clone(), rec.candidate),
        });

        for (n, row) in prv.into_iter().enumerate() {
            let p = &self.prv_pos;
            let program = get_i64(&row.0, p.programid);
            let fid = get_i64(&row.0, p.fid).unwrap_or(0);
            let tags = super::tags(program.unwrap_or(0), fid);
            if let Some(candid) = get_i64(&row.0, p.candid) {
                dps.push(DataPoint {
                    id: candid,
                    kind: DataPointKind::Detection,
                    tags,
                    program,
                    body: Body::new(self.prv.clone(), row),
                });
                continue;
            }
            // Upper limit.
            let need = |pos: Option<usize>, name: &str| {
                get_f64(&row.0, pos)
                    .ok_or_else(|| err(format!("prv_candidates[{n}]: upper limit without {name}")))
            };
            let diffmaglim = need(p.diffmaglim, "diffmaglim")?;
            if diffmaglim < 0.0 {
                // IPAC occasionally ships meaningless negative limits; AMPEL drops them.
                continue;
            }
            let jd = need(p.jd, "jd")?;
            let pid = get_i64(&row.0, p.pid);
            let rcid = match get_i64(&row.0, p.rcid) {
                Some(r) => r,
                None => {
                    let pid = pid.ok_or_else(|| {
                        err(format!(
                            "prv_candidates[{n}]: upper limit without rcid or pid"
                        ))
                    })?;
                    pid.rem_euclid(10000) / 100
                }
            };
            let id = upper_limit_id(jd, rcid, diffmaglim);
            let take =
                |pos: Option<usize>| pos.and_then(|i| row.0.get(i).cloned()).unwrap_or_default();
            let body = Row(vec![
                Value::Float(jd),
                take(p.fid),
                take(p.pid),
                Value::Float(diffmaglim),
                take(p.programid),
                take(p.pdiffimfilename),
                Value::Int(rcid),
            ]);
            dps.push(DataPoint {
                id,
                kind: DataPointKind::UpperLimit,
                tags,
                program,
                body: Body::new(self.upper_limit.clone(), body),
            });
        }

        Ok(Alert {
            id: rec.candid,
            stock,
            survey: Survey::Ztf,
            name: rec.object_id,
            schema_version: rec
                .schemavsn
                .unwrap_or_else(|| self.fallback_version.clone()),
            datapoints: dps,
            raw: None,
        })
    }
}

/// AMPEL's upper-limit id: `int((JD2017 - jd) * 1e6) * 1e7 - rcid * 1e5 -
/// round(diffmaglim * 1000)`, integer arithmetic after the first truncation,
/// rounding half to even as Python's `round` does.
pub fn upper_limit_id(jd: f64, rcid: i64, diffmaglim: f64) -> i64 {
    let t = ((JD2017 - jd) * 1_000_000.0).trunc() as i64;
    let m = (diffmaglim * 1000.0).round_ties_even() as i64;
    t.wrapping_mul(10_000_000)
        .wrapping_sub(rcid.wrapping_mul(100_000))
        .wrapping_sub(m)
}

fn get_i64(row: &[Value], pos: Option<usize>) -> Option<i64> {
    pos.and_then(|i| row.get(i)).and_then(Value::as_i64)
}

fn get_f64(row: &[Value], pos: Option<usize>) -> Option<f64> {
    pos.and_then(|i| row.get(i)).and_then(Value::as_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_limit_worked_example() {
        // AMPEL-NOTES / ZiDataPointShaper docstring: jd 2458089.7405324,
        // pid 335240532815 (rcid 8), diffmaglim 19.0248 (as f32 in packets).
        let dml = f64::from(19.0248_f32);
        let rcid = 335240532815_i64 % 10000 / 100;
        assert_eq!(rcid, 28);
        assert_eq!(
            upper_limit_id(2458089.7405324, rcid, dml),
            -3352405322819025
        );
        assert_eq!(
            upper_limit_id(2458089.7405324, rcid, 19.0248),
            -3352405322819025
        );
    }

    #[test]
    fn rounding_is_half_to_even() {
        // 0.5 ties: Python round(2.5) == 2, round(3.5) == 4.
        assert_eq!(upper_limit_id(JD2017, 0, 0.0025), -2);
        assert_eq!(upper_limit_id(JD2017, 0, 0.0035), -4);
    }
}
