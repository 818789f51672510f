//! Rubin (lsst.v9_0) packets for a night: the same structure as the ZTF
//! night (objects recurring at up to four of six visits of their readout
//! group, histories growing through the night), from real LSSTCam alerts.
//!
//! What differs from ZTF, as in Rubin's stream: a later packet carries the
//! object's earlier detections of the night in `prvDiaSources` and, for
//! the visits where it was not detected, forced photometry at its position
//! in `prvDiaForcedSources` (Rubin measures the flux there instead of
//! sending an upper limit, so nothing is shared between objects). Each
//! object, source and forced source has its own 64-bit id; measurements
//! are the template's (the flux grows 5% per detection). Cutouts are
//! dropped, as in the ZTF night.

use super::night::Plan;
use super::value::{
    empty_of, field, fill_from, item_schema, items, num, set_items, set_long, set_num, unwrap_union,
};
use apache_avro::types::Value;
use apache_avro::Schema;

/// Ids of the night's objects, sources and forced sources start here:
/// above every real Rubin id (~1.7e17) and apart from the ZTF night's
/// candids (4e18 + ...), so no datapoint id is shared between surveys.
const OBJECT_BASE: i64 = 3_000_000_000_000_000_000;
const SOURCE_BASE: i64 = 5_000_000_000_000_000_000;
const FORCED_BASE: i64 = 6_000_000_000_000_000_000;
/// Copy `k` of a template shifts its real history's ids by `k` steps.
const ID_STEP: i64 = 10_000_000_000_000;
/// Visit ids as Rubin writes them: the night's date, then a sequence.
const VISIT_BASE: i64 = 2_026_120_400_000;
/// LSSTCam's science detectors.
const DETECTORS: u64 = 189;
const MJD_TO_JD: f64 = 2_400_000.5;

/// Real Rubin packets to build a night's Rubin alerts from.
pub struct RubinTemplates {
    schema: Schema,
    /// Packets of objects (a diaObjectId), not solar-system-only sources.
    alerts: Vec<Value>,
    /// A forced-photometry record of the schema, empty, to fill.
    forced: Value,
}

/// The id of the detection at place `sequence` of the night (growing with
/// time, as Rubin's ids, which begin with the visit, do).
pub fn source_id(sequence: u64) -> i64 {
    SOURCE_BASE + sequence as i64
}

fn record(v: &mut Value) -> Option<&mut Vec<(String, Value)>> {
    match unwrap_union(v) {
        Value::Record(f) => Some(f),
        _ => None,
    }
}

fn long(fields: &mut [(String, Value)], name: &str) -> Option<i64> {
    match field(fields, name).map(unwrap_union)? {
        Value::Long(l) => Some(*l),
        _ => None,
    }
}

/// Adds `k` steps to a long id field (a copy's own ids for real history).
fn shift(fields: &mut [(String, Value)], name: &str, k: i64) {
    if let Some(id) = long(fields, name) {
        set_long(fields, name, id + k * ID_STEP);
    }
}

impl RubinTemplates {
    /// From decoded packets of one writer schema; `None` when none of
    /// them has a diaObjectId or the schema has no forced photometry.
    pub fn new(schema: Schema, alerts: Vec<Value>) -> Option<RubinTemplates> {
        let forced = empty_of(item_schema(&schema, "prvDiaForcedSources")?)?;
        let alerts: Vec<Value> = alerts
            .into_iter()
            .filter_map(|mut a| {
                let f = record(&mut a)?;
                let source = record(field(f, "diaSource")?)?;
                (long(source, "diaObjectId")? != 0).then_some(a)
            })
            .collect();
        (!alerts.is_empty()).then_some(RubinTemplates {
            schema,
            alerts,
            forced,
        })
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The packet of `object` detected at `visit` of the Rubin part of the
    /// night `plan` (its readout group, each visit's time, and each
    /// detection's or forced measurement's place, from which ids are
    /// made); `seen` holds the visits it is detected at (bits).
    pub fn alert(&self, object: u64, visit: u32, seen: u8, plan: &Plan) -> Value {
        let group = plan.group(object);
        let jd = |v: u32| plan.jd(group, v);
        let seq = |v: u32| plan.sequence(object, v);
        let n = self.alerts.len() as u64;
        let k = (object / n) as i64;
        let mut a = self.alerts[(object % n) as usize].clone();
        let Value::Record(fields) = &mut a else {
            return a;
        };
        let obj = OBJECT_BASE + object as i64;
        let visit_id = |v: u32| VISIT_BASE + (group * 8 + u64::from(v)) as i64;
        set_long(fields, "diaSourceId", source_id(seq(visit)));
        // The template's real history, as this copy's own.
        let mut detections = items(fields, "prvDiaSources").cloned().unwrap_or_default();
        let mut forced = items(fields, "prvDiaForcedSources")
            .cloned()
            .unwrap_or_default();
        for (list, id) in [
            (&mut detections, "diaSourceId"),
            (&mut forced, "diaForcedSourceId"),
        ] {
            for p in list.iter_mut().filter_map(record) {
                shift(p, id, k);
                set_long(p, "diaObjectId", obj);
            }
        }
        let Some(source) = field(fields, "diaSource").and_then(record) else {
            return a;
        };
        let flux = num(source, "psfFlux").unwrap_or(1000.0);
        let measure = |d: &mut Vec<(String, Value)>, v: u32, index: usize| {
            set_long(d, "diaObjectId", obj);
            set_long(d, "visit", visit_id(v));
            set_num(d, "detector", (group % DETECTORS) as f64);
            set_num(d, "midpointMjdTai", jd(v) - MJD_TO_JD);
            set_num(d, "psfFlux", flux * (1.0 + 0.05 * index as f64));
        };
        let template = source.clone();
        let mut index = 0;
        for v in 0..visit {
            if seen & (1 << v) != 0 {
                let mut d = template.clone();
                set_long(&mut d, "diaSourceId", source_id(seq(v)));
                measure(&mut d, v, index);
                detections.push(Value::Record(d));
                index += 1;
            } else {
                let mut f = self.forced.clone();
                if let Some(ff) = record(&mut f) {
                    fill_from(ff, &template);
                    let id = FORCED_BASE + seq(v) as i64;
                    set_long(ff, "diaForcedSourceId", id);
                    measure(ff, v, 0);
                    // Below detection: a tenth of the object's flux.
                    set_num(ff, "psfFlux", flux * 0.1);
                }
                forced.push(f);
            }
        }
        set_long(source, "diaSourceId", source_id(seq(visit)));
        measure(source, visit, index);
        if let Some(o) = field(fields, "diaObject").and_then(record) {
            set_long(o, "diaObjectId", obj);
        }
        set_items(fields, "prvDiaSources", detections);
        set_items(fields, "prvDiaForcedSources", forced);
        a
    }
}
