//! The cuts shared by `DecentFilter` and `SimpleDecentFilter`
//! (AMPEL's `ampel.ztf.t0.DecentFilter` and `ampel.contrib.hu.t0.SimpleDecentFilter`),
//! in AMPEL's order, with Python's comparison semantics (NaN compares false;
//! `max`/`min` keep the first of incomparable values).

use super::DecentFilterConfig;
use crate::alert::{Alert, Body, DataPointKind, Value};
use crate::astro::icrs_to_galactic;
use crate::catalog::Catalog;
use crate::units::{FilterVerdict, Rejection};
use std::sync::Arc;

/// Which datapoints count as detections.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DetectionRule {
    /// Points with a survey id (DecentFilter: `candid is not None`).
    HasCandid,
    /// Points with a non-null `magpsf` (SimpleDecentFilter).
    MagpsfNotNull,
}

/// How the drb cut is gated.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DrbRule {
    /// DecentFilter: applied when the field exists (a null drb rejects,
    /// where Python would raise).
    WhenPresent,
    /// SimpleDecentFilter: applied when drb is truthy (non-null, non-zero).
    WhenTruthy,
}

#[derive(Debug, Clone)]
pub(crate) struct GaiaVeto {
    pub catalog: Arc<Catalog>,
    pub rs: f64,
    pub pm_signif: f64,
    pub plx_signif: f64,
    pub gmag_min: f64,
    pub gmag_max: f64,
    pub excessnoise_sig_max: f64,
}

/// The cuts of one configured filter. SimpleDecentFilter's config maps
/// onto DecentFilter's (with the Gaia veto off), so one parameter set serves
/// both.
#[derive(Debug, Clone)]
pub(crate) struct Cuts {
    pub detections: DetectionRule,
    pub drb_rule: DrbRule,
    pub p: DecentFilterConfig,
    pub gaia: Option<GaiaVeto>,
}

/// Fields the latest point must carry, non-null (AMPEL's `keys_to_check`).
const KEYS_TO_CHECK: [&str; 15] = [
    "fwhm",
    "elong",
    "magdiff",
    "nbad",
    "distpsnr1",
    "sgscore1",
    "distpsnr2",
    "sgscore2",
    "distpsnr3",
    "sgscore3",
    "isdiffpos",
    "ra",
    "dec",
    "rb",
    "ssdistnr",
];

/// The ZTF fields the cuts read by name: a channel of another survey
/// cannot use these filters.
pub(crate) fn fields_read() -> Vec<String> {
    KEYS_TO_CHECK
        .iter()
        .chain(&["jd", "jdstarthist", "jdendhist", "magpsf"])
        .map(|f| f.to_string())
        .collect()
}

fn reject(cut: &'static str, detail: String) -> FilterVerdict {
    FilterVerdict::Reject(Rejection::new(cut, detail))
}

/// Python's `max(a, b, ...)`: replace the running value only when strictly greater.
fn py_max(xs: impl IntoIterator<Item = f64>) -> f64 {
    let mut it = xs.into_iter();
    let first = it.next().unwrap_or(f64::NAN);
    it.fold(first, |acc, x| if x > acc { x } else { acc })
}

fn py_min(xs: impl IntoIterator<Item = f64>) -> f64 {
    let mut it = xs.into_iter();
    let first = it.next().unwrap_or(f64::NAN);
    it.fold(first, |acc, x| if x < acc { x } else { acc })
}

/// A numeric field of the latest point (already checked non-null).
fn num(body: &Body, key: &'static str) -> Result<f64, FilterVerdict> {
    match body.get(key) {
        Some(v) => v
            .as_f64()
            .ok_or_else(|| reject("keys_to_check", format!("{key} is not a number ({v})"))),
        None => Err(reject("keys_to_check", format!("{key} is missing"))),
    }
}

impl Cuts {
    pub fn check(&self, alert: &Alert) -> FilterVerdict {
        match self.run(alert) {
            Ok(()) => FilterVerdict::Accept,
            Err(v) => v,
        }
    }

    fn run(&self, alert: &Alert) -> Result<(), FilterVerdict> {
        // 1. Number of detections.
        let mut jds = Vec::with_capacity(alert.datapoints.len());
        for dp in &alert.datapoints {
            let is_det = match self.detections {
                DetectionRule::HasCandid => dp.kind == DataPointKind::Detection,
                DetectionRule::MagpsfNotNull => dp.body.get("magpsf").is_some_and(|v| !v.is_null()),
            };
            if is_det {
                let jd = dp
                    .body
                    .f64("jd")
                    .ok_or_else(|| reject("min_tspan", format!("detection {} has no jd", dp.id)))?;
                jds.push(jd);
            }
        }
        let ndet = jds.len() as i64;
        if ndet < self.p.min_ndet {
            return Err(reject(
                "min_ndet",
                format!("{ndet} detections < {}", self.p.min_ndet),
            ));
        }

        // 2. Detection history length.
        if !jds.is_empty() {
            let tspan = py_max(jds.iter().copied()) - py_min(jds.iter().copied());
            if !(self.p.min_tspan <= tspan && tspan <= self.p.max_tspan) {
                let cut = if tspan < self.p.min_tspan {
                    "min_tspan"
                } else {
                    "max_tspan"
                };
                return Err(reject(
                    cut,
                    format!(
                        "detection time span {tspan} d outside [{}, {}]",
                        self.p.min_tspan, self.p.max_tspan
                    ),
                ));
            }
        }

        // 3. Required fields of the latest point.
        let latest = &alert.latest().body;
        for key in KEYS_TO_CHECK {
            match latest.get(key) {
                None => return Err(reject("keys_to_check", format!("{key} is missing"))),
                Some(Value::Null) => return Err(reject("keys_to_check", format!("{key} is null"))),
                Some(_) => {}
            }
        }

        // 4. Positive subtraction.
        if let Some(s @ ("f" | "0")) = latest.str("isdiffpos") {
            return Err(reject("isdiffpos", format!("isdiffpos is {s:?}")));
        }

        // 5. Real-bogus scores.
        let rb = num(latest, "rb")?;
        if rb < self.p.min_rb {
            return Err(reject("min_rb", format!("rb {rb} < {}", self.p.min_rb)));
        }
        if self.p.min_drb > 0.0 {
            match (self.drb_rule, latest.get("drb")) {
                (_, None) => {}
                (DrbRule::WhenTruthy, Some(v)) if v.as_f64().is_none_or(|x| x == 0.0) => {}
                (DrbRule::WhenPresent, Some(Value::Null)) => {
                    return Err(reject("min_drb", "drb is null".into()));
                }
                (_, Some(v)) => {
                    let drb = v.as_f64().unwrap_or(f64::NAN);
                    if drb < self.p.min_drb {
                        return Err(reject("min_drb", format!("drb {drb} < {}", self.p.min_drb)));
                    }
                }
            }
        }

        // 6. Image quality.
        let fwhm = num(latest, "fwhm")?;
        if fwhm > self.p.max_fwhm {
            return Err(reject(
                "max_fwhm",
                format!("fwhm {fwhm} > {}", self.p.max_fwhm),
            ));
        }
        let elong = num(latest, "elong")?;
        if elong > self.p.max_elong {
            return Err(reject(
                "max_elong",
                format!("elong {elong} > {}", self.p.max_elong),
            ));
        }
        let magdiff = num(latest, "magdiff")?;
        if magdiff.abs() > self.p.max_magdiff {
            return Err(reject(
                "max_magdiff",
                format!("|magdiff| {} > {}", magdiff.abs(), self.p.max_magdiff),
            ));
        }

        // 7. Archive history length (when the packet carries it).
        if latest.contains("jdendhist") && latest.contains("jdstarthist") {
            let (end, start) = (latest.f64("jdendhist"), latest.f64("jdstarthist"));
            let (Some(end), Some(start)) = (end, start) else {
                return Err(reject(
                    "archive_tspan",
                    "jdstarthist or jdendhist is null".into(),
                ));
            };
            let span = end - start;
            if !(self.p.min_archive_tspan < span && span < self.p.max_archive_tspan) {
                let cut = if span <= self.p.min_archive_tspan {
                    "min_archive_tspan"
                } else {
                    "max_archive_tspan"
                };
                return Err(reject(
                    cut,
                    format!(
                        "archive time span {span} d outside ({}, {})",
                        self.p.min_archive_tspan, self.p.max_archive_tspan
                    ),
                ));
            }
        }

        // 8. Solar-system objects.
        let ssdistnr = num(latest, "ssdistnr")?;
        if 0.0 <= ssdistnr && ssdistnr < self.p.min_sso_dist {
            return Err(reject(
                "min_sso_dist",
                format!("ssdistnr {ssdistnr} < {}", self.p.min_sso_dist),
            ));
        }

        // 9. Galactic latitude.
        let (ra, dec) = (num(latest, "ra")?, num(latest, "dec")?);
        if self.p.min_gal_lat > 0.0 {
            let (_, b) = icrs_to_galactic(ra, dec);
            if b.abs() < self.p.min_gal_lat {
                return Err(reject(
                    "min_gal_lat",
                    format!("|b| {} < {}", b.abs(), self.p.min_gal_lat),
                ));
            }
        }

        // 10. PS1 star veto.
        let d = [
            num(latest, "distpsnr1")?,
            num(latest, "distpsnr2")?,
            num(latest, "distpsnr3")?,
        ];
        let sg = [
            num(latest, "sgscore1")?,
            num(latest, "sgscore2")?,
            num(latest, "sgscore3")?,
        ];
        if d[0] < self.p.ps1_sgveto_rad && sg[0] > self.p.ps1_sgveto_th {
            return Err(reject(
                "ps1_sgveto",
                format!(
                    "PS1 source at {} arcsec with sgscore1 {} > {}",
                    d[0], sg[0], self.p.ps1_sgveto_th
                ),
            ));
        }

        // 11. PS1 confusion.
        let very_close = py_max(d) < self.p.ps1_confusion_rad;
        let confused = py_max(sg.map(|s| (s - 0.5).abs())) < self.p.ps1_confusion_sg_tol;
        if confused && very_close {
            return Err(reject(
                "ps1_confusion",
                format!(
                    "three PS1 sources within {} arcsec with sgscore near 0.5",
                    self.p.ps1_confusion_rad
                ),
            ));
        }

        // 12. Gaia stars.
        if let Some(g) = &self.gaia {
            if let Some(why) = g.star_near(ra, dec) {
                return Err(reject("gaia", why));
            }
        }
        Ok(())
    }
}

impl GaiaVeto {
    /// AMPEL's `is_star_in_gaia`: a nearby (magnitude-scaled radius), clean
    /// Gaia source with significant proper motion or parallax.
    fn star_near(&self, ra: f64, dec: f64) -> Option<String> {
        for m in self.catalog.cone_search(ra, dec, self.rs) {
            let g = m.get("Mag_G");
            let prox = 1.8 + 0.6 * ((20.0 - g) / 2.05).exp() > m.dist_arcsec
                && self.gmag_min <= g
                && g <= self.gmag_max;
            let clean = m.get("ExcessNoiseSig") < self.excessnoise_sig_max;
            if !(prox && clean) {
                continue;
            }
            let pmra = (m.get("PMRA") / m.get("ErrPMRA")).abs();
            let pmdec = (m.get("PMDec") / m.get("ErrPMDec")).abs();
            let plx = (m.get("Plx") / m.get("ErrPlx")).abs();
            if pmra > self.pm_signif || pmdec > self.pm_signif || plx > self.plx_signif {
                return Some(format!(
                    "Gaia source at {:.2} arcsec (G {g}) with |pm/err| {:.1}/{:.1} or |plx/err| {plx:.1} above {}/{}",
                    m.dist_arcsec, pmra, pmdec, self.pm_signif, self.plx_signif
                ));
            }
        }
        None
    }
}
