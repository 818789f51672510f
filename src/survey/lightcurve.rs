//! A stock's light curve as people plot it, from its archived datapoints:
//! magnitude against time per band, detections with their errors and upper
//! limits apart. The survey's field names stay here.
//!
//! - ZTF: detections (positive ids) give `magpsf ± sigmapsf` at `jd` in
//!   band g/r/i by `fid`; upper limits (negative ids) give `diffmaglim`.
//! - Rubin: fluxes in nJy become AB magnitudes (31.4 - 2.5 log10 f). A
//!   diaSource is a detection; forced photometry below 5 sigma is an upper
//!   limit at five times its error, above it a detection. Times are MJD
//!   (TAI) turned into JD.

use crate::store::DataPointDoc;
use serde::Serialize;
use serde_json::Value as Json;

/// The AB zero point of a flux in nanojansky.
const NJY_ZERO_POINT: f64 = 31.4;
/// 2.5 / ln 10: a relative flux error as a magnitude error.
pub(crate) const MAG_PER_RELATIVE_FLUX: f64 = 2.5 / std::f64::consts::LN_10;
/// Below this signal-to-noise a forced measurement is an upper limit.
const FORCED_SNR: f64 = 5.0;
/// JD of MJD 0.
pub const MJD_OFFSET: f64 = 2_400_000.5;

/// One point of a light curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LightPoint {
    /// The datapoint's id (exact; JSON gives it as a string too).
    pub id: i64,
    pub jd: f64,
    /// Band name: g, r, i (ZTF); u, g, r, i, z, y (Rubin).
    pub band: String,
    pub mag: f64,
    /// 1-sigma magnitude error of a detection; `None` for an upper limit.
    pub mag_err: Option<f64>,
    pub upper_limit: bool,
}

/// The plottable points of a stock's datapoints, in time order. Datapoints
/// without a time, band or usable magnitude are left out (and counted).
pub fn light_curve(dps: &[DataPointDoc]) -> (Vec<LightPoint>, usize) {
    let mut out = Vec::with_capacity(dps.len());
    let mut skipped = 0;
    for d in dps {
        let p = if d.tag.iter().any(|t| t.starts_with("LSST")) {
            lsst_point(d)
        } else {
            ztf_point(d)
        };
        match p {
            Some(p) => out.push(p),
            None => skipped += 1,
        }
    }
    out.sort_by(|a, b| a.jd.total_cmp(&b.jd).then(a.id.cmp(&b.id)));
    (out, skipped)
}

fn num(body: &Json, key: &str) -> Option<f64> {
    body.get(key)?.as_f64().filter(|v| v.is_finite())
}

fn ztf_point(d: &DataPointDoc) -> Option<LightPoint> {
    let b = &d.body;
    let band = match b.get("fid")?.as_i64()? {
        1 => "g",
        2 => "r",
        3 => "i",
        _ => return None,
    };
    let jd = num(b, "jd")?;
    let (mag, mag_err, upper_limit) = if d.id > 0 {
        (num(b, "magpsf")?, num(b, "sigmapsf"), false)
    } else {
        (num(b, "diffmaglim")?, None, true)
    };
    Some(LightPoint {
        id: d.id,
        jd,
        band: band.into(),
        mag,
        mag_err,
        upper_limit,
    })
}

fn lsst_point(d: &DataPointDoc) -> Option<LightPoint> {
    let b = &d.body;
    let band = b.get("band")?.as_str()?.to_string();
    let jd = num(b, "midpointMjdTai")? + MJD_OFFSET;
    let flux = num(b, "psfFlux");
    let err = num(b, "psfFluxErr");
    let forced = d.tag.iter().any(|t| t == "LSST_FP");
    let limit = |err: f64| (err > 0.0).then(|| ab_mag(FORCED_SNR * err));
    let (mag, mag_err, upper_limit) = match (flux, err) {
        (Some(f), Some(e)) if f > 0.0 && (!forced || f >= FORCED_SNR * e) => (
            ab_mag(f),
            (e > 0.0).then(|| MAG_PER_RELATIVE_FLUX * e / f),
            false,
        ),
        (_, Some(e)) => (limit(e)?, None, true),
        _ => return None,
    };
    Some(LightPoint {
        id: d.id,
        jd,
        band,
        mag,
        mag_err,
        upper_limit,
    })
}

/// The AB magnitude of a flux in nanojansky.
pub(crate) fn ab_mag(flux_njy: f64) -> f64 {
    NJY_ZERO_POINT - 2.5 * flux_njy.log10()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dp(id: i64, tag: &[&str], body: Json) -> DataPointDoc {
        DataPointDoc {
            id,
            stock: vec![1],
            channel: vec![],
            tag: tag.iter().map(|t| t.to_string()).collect(),
            meta: vec![],
            body: body.into(),
        }
    }

    #[test]
    fn ztf_detections_and_upper_limits_in_time_order() {
        let (lc, skipped) = light_curve(&[
            dp(
                5,
                &["ZTF", "ZTF_R"],
                json!({"jd": 2.0, "fid": 2, "magpsf": 18.5, "sigmapsf": 0.1}),
            ),
            dp(
                -7,
                &["ZTF", "ZTF_G"],
                json!({"jd": 1.0, "fid": 1, "diffmaglim": 20.3}),
            ),
            dp(6, &["ZTF"], json!({"jd": 3.0, "fid": 9, "magpsf": 18.0})),
        ]);
        assert_eq!(skipped, 1, "an unknown filter id is not plotted");
        assert_eq!(lc.len(), 2);
        assert!(lc[0].upper_limit && lc[0].band == "g" && lc[0].mag == 20.3);
        assert_eq!((lc[1].mag, lc[1].mag_err), (18.5, Some(0.1)));
    }

    #[test]
    fn rubin_fluxes_become_ab_magnitudes_and_faint_forced_points_limits() {
        let (lc, _) = light_curve(&[
            dp(
                1,
                &["LSST", "LSST_DP"],
                json!({"midpointMjdTai": 60000.0, "band": "r", "psfFlux": 3.631e12, "psfFluxErr": 1e7}),
            ),
            dp(
                2,
                &["LSST", "LSST_FP"],
                json!({"midpointMjdTai": 60001.0, "band": "g", "psfFlux": 10.0, "psfFluxErr": 100.0}),
            ),
        ]);
        // 3631 Jy = 3.631e12 nJy is magnitude 0 (to the zero point's 31.4).
        assert!((lc[0].mag - (31.4 - 2.5 * 3.631e12f64.log10())).abs() < 1e-9);
        assert_eq!(lc[0].jd, 2_460_000.5);
        assert!(lc[1].upper_limit);
        assert!((lc[1].mag - (31.4 - 2.5 * 500f64.log10())).abs() < 1e-9);
    }
}
