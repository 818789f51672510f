//! `T2LightCurveSummary` (ampel-ztf): summary quantities of a state's light
//! curve, identical to Python AMPEL's output for the same datapoints.

use super::lightcurve::{field, num, LightCurve};
use super::{T2Input, T2Kind, T2Outcome, T2Unit, T2UnitRegistration};
use crate::config::{lax, parse_unit_config, UnitConfigError, Validate};
use crate::units::UnitContext;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

fn default_cols() -> Vec<String> {
    [
        "drb",
        "ra",
        "dec",
        "magpsf",
        "sgscore1",
        "distnr",
        "distpsnr1",
    ]
    .map(String::from)
    .to_vec()
}

fn default_limiting_magnitude() -> f64 {
    19.5
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct T2LightCurveSummaryConfig {
    /// Fields copied from the latest detection.
    #[serde(default = "default_cols")]
    pub cols: Vec<String>,
    /// Minimum depth of a non-detection to count as significant.
    #[serde(default = "default_limiting_magnitude", deserialize_with = "lax::f64")]
    pub limiting_magnitude: f64,
}

impl Validate for T2LightCurveSummaryConfig {}

#[derive(Debug)]
pub struct T2LightCurveSummary {
    cfg: T2LightCurveSummaryConfig,
}

impl T2LightCurveSummaryConfig {
    pub fn build(&self) -> T2LightCurveSummary {
        T2LightCurveSummary { cfg: self.clone() }
    }
}

impl T2Unit for T2LightCurveSummary {
    fn kind(&self) -> T2Kind {
        T2Kind::State
    }

    fn config(&self) -> Json {
        serde_json::to_value(&self.cfg).expect("plain config serialises")
    }

    fn body_fields(&self) -> Option<Vec<String>> {
        let read = ["jd", "ra", "dec", "fid", "diffmaglim"].map(String::from);
        Some(
            read.into_iter()
                .chain(self.cfg.cols.iter().cloned())
                .collect(),
        )
    }

    fn process(&self, input: &T2Input) -> T2Outcome {
        let lc = LightCurve::build(input.datapoints);
        let mut r = Map::new();
        r.insert("num_detections".into(), Json::from(lc.photopoints.len()));
        let (Some(first), Some(latest)) = (lc.photopoints.first(), lc.photopoints.last()) else {
            return T2Outcome::Ok(Json::Object(r));
        };
        let Some(first_jd) = num(first, "jd") else {
            return T2Outcome::Error(format!("datapoint {} has no jd", first.id));
        };
        r.insert("first_detection".into(), field(first, "jd"));
        r.insert("ra_dis".into(), field(first, "ra"));
        r.insert("dec_dis".into(), field(first, "dec"));
        r.insert("last_detection".into(), field(latest, "jd"));
        for k in &self.cfg.cols {
            r.insert(k.clone(), field(latest, k));
        }
        // AMPEL: next(reversed(filtered upper limits)), i.e. the last one in
        // state order (ids ascending: the earliest such limit).
        let mut significant = lc.upperlimits.iter().filter(|ul| {
            num(ul, "jd").is_some_and(|jd| jd < first_jd)
                && num(ul, "diffmaglim").is_some_and(|m| m > self.cfg.limiting_magnitude)
        });
        if let Some(ul) = significant.next_back() {
            for f in ["jd", "fid", "diffmaglim"] {
                r.insert(format!("last_significant_nondetection_{f}"), field(ul, f));
            }
        }
        T2Outcome::Ok(Json::Object(r))
    }
}

fn build(config: &Json, _: &UnitContext) -> Result<Box<dyn T2Unit>, UnitConfigError> {
    let cfg: T2LightCurveSummaryConfig = parse_unit_config("T2LightCurveSummary", config)?;
    Ok(Box::new(cfg.build()))
}

inventory::submit! {
    T2UnitRegistration {
        name: "T2LightCurveSummary",
        build,
        schema: || schemars::schema_for!(T2LightCurveSummaryConfig),
    }
}
