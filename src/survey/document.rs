//! Datapoint bodies as they are archived (the `t0` collection), per survey:
//! for ZTF exactly what AMPEL's `ZiDataPointShaper` stores.

use crate::alert::{Alert, DataPoint, DataPointKind, Survey, Value};
use crate::store::{DataPointBody, RowBody, RowFields};

/// The time (JD) of an alert's own detection: ZTF's `jd`, Rubin's
/// `midpointMjdTai` as JD.
pub fn alert_jd(alert: &Alert) -> Option<f64> {
    let body = &alert.latest().body;
    match alert.survey {
        Survey::Ztf => body.get("jd")?.as_f64(),
        Survey::Lsst => Some(body.get("midpointMjdTai")?.as_f64()? + super::lightcurve::MJD_OFFSET),
    }
}

/// The archived body of a datapoint, as AMPEL's datapoint shapers make
/// it, kept as the alert's row until it is written.
pub fn datapoint_body(alert: &Alert, dp: &DataPoint) -> DataPointBody {
    let (row, fields) = match (alert.survey, dp.kind) {
        // ZiDataPointShaper: the row without candid and programpi, with the
        // difference-image file name cut to its base name.
        (Survey::Ztf, DataPointKind::Detection) => {
            let mut row = dp.body.clone();
            if let Some(name) = dp.body.str("pdiffimfilename").filter(|s| !s.is_empty()) {
                let base = name.rsplit('/').next().unwrap_or(name).replace(".fz", "");
                row.set("pdiffimfilename", Value::Str(base.into()));
            }
            (row, RowFields::Except(&["candid", "programpi"]))
        }
        // ZiDataPointShaper's upper-limit body.
        (Survey::Ztf, _) => (
            dp.body.clone(),
            RowFields::Only(&["jd", "diffmaglim", "rcid", "fid", "programid"]),
        ),
        (Survey::Lsst, _) => (dp.body.clone(), RowFields::All),
    };
    RowBody::new(row, fields).into()
}

/// The survey tag AMPEL puts on a stock and on its states and T2 documents
/// (ZiCompilerOptions: `{"tag": "ZTF"}` for stock, t1, state/point/stock T2).
pub fn stock_tags(alert: &Alert) -> Vec<String> {
    vec![match alert.survey {
        Survey::Ztf => "ZTF".to_string(),
        Survey::Lsst => "LSST".to_string(),
    }]
}

/// The surveys a channel's access rights can name, by their tag.
pub const SURVEYS: [(&str, Survey); 2] = [("ZTF", Survey::Ztf), ("LSST", Survey::Lsst)];

/// Whether a channel with `access` takes alerts of `survey`: its access
/// names the survey's tag (`ZTF`) or a right of it (`ZTF_PUB`). A channel
/// is written for one survey's packets (its filter reads that survey's
/// fields), so another survey's alerts are not its to filter: in a mixed
/// stream they are counted as such, never rejected with a misleading cut.
pub fn serves(access: &[String], survey: Survey) -> bool {
    let tag = SURVEYS
        .iter()
        .find(|(_, s)| *s == survey)
        .map_or("", |(t, _)| *t);
    access
        .iter()
        .any(|a| a == tag || a.strip_prefix(tag).is_some_and(|r| r.starts_with('_')))
}

/// Data rights: whether a channel with `access` may see a datapoint with
/// `tags`. Points tagged with an access tag (ZTF_PUB, ZTF_PRIV) are visible
/// when the channel has one of them; untagged points are visible to all.
/// For ZTF this drops exactly the programid 2 points from public channels.
pub fn visible(tags: &[String], access: &[String]) -> bool {
    const RIGHTS: [&str; 2] = ["ZTF_PUB", "ZTF_PRIV"];
    let restricted: Vec<&String> = tags
        .iter()
        .filter(|t| RIGHTS.contains(&t.as_str()))
        .collect();
    restricted.is_empty() || restricted.iter().any(|t| access.contains(t))
}
