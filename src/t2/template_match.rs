//! `T2TemplateMatch`: the seed tutorial's SN2009ip-like test. A target
//! light-curve template (SN 2009ip's 2012 double event: a faint precursor
//! ~40 days before a fast rise to the main peak) and a base template (a
//! normal SN Ia) are each fitted to the detections by least squares, and
//! their chi2 per degree of freedom compared:
//! `target_match = chi2dof_target <= chi2dof_cut && chi2dof_target < chi2dof_base`.
//!
//! The tutorial used sncosmo models (`v19-2009ip-corr` vs `salt2`); there is
//! no sncosmo here, so the templates are tabulated relative magnitudes (one
//! shape for all bands) and the fit is: peak time t0 by a deterministic grid
//! search (0.25 d steps) refined by a parabola, and one magnitude offset per
//! band solved exactly (weighted mean). Parameters: 1 + number of bands.
//!
//! Codes: OK with a body, or **1 = too few points** (fewer detections than
//! `min_detections`, or no degree of freedom left): body
//! `{"target_match": false, "reason": ..., "ndet": n}`; never NaN.

use super::lightcurve::{num, LightCurve};
use super::{T2Input, T2Kind, T2Outcome, T2Unit, T2UnitRegistration};
use crate::config::{lax, parse_unit_config, ConfigProblem, UnitConfigError, Validate};
use crate::units::UnitContext;
use serde::Deserialize;
use serde_json::{json, Value as Json};

/// Unit-defined code: not enough photometry to fit.
pub const TOO_FEW_POINTS: i64 = 1;

/// (days from main peak, magnitude relative to main peak).
const SN2009IP: &[(f64, f64)] = &[
    (-60.0, 4.5),
    (-48.0, 3.6),
    (-42.0, 3.0),
    (-36.0, 3.3),
    (-28.0, 3.7),
    (-20.0, 3.6),
    (-12.0, 3.3),
    (-8.0, 2.2),
    (-5.0, 1.0),
    (-2.0, 0.2),
    (0.0, 0.0),
    (5.0, 0.4),
    (10.0, 0.8),
    (15.0, 1.0),
    (20.0, 1.1),
    (30.0, 1.7),
    (45.0, 2.4),
    (60.0, 3.0),
    (100.0, 4.5),
];

const SN_IA: &[(f64, f64)] = &[
    (-20.0, 5.0),
    (-15.0, 2.5),
    (-10.0, 1.0),
    (-5.0, 0.25),
    (0.0, 0.0),
    (5.0, 0.2),
    (10.0, 0.6),
    (15.0, 1.1),
    (20.0, 1.6),
    (30.0, 2.3),
    (40.0, 2.7),
    (60.0, 3.3),
    (100.0, 4.4),
];

fn template(name: &str) -> Option<&'static [(f64, f64)]> {
    match name {
        "SN2009ip" => Some(SN2009IP),
        "SNIa" => Some(SN_IA),
        _ => None,
    }
}

/// Linear interpolation; linear extrapolation from the edge segments.
fn shape(t: &[(f64, f64)], x: f64) -> f64 {
    on_segment(t, t.partition_point(|p| p.0 <= x), x)
}

/// The template at `x` on the segment ending at `t[i]`, where `i` is the
/// number of template points at or before `x` (clamped to an edge segment
/// outside the template).
fn on_segment(t: &[(f64, f64)], i: usize, x: f64) -> f64 {
    let i = i.clamp(1, t.len() - 1);
    let ((x0, y0), (x1, y1)) = (t[i - 1], t[i]);
    y0 + (y1 - y0) * (x - x0) / (x1 - x0)
}

fn default_target() -> String {
    "SN2009ip".into()
}
fn default_base() -> String {
    "SNIa".into()
}
fn default_cut() -> f64 {
    2.0
}
fn default_min_det() -> i64 {
    5
}
fn default_sigma_floor() -> f64 {
    0.05
}

#[derive(Debug, Clone, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct T2TemplateMatchConfig {
    #[serde(default = "default_target")]
    pub target_model_name: String,
    #[serde(default = "default_base")]
    pub base_model_name: String,
    #[serde(default = "default_cut", deserialize_with = "lax::f64")]
    pub chi2dof_cut: f64,
    #[serde(default = "default_min_det", deserialize_with = "lax::i64")]
    pub min_detections: i64,
    /// Added in quadrature to each point's error (mag): template systematics.
    #[serde(default = "default_sigma_floor", deserialize_with = "lax::f64")]
    pub sigma_floor: f64,
}

impl Validate for T2TemplateMatchConfig {
    fn validate(&self, p: &mut Vec<ConfigProblem>) {
        for (key, name) in [
            ("target_model_name", &self.target_model_name),
            ("base_model_name", &self.base_model_name),
        ] {
            if template(name).is_none() {
                p.push(ConfigProblem::new(
                    key,
                    format!("unknown template {name:?} (known: SN2009ip, SNIa)"),
                ));
            }
        }
        if self.min_detections < 1 {
            p.push(ConfigProblem::new("min_detections", "must be at least 1"));
        }
    }
}

#[derive(Debug)]
pub struct T2TemplateMatch {
    cfg: T2TemplateMatchConfig,
    target: &'static [(f64, f64)],
    base: &'static [(f64, f64)],
}

struct Point {
    t: f64,
    mag: f64,
    w: f64,
    band: i64,
    /// The band's place among the fit's bands, in first-seen order.
    slot: usize,
}

/// Numbers each point's band in first-seen order; returns the number of
/// bands.
fn number_bands(points: &mut [Point]) -> usize {
    let mut seen: Vec<i64> = Vec::new();
    for p in points.iter_mut() {
        p.slot = match seen.iter().position(|b| *b == p.band) {
            Some(i) => i,
            None => {
                seen.push(p.band);
                seen.len() - 1
            }
        };
    }
    seen.len()
}

/// chi2 of a template at peak time t0 with exact per-band offsets (bands
/// by the slot numbered once per fit). [`chi2_grid`] computes the same for
/// a whole grid; a fit calls this for its parabola's points.
fn chi2_at(points: &[Point], tpl: &[(f64, f64)], t0: f64, bands: usize) -> f64 {
    let mut residuals = Vec::with_capacity(points.len());
    // (weighted residual sum, weight sum) per band slot.
    let mut sums = vec![(0.0, 0.0); bands];
    for p in points {
        let r = p.mag - shape(tpl, p.t - t0);
        residuals.push(r);
        let b = &mut sums[p.slot];
        b.0 += p.w * r;
        b.1 += p.w;
    }
    points
        .iter()
        .zip(&residuals)
        .map(|(p, r0)| {
            let (sum, w) = sums[p.slot];
            let r = r0 - sum / w;
            p.w * r * r
        })
        .sum()
}

/// [`chi2_at`] at every peak time of the grid `lo + i * step`, i in
/// 0..=n, with the same float operations in the same order (so the same
/// bits), computed point by point across the grid rather than grid point
/// by grid point: as the peak time steps forward, a point's phase steps
/// back, so its template segment is found by walking from the last one
/// instead of by a binary search at each of a fit's ~500 evaluations.
fn chi2_grid(
    points: &[Point],
    tpl: &[(f64, f64)],
    (lo, step, n): (f64, f64, usize),
    bands: usize,
) -> Vec<f64> {
    // Grid points are taken a block at a time, so that the residuals held
    // stay in cache: the whole grid's (points x ~1,000 grid points) was
    // megabytes, fresh from the OS (page faults) for every fit.
    const BLOCK: usize = 64;
    let m = n + 1;
    let mut weights = vec![0.0; bands];
    for p in points {
        weights[p.slot] += p.w;
    }
    // Each point's template segment, carried from one block to the next.
    let mut segs = vec![tpl.len(); points.len()];
    // residuals[j * BLOCK + k]; sums[k * bands + slot]: weighted residual
    // sums, for grid point start + k.
    let mut residuals = vec![0.0; points.len() * BLOCK];
    let mut sums = vec![0.0; BLOCK * bands];
    let mut chi2 = Vec::with_capacity(m);
    for start in (0..m).step_by(BLOCK) {
        let len = BLOCK.min(m - start);
        sums.fill(0.0);
        for ((j, p), seg) in points.iter().enumerate().zip(&mut segs) {
            for k in 0..len {
                let x = p.t - (lo + (start + k) as f64 * step);
                // partition_point(|q| q.0 <= x), x falling as the grid
                // point grows (and, as there, a NaN phase goes before
                // every point).
                #[allow(clippy::neg_cmp_op_on_partial_ord)]
                while *seg > 0 && !(tpl[*seg - 1].0 <= x) {
                    *seg -= 1;
                }
                let r = p.mag - on_segment(tpl, *seg, x);
                residuals[j * BLOCK + k] = r;
                sums[k * bands + p.slot] += p.w * r;
            }
        }
        chi2.extend((0..len).map(|k| {
            points
                .iter()
                .enumerate()
                .map(|(j, p)| {
                    let r = residuals[j * BLOCK + k] - sums[k * bands + p.slot] / weights[p.slot];
                    p.w * r * r
                })
                .sum::<f64>()
        }));
    }
    chi2
}

/// Best (t0, chi2): grid over [first - 60, last + 60] days, then a parabola
/// through the best grid point and its neighbours.
fn fit(points: &[Point], tpl: &[(f64, f64)]) -> (f64, f64) {
    let lo = points.iter().map(|p| p.t).fold(f64::INFINITY, f64::min) - 60.0;
    let hi = points.iter().map(|p| p.t).fold(f64::NEG_INFINITY, f64::max) + 60.0;
    let step = 0.25;
    let n = ((hi - lo) / step).ceil() as usize;
    let mut best = (lo, f64::INFINITY, 0usize);
    let bands = points.iter().map(|p| p.slot + 1).max().unwrap_or(0);
    for (i, c) in chi2_grid(points, tpl, (lo, step, n), bands)
        .into_iter()
        .enumerate()
    {
        if c < best.1 {
            best = (lo + i as f64 * step, c, i);
        }
    }
    if best.2 > 0 && best.2 < n {
        let (a, b, c) = (
            chi2_at(points, tpl, best.0 - step, bands),
            best.1,
            chi2_at(points, tpl, best.0 + step, bands),
        );
        let denom = a - 2.0 * b + c;
        if denom > 0.0 {
            let t = best.0 + 0.5 * step * (a - c) / denom;
            let ct = chi2_at(points, tpl, t, bands);
            if ct < best.1 {
                return (t, ct);
            }
        }
    }
    (best.0, best.1)
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

impl T2Unit for T2TemplateMatch {
    fn kind(&self) -> T2Kind {
        T2Kind::State
    }

    fn config(&self) -> Json {
        serde_json::to_value(&self.cfg).expect("plain config serialises")
    }

    fn body_fields(&self) -> Option<Vec<String>> {
        Some(
            ["jd", "magpsf", "sigmapsf", "fid"]
                .map(String::from)
                .to_vec(),
        )
    }

    fn process(&self, input: &T2Input) -> T2Outcome {
        let lc = LightCurve::build(input.datapoints);
        let mut points: Vec<Point> = lc
            .photopoints
            .iter()
            .filter_map(|d| {
                let (t, mag, sig) = (num(d, "jd")?, num(d, "magpsf")?, num(d, "sigmapsf")?);
                let band = d.body.get("fid").and_then(Json::as_i64).unwrap_or(0);
                let s2 = sig * sig + self.cfg.sigma_floor * self.cfg.sigma_floor;
                (t.is_finite() && mag.is_finite() && s2 > 0.0).then(|| Point {
                    t,
                    mag,
                    w: 1.0 / s2,
                    band,
                    slot: 0,
                })
            })
            .collect();
        let bands = number_bands(&mut points);
        let dof = points.len() as i64 - 1 - bands as i64;
        if (points.len() as i64) < self.cfg.min_detections || dof < 1 {
            return T2Outcome::Code(
                TOO_FEW_POINTS,
                json!({
                    "target_match": false,
                    "reason": format!("{} usable detections in {bands} band(s); need {} and at least one degree of freedom",
                        points.len(), self.cfg.min_detections),
                    "ndet": points.len(),
                }),
            );
        }
        let (t_target, c_target) = fit(&points, self.target);
        let (t_base, c_base) = fit(&points, self.base);
        let (d_target, d_base) = (c_target / dof as f64, c_base / dof as f64);
        T2Outcome::Ok(json!({
            "target_model": self.cfg.target_model_name,
            "base_model": self.cfg.base_model_name,
            "ndet": points.len(),
            "dof": dof,
            "target_chi2dof": round6(d_target),
            "base_chi2dof": round6(d_base),
            "target_peak_jd": round6(t_target),
            "base_peak_jd": round6(t_base),
            "target_match": d_target <= self.cfg.chi2dof_cut && d_target < d_base,
        }))
    }
}

fn build(config: &Json, _: &UnitContext) -> Result<Box<dyn T2Unit>, UnitConfigError> {
    let cfg: T2TemplateMatchConfig = parse_unit_config("T2TemplateMatch", config)?;
    Ok(Box::new(T2TemplateMatch {
        target: template(&cfg.target_model_name).expect("validated"),
        base: template(&cfg.base_model_name).expect("validated"),
        cfg,
    }))
}

inventory::submit! {
    T2UnitRegistration {
        name: "T2TemplateMatch",
        build,
        schema: || schemars::schema_for!(T2TemplateMatchConfig),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_interpolates_and_extrapolates() {
        assert_eq!(shape(SN_IA, 0.0), 0.0);
        assert!((shape(SN_IA, 2.5) - 0.1).abs() < 1e-12);
        assert!(shape(SN_IA, 150.0) > 4.4, "extrapolates the decline");
    }

    #[test]
    fn recovers_its_own_template() {
        // Synthetic points drawn exactly from the SN2009ip template, peak at 100.
        let pts: Vec<Point> = [-45.0, -30.0, -10.0, -4.0, 0.0, 6.0, 12.0, 25.0]
            .iter()
            .map(|&dt| Point {
                t: 100.0 + dt,
                mag: 18.0 + shape(SN2009IP, dt),
                w: 100.0,
                band: 1,
                slot: 0,
            })
            .collect();
        let (t0, c) = fit(&pts, SN2009IP);
        assert!((t0 - 100.0).abs() < 0.3, "t0={t0}");
        assert!(c < 1e-6 * 100.0 + 0.5, "chi2={c}");
        assert!(fit(&pts, SN_IA).1 > 10.0 * c.max(0.1));
    }

    /// The grid computed point by point gives every chi2 bit for bit as
    /// one evaluation per peak time does, whatever the points (irregular
    /// times, several bands, phases before and past both templates).
    #[test]
    fn the_grid_is_each_evaluation_bit_for_bit() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for case in 0..40 {
            let mut pts: Vec<Point> = (0..3 + case % 25)
                .map(|_| Point {
                    t: 2_460_000.5 + 200.0 * next(),
                    mag: 17.0 + 4.0 * next(),
                    w: 1.0 / (0.02 + 0.3 * next()).powi(2),
                    band: 1 + (next() * 3.0) as i64,
                    slot: 0,
                })
                .collect();
            let bands = number_bands(&mut pts);
            for tpl in [SN2009IP, SN_IA] {
                let (lo, step, n) = (2_459_940.5 + next(), 0.25, 1000);
                let grid = chi2_grid(&pts, tpl, (lo, step, n), bands);
                for (i, c) in grid.iter().enumerate() {
                    let one = chi2_at(&pts, tpl, lo + i as f64 * step, bands);
                    assert_eq!(c.to_bits(), one.to_bits(), "case {case}, step {i}");
                }
            }
        }
    }
}
