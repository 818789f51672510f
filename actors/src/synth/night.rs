//! A night of ZTF alerts made from real ones, for `ampel bench night`.
//!
//! The structure of a survey night, not just copies:
//! - **objects recur**: each object (a distinct copy of a real alert's
//!   object, [`super::copy`]) is detected 1-4 times in the night (40 / 30
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

use super::{copy, field, unwrap_union};
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
/// shifted template candid: object `o` at visit `v` is `BASE + 8o + v`, so a
/// later alert's history names an earlier detection by its own candid.
const CANDID_BASE: i64 = 4_000_000_000_000_000_000;

fn candid_of(object: u64, visit: u32) -> i64 {
    CANDID_BASE + (object * 8 + u64::from(visit)) as i64
}

/// Real alerts to build nights from: their writer schema and records.
pub struct Templates {
    schema: Schema,
    alerts: Vec<Value>,
    /// A prv_candidates detection and upper limit, as shapes to fill.
    prv_detection: Value,
    prv_limit: Value,
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
    /// From Avro containers (ZTF 4.x alerts), all with one writer schema.
    pub fn from_containers(messages: &[Vec<u8>]) -> Result<Templates, NightError> {
        let mut schema = None;
        let mut alerts = Vec::new();
        for m in messages {
            let reader = Reader::new(&m[..])?;
            schema.get_or_insert_with(|| reader.writer_schema().clone());
            for v in reader {
                alerts.push(v?);
            }
        }
        let schema = schema.ok_or(NightError::Missing("alert"))?;
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

/// Copies into a prv_candidates record every field the candidate has with
/// the same Avro shape (name, type, union branch).
fn fill_from(prv: &mut [(String, Value)], candidate: &[(String, Value)]) {
    for (name, v) in prv.iter_mut() {
        if let Some((_, c)) = candidate.iter().find(|(n, _)| n == name) {
            let same = match (&*v, c) {
                (Value::Union(i, a), Value::Union(j, b)) => {
                    i == j && std::mem::discriminant(&**a) == std::mem::discriminant(&**b)
                }
                (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
            };
            if same {
                *v = c.clone();
            }
        }
    }
}

/// Sets a long field exactly (an f64 holds only 53 bits: candids near
/// 4e18 would round to multiples of 512 and collide).
fn set_long(fields: &mut [(String, Value)], name: &str, x: i64) {
    if let Some(Value::Long(l)) = field(fields, name).map(unwrap_union) {
        *l = x;
    }
}

/// Sets a numeric field, keeping its Avro type (and union branch).
fn set_num(fields: &mut [(String, Value)], name: &str, x: f64) {
    if let Some(v) = field(fields, name).map(unwrap_union) {
        match v {
            Value::Double(d) => *d = x,
            Value::Float(f) => *f = x as f32,
            Value::Long(l) => *l = x as i64,
            Value::Int(i) => *i = x as i32,
            _ => {}
        }
    }
}

fn num(fields: &mut [(String, Value)], name: &str) -> Option<f64> {
    match field(fields, name).map(unwrap_union)? {
        Value::Double(d) => Some(*d),
        Value::Float(f) => Some(f64::from(*f)),
        Value::Long(l) => Some(*l as f64),
        Value::Int(i) => Some(f64::from(*i)),
        _ => None,
    }
}

/// The night's plan: which object is seen at which visit of its group.
pub struct Night<'t> {
    t: &'t Templates,
    alerts: u64,
    groups: u64,
}

/// One detection: object, visit of its group, index among its alerts.
#[derive(Debug, Clone, Copy)]
struct Sighting {
    object: u64,
    visit: u32,
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

impl<'t> Night<'t> {
    /// About `alerts` / 2 objects (2 alerts each on average, 10% more so
    /// the night is not short), 40 per group.
    pub fn new(t: &'t Templates, alerts: u64) -> Night<'t> {
        let objects = (alerts * 11 / 20).max(1);
        Night {
            t,
            alerts,
            groups: objects.div_ceil(PER_GROUP),
        }
    }

    /// The night's detections in time order, `alerts` of them.
    fn schedule(&self) -> Vec<Sighting> {
        let mut out = Vec::with_capacity(self.alerts as usize);
        'night: for visit in 0..VISITS {
            for g in 0..self.groups {
                for m in 0..PER_GROUP {
                    let object = m * self.groups + g;
                    if detections(object) & (1 << visit) != 0 {
                        out.push(Sighting { object, visit });
                        if out.len() as u64 == self.alerts {
                            break 'night;
                        }
                    }
                }
            }
        }
        out
    }

    fn jd(&self, group: u64, visit: u32) -> f64 {
        let exposures = (u64::from(VISITS) * self.groups) as f64;
        let slot = (u64::from(visit) * self.groups + group) as f64;
        NIGHT_START_JD + NIGHT_LENGTH_DAYS * slot / exposures
    }

    fn limiting_mag(group: u64, visit: u32) -> f64 {
        20.0 + ((group * 7 + u64::from(visit) * 13) % 100) as f64 / 100.0
    }

    /// The alert of `s`.
    fn alert(&self, s: Sighting) -> Value {
        let n = self.t.alerts.len() as u64;
        let (template, copy_k) = (s.object % n, s.object / n);
        let mut a = copy(self.t.alerts[template as usize].clone(), copy_k);
        let group = s.object % self.groups;
        let rcid = (group % 64) as f64;
        let seen = detections(s.object);
        let earlier: Vec<u32> = (0..s.visit).collect();
        let index = earlier.iter().filter(|v| seen & (1 << **v) != 0).count();
        let candid = candid_of(s.object, s.visit);
        let jd = self.jd(group, s.visit);
        let pid = (group * 8 + u64::from(s.visit)) as f64;
        let Value::Record(fields) = &mut a else {
            return a;
        };
        set_long(fields, "candid", candid);
        let mut template_mag = 19.0;
        let mut detection = self.t.prv_detection.clone();
        if let Some(Value::Record(c)) = field(fields, "candidate") {
            template_mag = num(c, "magpsf").unwrap_or(19.0);
            // Earlier detections repeat this one's measurements.
            if let Value::Record(d) = &mut detection {
                fill_from(d, c);
            }
            set_long(c, "candid", candid);
            set_num(c, "jd", jd);
            set_num(c, "rcid", rcid);
            set_num(c, "pid", pid);
            set_num(c, "diffmaglim", Self::limiting_mag(group, s.visit));
            set_num(c, "magpsf", template_mag - 0.05 * index as f64);
            let ndet = num(c, "ndethist").unwrap_or(0.0);
            set_num(c, "ndethist", ndet + index as f64);
        }
        for cut in ["cutoutScience", "cutoutTemplate", "cutoutDifference"] {
            if let Some(v @ Value::Union(1, _)) = field(fields, cut) {
                *v = Value::Union(0, Box::new(Value::Null));
            }
        }
        // This night's earlier visits: detections and shared upper limits.
        let mut history = Vec::new();
        let mut k = 0;
        for v in earlier {
            let vjd = self.jd(group, v);
            let mut p = if seen & (1 << v) != 0 {
                let mut d = detection.clone();
                if let Value::Record(pf) = &mut d {
                    // The earlier alert's own candid and magnitude.
                    set_long(pf, "candid", candid_of(s.object, v));
                    set_num(pf, "magpsf", template_mag - 0.05 * k as f64);
                }
                k += 1;
                d
            } else {
                self.t.prv_limit.clone()
            };
            if let Value::Record(pf) = &mut p {
                set_num(pf, "jd", vjd);
                set_num(pf, "rcid", rcid);
                set_num(pf, "pid", (group * 8 + u64::from(v)) as f64);
                set_num(pf, "diffmaglim", Self::limiting_mag(group, v));
            }
            history.push(p);
        }
        if let Some(prv) = field(fields, "prv_candidates") {
            match prv {
                Value::Union(i, inner) => match &mut **inner {
                    Value::Array(items) => items.extend(history),
                    Value::Null if !history.is_empty() => {
                        *i = 1;
                        **inner = Value::Array(history);
                    }
                    _ => {}
                },
                Value::Array(items) => items.extend(history),
                _ => {}
            }
        }
        a
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
            let value = self.alert(*s);
            let mut w = Writer::with_codec(&self.t.schema, Vec::new(), Codec::Null);
            w.append(value)?;
            let bytes = w.into_inner()?;
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            let name = format!("{}.avro", candid_of(s.object, s.visit));
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
}
