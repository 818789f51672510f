//! A night of ZTF alerts made from real ones, for `ampel bench night`.
//!
//! The structure of a survey night, not just copies:
//! - **objects recur**: each object (a distinct copy of a real alert's
//!   object, the `copy` module) is detected 1-4 times in the night (40 / 30
//!   / 20 / 10 %), and each later alert carries the earlier ones in its
//!   `prv_candidates` after the real history it started with, so
//!   histories grow through the night;
//! - **exposures are shared**: objects are spread over readout groups (a
//!   field's quadrant, ~40 objects each, `rcid` 1-64), each visited six
//!   times in the night. A visit where an object is not detected is an
//!   upper limit in its next alert, with the visit's time, `rcid` and
//!   limiting magnitude: the same upper limit (the same datapoint id) for
//!   every object of the group, as in reality;
//! - **measurements are real**: each detection keeps its template's
//!   measurements (what filters look at: rb, fwhm, PS1 and Gaia
//!   neighbours...), so filters accept about as often as on real nights.
//!
//! Alerts come in time order (visit by visit), numbered with fresh
//! candids. The cutouts are dropped (they are 94% of a packet's bytes
//! and no tier reads them). Each alert is its own Avro container with the
//! writer schema, as in ZTF's archives, written into one tar per slice of
//! the night so a benchmark streams them from disk.

use super::copy;
use super::rubin::{source_id, RubinTemplates};
use super::value::{drop_cutouts, field, fill_from, items, num, set_items, set_long, set_num};
use apache_avro::types::Value;
use apache_avro::{Codec, Reader, Schema, Writer};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Visits of each readout group in a night.
const VISITS: u32 = 6;
/// Objects per readout group (per quadrant of a field).
const PER_GROUP: u64 = 40;
/// The night: 2023-10-19 UT, after the real templates' histories.
const NIGHT_START_JD: f64 = 2_460_236.6;
const NIGHT_LENGTH_DAYS: f64 = 0.35;
/// Candids of the night's detections start here, above every real or
/// shifted template candid. A detection's candid is this plus its place in
/// the night ([`Plan::sequence`]): like ZTF's own (which begin with the
/// exposure's processing id), candids grow with time, and a later alert's
/// history names an earlier detection by its own candid.
const CANDID_BASE: i64 = 4_000_000_000_000_000_000;

/// The candid of the detection at place `sequence` of the night.
fn candid(sequence: u64) -> i64 {
    CANDID_BASE + sequence as i64
}

/// Real alerts to build nights from: their writer schema and records.
pub struct Templates {
    schema: Schema,
    alerts: Vec<Value>,
    /// A prv_candidates detection and upper limit, as shapes to fill.
    prv_detection: Value,
    prv_limit: Value,
    /// Rubin packets among them, for a night's Rubin alerts.
    rubin: Option<RubinTemplates>,
}

#[derive(Debug, thiserror::Error)]
pub enum NightError {
    #[error("{0}")]
    Avro(#[from] apache_avro::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the templates hold no {0}")]
    Missing(&'static str),
}

impl Templates {
    /// From Avro containers: ZTF 4.x alerts, all with one writer schema,
    /// and optionally Rubin packets (a writer schema in the `lsst`
    /// namespace).
    pub fn from_containers(messages: &[Vec<u8>]) -> Result<Templates, NightError> {
        let (mut schema, mut rubin_schema) = (None, None);
        let (mut alerts, mut rubin) = (Vec::new(), Vec::new());
        for m in messages {
            let reader = Reader::new(&m[..])?;
            let writer = reader.writer_schema().clone();
            let is_rubin = matches!(&writer, Schema::Record(r)
                if r.name.namespace.as_deref().is_some_and(|n| n.starts_with("lsst")));
            let (into, slot) = match is_rubin {
                true => (&mut rubin, &mut rubin_schema),
                false => (&mut alerts, &mut schema),
            };
            slot.get_or_insert(writer);
            for v in reader {
                into.push(v?);
            }
        }
        let schema = schema.ok_or(NightError::Missing("ZTF alert"))?;
        let rubin = match rubin_schema {
            Some(s) => Some(
                RubinTemplates::new(s, rubin)
                    .ok_or(NightError::Missing("Rubin packet with a diaObjectId"))?,
            ),
            None => None,
        };
        let (mut det, mut lim) = (None, None);
        for a in &alerts {
            for p in prv_entries(a) {
                match is_detection(p) {
                    true => det.get_or_insert_with(|| p.clone()),
                    false => lim.get_or_insert_with(|| p.clone()),
                };
            }
        }
        Ok(Templates {
            schema,
            alerts,
            prv_detection: det.ok_or(NightError::Missing("prv_candidates detection"))?,
            prv_limit: lim.ok_or(NightError::Missing("prv_candidates upper limit"))?,
            rubin,
        })
    }
}

fn prv_entries(a: &Value) -> Vec<&Value> {
    let Value::Record(f) = a else { return vec![] };
    let prv = f
        .iter()
        .find(|(n, _)| n == "prv_candidates")
        .map(|(_, v)| v);
    let mut v = prv;
    while let Some(Value::Union(_, inner)) = v {
        v = Some(inner);
    }
    match v {
        Some(Value::Array(items)) => items.iter().collect(),
        _ => vec![],
    }
}

fn is_detection(p: &Value) -> bool {
    let mut p = p;
    while let Value::Union(_, inner) = p {
        p = inner;
    }
    let Value::Record(f) = p else { return false };
    f.iter().find(|(n, _)| n == "candid").is_some_and(|(_, v)| {
        matches!(v, Value::Long(_))
            || matches!(v, Value::Union(_, b) if matches!(**b, Value::Long(_)))
    })
}

/// The night's plan: which object of which survey is seen at which visit
/// of its group.
pub struct Night<'t> {
    t: &'t Templates,
    ztf: Plan,
    rubin: Option<Plan>,
    cutouts: bool,
}

/// One survey's part of the night: its alerts, spread over readout groups.
#[derive(Debug, Clone, Copy)]
pub(super) struct Plan {
    alerts: u64,
    groups: u64,
}

/// One detection: object, visit of its group, and when in the night.
#[derive(Debug, Clone, Copy)]
struct Sighting {
    object: u64,
    visit: u32,
    rubin: bool,
    /// Fraction of the night elapsed.
    at: f64,
}

fn mix(mut x: u64) -> u64 {
    // splitmix64: a fixed, well-spread hash (reproducible nights).
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The visits (of six) an object is detected at, as a bit set.
fn detections(object: u64) -> u8 {
    let h = mix(object);
    let n = match h % 10 {
        0..=3 => 1,
        4..=6 => 2,
        7..=8 => 3,
        _ => 4,
    };
    let mut set = 0u8;
    let mut k = h >> 8;
    while set.count_ones() < n {
        set |= 1 << (k % u64::from(VISITS));
        k = mix(k);
    }
    set
}

/// A slice written: its index in the night, its tar, its alerts.
type Slice = (usize, PathBuf, u64);

impl Plan {
    /// About `alerts` / 2 objects (2 alerts each on average, 10% more so
    /// the night is not short), 40 per group.
    fn new(alerts: u64) -> Plan {
        let objects = (alerts * 11 / 20).max(1);
        Plan {
            alerts,
            groups: objects.div_ceil(PER_GROUP),
        }
    }

    /// This part's detections in time order, `alerts` of them.
    fn schedule(&self, rubin: bool) -> Vec<Sighting> {
        let mut out = Vec::with_capacity(self.alerts as usize);
        if self.alerts == 0 {
            return out;
        }
        'night: for visit in 0..VISITS {
            for g in 0..self.groups {
                for m in 0..PER_GROUP {
                    let object = m * self.groups + g;
                    if detections(object) & (1 << visit) != 0 {
                        let at = self.slot(g, visit);
                        out.push(Sighting {
                            object,
                            visit,
                            rubin,
                            at,
                        });
                        if out.len() as u64 == self.alerts {
                            break 'night;
                        }
                    }
                }
            }
        }
        out
    }

    /// When visit `visit` of `group` is exposed, as a fraction of the night.
    fn slot(&self, group: u64, visit: u32) -> f64 {
        let exposures = (u64::from(VISITS) * self.groups) as f64;
        (u64::from(visit) * self.groups + group) as f64 / exposures
    }

    /// The readout group `object` belongs to.
    pub(super) fn group(&self, object: u64) -> u64 {
        object % self.groups
    }

    pub(super) fn jd(&self, group: u64, visit: u32) -> f64 {
        NIGHT_START_JD + NIGHT_LENGTH_DAYS * self.slot(group, visit)
    }

    /// The place of `object`'s detection at `visit` in the night: exposure
    /// by exposure, then the object's place in its group. Unique (an
    /// object's place is below [`PER_GROUP`]) and growing with time, as
    /// survey ids do: ZTF's candids begin with the exposure's processing
    /// id, Rubin's source ids with the visit. Ids numbered by object
    /// instead put each new detection at a random place of the archive's
    /// datapoint index, which no real night does.
    pub(super) fn sequence(&self, object: u64, visit: u32) -> u64 {
        let exposure = u64::from(visit) * self.groups + self.group(object);
        exposure * PER_GROUP + object / self.groups
    }
}

impl<'t> Night<'t> {
    /// `alerts` alerts, a `rubin_share` of them Rubin packets (which needs
    /// Rubin templates when above zero).
    pub fn new(t: &'t Templates, alerts: u64, rubin_share: f64) -> Result<Night<'t>, NightError> {
        let rubin = (alerts as f64 * rubin_share.clamp(0.0, 1.0)).round() as u64;
        if rubin > 0 && t.rubin.is_none() {
            return Err(NightError::Missing("Rubin (lsst) packet"));
        }
        Ok(Night {
            t,
            ztf: Plan::new(alerts - rubin),
            rubin: (rubin > 0).then(|| Plan::new(rubin)),
            cutouts: false,
        })
    }

    /// The night's detections of both surveys, in time order.
    fn schedule(&self) -> Vec<Sighting> {
        let mut all = self.ztf.schedule(false);
        if let Some(r) = &self.rubin {
            all.extend(r.schedule(true));
            // Stable: each survey's own order is kept at equal times.
            all.sort_by(|a, b| a.at.total_cmp(&b.at));
        }
        all
    }

    /// The alert of `s`, in its survey's schema; without its cutouts
    /// unless the night keeps them.
    fn alert(&self, s: Sighting) -> (&Schema, Value) {
        let (schema, mut a) = match (s.rubin, &self.t.rubin, &self.rubin) {
            (true, Some(t), Some(plan)) => {
                let a = t.alert(s.object, s.visit, detections(s.object), plan);
                (t.schema(), a)
            }
            _ => (&self.t.schema, self.ztf_alert(s)),
        };
        if let (false, Value::Record(fields)) = (self.cutouts, &mut a) {
            drop_cutouts(fields);
        }
        (schema, a)
    }

    /// Keeps the template packets' cutouts in every alert (they are ~94%
    /// of a ZTF packet: a night with them is ~16 times larger), to measure
    /// what storing stamps costs.
    pub fn with_cutouts(mut self, keep: bool) -> Self {
        self.cutouts = keep;
        self
    }

    /// The member name of `s` in its slice's tar: its alert id.
    fn member(&self, s: Sighting) -> String {
        match (s.rubin, &self.rubin) {
            (true, Some(plan)) => format!("{}.avro", source_id(plan.sequence(s.object, s.visit))),
            _ => format!("{}.avro", candid(self.ztf.sequence(s.object, s.visit))),
        }
    }

    fn limiting_mag(group: u64, visit: u32) -> f64 {
        20.0 + ((group * 7 + u64::from(visit) * 13) % 100) as f64 / 100.0
    }

    /// The ZTF alert of `s`.
    fn ztf_alert(&self, s: Sighting) -> Value {
        let n = self.t.alerts.len() as u64;
        let mut a = copy(self.t.alerts[(s.object % n) as usize].clone(), s.object / n);
        let Value::Record(fields) = &mut a else {
            return a;
        };
        set_long(
            fields,
            "candid",
            candid(self.ztf.sequence(s.object, s.visit)),
        );
        let mut template_mag = 19.0;
        let mut detection = self.t.prv_detection.clone();
        if let Some(Value::Record(c)) = field(fields, "candidate") {
            template_mag = num(c, "magpsf").unwrap_or(19.0);
            // Earlier detections repeat this one's measurements.
            if let Value::Record(d) = &mut detection {
                fill_from(d, c);
            }
            self.detect(c, s);
        }
        let history = self.ztf_history(s, template_mag, &detection);
        match items(fields, "prv_candidates") {
            Some(list) => list.extend(history),
            None if !history.is_empty() => set_items(fields, "prv_candidates", history),
            None => {}
        }
        a
    }

    /// The candidate of `s`: its own candid, time, readout channel,
    /// limiting magnitude, and a magnitude brightening with each detection.
    fn detect(&self, c: &mut [(String, Value)], s: Sighting) {
        let group = self.ztf.group(s.object);
        let seen = detections(s.object);
        let index = (0..s.visit).filter(|v| seen & (1 << v) != 0).count() as f64;
        let template_mag = num(c, "magpsf").unwrap_or(19.0);
        set_long(c, "candid", candid(self.ztf.sequence(s.object, s.visit)));
        set_num(c, "jd", self.ztf.jd(group, s.visit));
        set_num(c, "rcid", (group % 64) as f64);
        set_num(c, "pid", (group * 8 + u64::from(s.visit)) as f64);
        set_num(c, "diffmaglim", Self::limiting_mag(group, s.visit));
        set_num(c, "magpsf", template_mag - 0.05 * index);
        let ndet = num(c, "ndethist").unwrap_or(0.0);
        set_num(c, "ndethist", ndet + index);
    }

    /// This night's earlier visits of `s`'s object: its detections (from
    /// `detection`, with their own candid and magnitude) and the upper
    /// limits its readout group shares.
    fn ztf_history(&self, s: Sighting, template_mag: f64, detection: &Value) -> Vec<Value> {
        let group = self.ztf.group(s.object);
        let seen = detections(s.object);
        let mut history = Vec::new();
        let mut k = 0;
        for v in 0..s.visit {
            let mut p = if seen & (1 << v) != 0 {
                let mut d = detection.clone();
                if let Value::Record(pf) = &mut d {
                    set_long(pf, "candid", candid(self.ztf.sequence(s.object, v)));
                    set_num(pf, "magpsf", template_mag - 0.05 * k as f64);
                }
                k += 1;
                d
            } else {
                self.t.prv_limit.clone()
            };
            if let Value::Record(pf) = &mut p {
                set_num(pf, "jd", self.ztf.jd(group, v));
                set_num(pf, "rcid", (group % 64) as f64);
                set_num(pf, "pid", (group * 8 + u64::from(v)) as f64);
                set_num(pf, "diffmaglim", Self::limiting_mag(group, v));
            }
            history.push(p);
        }
        history
    }

    /// Writes the night into `slices` tars in `dir` (`night-00.tar`, ...),
    /// each a consecutive tenth (or so) of the night in time order; calls
    /// `progress(done, total)` now and then. Returns the tar paths and
    /// each one's alert count. Slices are written in parallel, one per
    /// core (a million alerts is minutes of Avro encoding on one).
    pub fn write(
        &self,
        dir: &Path,
        slices: usize,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Vec<(PathBuf, u64)>, NightError> {
        let schedule = self.schedule();
        let total = schedule.len() as u64;
        let per = schedule.len().div_ceil(slices.max(1)).max(1);
        let chunks: Vec<&[Sighting]> = schedule.chunks(per).collect();
        let next = AtomicUsize::new(0);
        let done = AtomicU64::new(0);
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        let results: Vec<Result<Vec<Slice>, NightError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers.min(chunks.len()))
                .map(|_| {
                    scope.spawn(|| {
                        let mut mine = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(chunk) = chunks.get(i) else {
                                return Ok(mine);
                            };
                            let path = dir.join(format!("night-{i:02}.tar"));
                            self.write_slice(&path, chunk, &done)?;
                            mine.push((i, path, chunk.len() as u64));
                        }
                    })
                })
                .collect();
            while handles.iter().any(|h| !h.is_finished()) {
                std::thread::sleep(std::time::Duration::from_millis(200));
                progress(done.load(Ordering::Relaxed), total);
            }
            handles
                .into_iter()
                .map(|h| h.join().expect("a night writer panicked"))
                .collect()
        });
        let mut out = Vec::new();
        for r in results {
            out.extend(r?);
        }
        out.sort_by_key(|(i, _, _)| *i);
        progress(total, total);
        Ok(out.into_iter().map(|(_, p, n)| (p, n)).collect())
    }

    /// One slice's alerts, each its own Avro container, into a tar.
    fn write_slice(
        &self,
        path: &Path,
        chunk: &[Sighting],
        done: &AtomicU64,
    ) -> Result<(), NightError> {
        let file = std::io::BufWriter::new(std::fs::File::create(path)?);
        let mut tar = tar::Builder::new(file);
        for s in chunk {
            let (schema, value) = self.alert(*s);
            let mut w = Writer::with_codec(schema, Vec::new(), Codec::Null);
            w.append(value)?;
            let bytes = w.into_inner()?;
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            let name = self.member(*s);
            tar.append_data(&mut h, name, &bytes[..])?;
            done.fetch_add(1, Ordering::Relaxed);
        }
        tar.into_inner()?.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_seen_one_to_four_times() {
        let mut counts = [0u32; 5];
        for o in 0..10_000 {
            counts[detections(o).count_ones() as usize] += 1;
        }
        assert_eq!(counts[0], 0);
        let mean = (1..5).map(|n| n as f64 * f64::from(counts[n])).sum::<f64>() / 10_000.0;
        assert!((1.8..2.2).contains(&mean), "mean {mean}");
    }

    #[test]
    fn detection_ids_grow_with_time_and_are_unique() {
        let plan = Plan::new(5_000);
        let seen: Vec<u64> = plan
            .schedule(false)
            .iter()
            .map(|s| plan.sequence(s.object, s.visit))
            .collect();
        assert_eq!(seen.len(), 5_000);
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "ids in time order");
        // Every visit of every object has its own place, detected or not
        // (a Rubin forced measurement takes an id too).
        let mut all: Vec<u64> = (0..plan.groups * PER_GROUP)
            .flat_map(|o| (0..VISITS).map(move |v| (o, v)))
            .map(|(o, v)| plan.sequence(o, v))
            .collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
    }
}
