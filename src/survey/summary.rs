//! What a reaction says about an object, per survey: pages to follow it
//! on, its position and its latest photometry, read from archived
//! datapoint bodies. Reactions (`t3::react`) stay survey-neutral by asking
//! here.

use crate::store::DataPointDoc;
use serde_json::Value as Json;

/// An object as messages present it.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectSummary {
    pub survey: &'static str,
    /// (label, URL) of pages about the object.
    pub links: Vec<(&'static str, String)>,
    /// Mean position of the detections (degrees) and its uncertainty
    /// (degrees): their scatter, at least the survey's astrometric floor.
    pub position: Option<(f64, f64, f64)>,
    pub detections: usize,
    pub latest: Option<Photometry>,
    /// Julian date of the earliest datapoint (detection or limit).
    pub first_jd: Option<f64>,
}

/// One measurement, in AB magnitudes.
#[derive(Debug, Clone, PartialEq)]
pub struct Photometry {
    /// Julian date of the exposure.
    pub jd: f64,
    pub band: String,
    pub mag: f64,
    pub mag_error: Option<f64>,
}

use super::lightcurve::{ab_mag, MAG_PER_RELATIVE_FLUX, MJD_OFFSET as MJD_TO_JD};

fn num(b: &Json, k: &str) -> Option<f64> {
    b.get(k).and_then(Json::as_f64).filter(|x| x.is_finite())
}

/// ZTF detection: magpsf present. LSST diaSource: psfFlux in nJy.
fn photometry(survey: &str, b: &Json) -> Option<Photometry> {
    match survey {
        "ZTF" => Some(Photometry {
            jd: num(b, "jd")?,
            band: match b.get("fid").and_then(Json::as_i64) {
                Some(1) => "ztfg",
                Some(2) => "ztfr",
                Some(3) => "ztfi",
                _ => "ztf",
            }
            .into(),
            mag: num(b, "magpsf")?,
            mag_error: num(b, "sigmapsf"),
        }),
        _ => {
            let flux = num(b, "psfFlux").filter(|f| *f > 0.0)?;
            b.get("diaSourceId")?;
            Some(Photometry {
                jd: num(b, "midpointMjdTai")? + MJD_TO_JD,
                band: b
                    .get("band")
                    .and_then(Json::as_str)
                    .unwrap_or("lsst")
                    .into(),
                mag: ab_mag(flux),
                mag_error: num(b, "psfFluxErr").map(|e| MAG_PER_RELATIVE_FLUX * e / flux),
            })
        }
    }
}

/// Summarises a stock of `tags` named `name` from its datapoints.
pub fn object_summary(tags: &[String], name: &str, dps: &[DataPointDoc]) -> ObjectSummary {
    let is = |t: &str| tags.iter().any(|x| x == t);
    let (survey, floor_arcsec, links): (&'static str, f64, Vec<(&'static str, String)>) =
        if is("LSST") {
            (
                "LSST",
                0.1,
                vec![(
                    "Lasair",
                    format!("https://lasair.lsst.ac.uk/objects/{name}/"),
                )],
            )
        } else {
            (
                "ZTF",
                0.5,
                vec![
                    ("ALeRCE", format!("https://alerce.online/object/{name}")),
                    (
                        "Lasair",
                        format!("https://lasair-ztf.lsst.ac.uk/objects/{name}/"),
                    ),
                    ("Fritz", format!("https://fritz.science/source/{name}")),
                ],
            )
        };
    let dets: Vec<(&Json, Photometry)> = dps
        .iter()
        .filter_map(|d| photometry(survey, &d.body).map(|p| (d.body.json(), p)))
        .collect();
    let pos: Vec<(f64, f64)> = dets
        .iter()
        .filter_map(|(b, _)| Some((num(b, "ra")?, num(b, "dec")?)))
        .collect();
    let position = (!pos.is_empty()).then(|| {
        let n = pos.len() as f64;
        let ra = pos.iter().map(|p| p.0).sum::<f64>() / n;
        let dec = pos.iter().map(|p| p.1).sum::<f64>() / n;
        let cosd = dec.to_radians().cos();
        let var = pos
            .iter()
            .map(|p| ((p.0 - ra) * cosd).powi(2) + (p.1 - dec).powi(2))
            .sum::<f64>()
            / n;
        (ra, dec, var.sqrt().max(floor_arcsec / 3600.0))
    });
    let latest = dets
        .iter()
        .map(|(_, p)| p)
        .max_by(|a, b| a.jd.total_cmp(&b.jd))
        .cloned();
    let first_jd = dps
        .iter()
        .filter_map(|d| match survey {
            "ZTF" => num(&d.body, "jd"),
            _ => num(&d.body, "midpointMjdTai").map(|m| m + MJD_TO_JD),
        })
        .reduce(f64::min);
    ObjectSummary {
        first_jd,
        survey,
        links,
        position,
        detections: dets.len(),
        latest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dp(body: Json) -> DataPointDoc {
        DataPointDoc {
            id: 1,
            stock: vec![1],
            channel: vec![],
            tag: vec![],
            meta: vec![],
            body: body.into(),
        }
    }

    #[test]
    fn ztf_detections_give_position_links_and_latest_point() {
        let dps = [
            dp(
                json!({"jd": 2460235.7, "fid": 1, "magpsf": 18.5, "sigmapsf": 0.1, "ra": 10.0, "dec": 20.0}),
            ),
            dp(
                json!({"jd": 2460236.7, "fid": 2, "magpsf": 18.2, "sigmapsf": 0.08, "ra": 10.0, "dec": 20.0}),
            ),
            dp(json!({"jd": 2460237.7, "fid": 2, "diffmaglim": 20.1})),
        ];
        let s = object_summary(&["ZTF".into()], "ZTF23abcdefg", &dps);
        assert_eq!(s.detections, 2);
        assert_eq!(s.links[0].1, "https://alerce.online/object/ZTF23abcdefg");
        let (ra, dec, err) = s.position.unwrap();
        assert_eq!((ra, dec), (10.0, 20.0));
        assert!((err - 0.5 / 3600.0).abs() < 1e-12);
        let l = s.latest.unwrap();
        assert_eq!((l.band.as_str(), l.mag), ("ztfr", 18.2));
        assert_eq!(s.first_jd, Some(2460235.7));
    }

    #[test]
    fn lsst_fluxes_become_ab_magnitudes() {
        let dps = [dp(
            json!({"diaSourceId": 5, "midpointMjdTai": 60000.0, "psfFlux": 3630.78,
            "psfFluxErr": 363.078, "band": "r", "ra": 1.0, "dec": -2.0}),
        )];
        let s = object_summary(&["LSST".into()], "313", &dps);
        let l = s.latest.unwrap();
        assert!((l.mag - 22.5).abs() < 1e-3, "{}", l.mag);
        assert!((l.mag_error.unwrap() - 0.10857).abs() < 1e-4);
        assert_eq!(l.jd, 2460000.5);
    }
}
