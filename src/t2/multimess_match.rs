//! `T2MultiMessMatch`: the seed tutorial's multi-messenger match of a
//! transient against neutrino regions (IceCube-like alerts) read from a file.
//!
//! For each region the unit computes three pulls, each a difference divided
//! by the tutorial's scaling (a larger scaling de-weights that axis):
//! - spatial: angular distance to the region centre (deg) / `spatial_pull_scaling`;
//! - temporal: |transient time - neutrino time| (days) / `temporal_pull_scaling`;
//! - energy: |region energy - `energy_reference_tev`| (TeV) / `energy_pull_scaling`.
//!
//! The transient's position and time come from its detections per
//! `match_where`: `latest`, `first`, or `mean` (unit-vector mean position,
//! mean jd). A region matches when the transient lies inside its radius and
//! the combined pull sqrt(s^2 + t^2 + e^2) is at most `max_pull`. Output:
//! `matches` (every matching region with its pulls, best first) and
//! `best_match` (the smallest pull, or null).
//!
//! Region file (YAML or JSON): a list of
//! `{name, ra, dec, radius (deg), time (JD), energy (TeV)}`.

use super::lightcurve::{num, LightCurve};
use super::{T2Input, T2Kind, T2Outcome, T2Unit, T2UnitRegistration};
use crate::astro::angular_separation_deg;
use crate::config::{lax, parse_unit_config, ConfigProblem, UnitConfigError, Validate};
use crate::units::UnitContext;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};
use std::path::PathBuf;

/// One neutrino alert region.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NeutrinoRegion {
    pub name: String,
    pub ra: f64,
    pub dec: f64,
    /// Containment radius, degrees.
    pub radius: f64,
    /// Time of the neutrino, JD.
    pub time: f64,
    /// Most probable energy, TeV.
    pub energy: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MatchWhere {
    Latest,
    First,
    Mean,
}

fn d_latest() -> MatchWhere {
    MatchWhere::Latest
}
fn d_temporal() -> f64 {
    10.0
}
fn d_spatial() -> f64 {
    0.3
}
fn d_energy() -> f64 {
    1000.0
}
fn d_max_pull() -> f64 {
    3.0
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct T2MultiMessMatchConfig {
    /// File with the neutrino regions (relative to the job file).
    pub regions: PathBuf,
    #[serde(default = "d_temporal", deserialize_with = "lax::f64")]
    pub temporal_pull_scaling: f64,
    #[serde(default = "d_spatial", deserialize_with = "lax::f64")]
    pub spatial_pull_scaling: f64,
    #[serde(default = "d_energy", deserialize_with = "lax::f64")]
    pub energy_pull_scaling: f64,
    #[serde(default, deserialize_with = "lax::f64")]
    pub energy_reference_tev: f64,
    #[serde(default = "d_max_pull", deserialize_with = "lax::f64")]
    pub max_pull: f64,
    #[serde(default = "d_latest")]
    pub match_where: MatchWhere,
}

impl Validate for T2MultiMessMatchConfig {
    fn validate(&self, p: &mut Vec<ConfigProblem>) {
        for (k, v) in [
            ("temporal_pull_scaling", self.temporal_pull_scaling),
            ("spatial_pull_scaling", self.spatial_pull_scaling),
            ("energy_pull_scaling", self.energy_pull_scaling),
        ] {
            if v <= 0.0 || !v.is_finite() {
                p.push(ConfigProblem::new(k, format!("must be positive, got {v}")));
            }
        }
    }
}

/// Reads a region file.
pub fn load_regions(path: &std::path::Path) -> Result<Vec<NeutrinoRegion>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let regions: Vec<NeutrinoRegion> =
        serde_norway::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    for r in &regions {
        if !(0.0..=360.0).contains(&r.ra) || !(-90.0..=90.0).contains(&r.dec) || r.radius <= 0.0 {
            return Err(format!(
                "{}: region {:?} has an invalid position or radius",
                path.display(),
                r.name
            ));
        }
    }
    Ok(regions)
}

#[derive(Debug)]
pub struct T2MultiMessMatch {
    cfg: T2MultiMessMatchConfig,
    regions: Vec<NeutrinoRegion>,
}

impl T2MultiMessMatch {
    /// Transient (ra, dec, jd) per `match_where`.
    fn where_(&self, input: &T2Input) -> Option<(f64, f64, f64)> {
        let lc = LightCurve::build(input.datapoints);
        let pts: Vec<(f64, f64, f64)> = lc
            .photopoints
            .iter()
            .filter_map(|d| Some((num(d, "ra")?, num(d, "dec")?, num(d, "jd")?)))
            .collect();
        match self.cfg.match_where {
            MatchWhere::Latest => pts.iter().copied().max_by(|a, b| a.2.total_cmp(&b.2)),
            MatchWhere::First => pts.iter().copied().min_by(|a, b| a.2.total_cmp(&b.2)),
            MatchWhere::Mean => {
                if pts.is_empty() {
                    return None;
                }
                let (mut x, mut y, mut z, mut t) = (0.0, 0.0, 0.0, 0.0);
                for (ra, dec, jd) in &pts {
                    let (r, d) = (ra.to_radians(), dec.to_radians());
                    x += d.cos() * r.cos();
                    y += d.cos() * r.sin();
                    z += d.sin();
                    t += jd;
                }
                let n = pts.len() as f64;
                Some((
                    y.atan2(x).to_degrees().rem_euclid(360.0),
                    z.atan2(x.hypot(y)).to_degrees(),
                    t / n,
                ))
            }
        }
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

impl T2Unit for T2MultiMessMatch {
    fn kind(&self) -> T2Kind {
        T2Kind::State
    }

    fn config(&self) -> Json {
        serde_json::to_value(&self.cfg).expect("plain config serialises")
    }

    /// Each detection's position and time.
    fn body_fields(&self) -> Option<Vec<String>> {
        Some(["ra", "dec", "jd"].map(String::from).to_vec())
    }

    fn process(&self, input: &T2Input) -> T2Outcome {
        let Some((ra, dec, jd)) = self.where_(input) else {
            return T2Outcome::Ok(
                json!({"matches": [], "best_match": null, "reason": "no detection with position and time"}),
            );
        };
        let mut matches: Vec<(f64, Json)> = Vec::new();
        for r in &self.regions {
            let dist = angular_separation_deg(ra, dec, r.ra, r.dec);
            if dist > r.radius {
                continue;
            }
            let sp = dist / self.cfg.spatial_pull_scaling;
            let tp = (jd - r.time).abs() / self.cfg.temporal_pull_scaling;
            let ep =
                (r.energy - self.cfg.energy_reference_tev).abs() / self.cfg.energy_pull_scaling;
            let pull = (sp * sp + tp * tp + ep * ep).sqrt();
            if pull <= self.cfg.max_pull {
                matches.push((
                    pull,
                    json!({
                        "region": r.name, "dist_deg": round6(dist), "dt_days": round6(jd - r.time),
                        "spatial_pull": round6(sp), "temporal_pull": round6(tp),
                        "energy_pull": round6(ep), "pull": round6(pull),
                    }),
                ));
            }
        }
        matches.sort_by(|a, b| a.0.total_cmp(&b.0));
        let best = matches.first().map(|m| m.1.clone()).unwrap_or(Json::Null);
        T2Outcome::Ok(json!({
            "matches": matches.into_iter().map(|m| m.1).collect::<Vec<_>>(),
            "best_match": best,
        }))
    }
}

fn build(config: &Json, ctx: &UnitContext) -> Result<Box<dyn T2Unit>, UnitConfigError> {
    let cfg: T2MultiMessMatchConfig = parse_unit_config("T2MultiMessMatch", config)?;
    let regions = load_regions(&ctx.resolve(&cfg.regions)).map_err(|e| UnitConfigError {
        unit: "T2MultiMessMatch".into(),
        problems: vec![ConfigProblem::new("regions", e)],
    })?;
    Ok(Box::new(T2MultiMessMatch { cfg, regions }))
}

inventory::submit! {
    T2UnitRegistration {
        name: "T2MultiMessMatch",
        build,
        schema: || schemars::schema_for!(T2MultiMessMatchConfig),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DataPointDoc;
    use std::sync::Arc;

    fn dp(id: i64, ra: f64, dec: f64, jd: f64) -> DataPointDoc {
        DataPointDoc {
            id,
            stock: vec![1],
            channel: vec![],
            tag: vec![],
            meta: vec![],
            body: json!({"ra": ra, "dec": dec, "jd": jd}).into(),
        }
    }

    fn unit(match_where: MatchWhere) -> T2MultiMessMatch {
        T2MultiMessMatch {
            cfg: T2MultiMessMatchConfig {
                regions: PathBuf::new(),
                temporal_pull_scaling: 10.0,
                spatial_pull_scaling: 0.3,
                energy_pull_scaling: 1000.0,
                energy_reference_tev: 0.0,
                max_pull: 3.0,
                match_where,
            },
            regions: vec![
                NeutrinoRegion {
                    name: "near".into(),
                    ra: 10.3,
                    dec: 0.0,
                    radius: 1.0,
                    time: 100.0,
                    energy: 100.0,
                },
                NeutrinoRegion {
                    name: "far".into(),
                    ra: 50.0,
                    dec: 0.0,
                    radius: 1.0,
                    time: 100.0,
                    energy: 100.0,
                },
                NeutrinoRegion {
                    name: "late".into(),
                    ra: 10.0,
                    dec: 0.0,
                    radius: 1.0,
                    time: 200.0,
                    energy: 100.0,
                },
            ],
        }
    }

    fn run(u: &T2MultiMessMatch, dps: &[DataPointDoc]) -> Json {
        let deps = Default::default();
        let dps: Vec<Arc<DataPointDoc>> = dps.iter().cloned().map(Arc::new).collect();
        let input = T2Input {
            stock: 1,
            datapoints: &dps,
            state: None,
            stock_doc: None,
            dependencies: &deps,
        };
        match u.process(&input) {
            T2Outcome::Ok(b) => b,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn pulls_and_best_match() {
        let dps = [dp(1, 10.0, 0.0, 105.0), dp(-5, 10.0, 0.0, 50.0)];
        let b = run(&unit(MatchWhere::Latest), &dps);
        let best = &b["best_match"];
        assert_eq!(best["region"], "near");
        assert!(
            (best["spatial_pull"].as_f64().unwrap() - 1.0).abs() < 1e-6,
            "0.3 deg / 0.3"
        );
        assert!(
            (best["temporal_pull"].as_f64().unwrap() - 0.5).abs() < 1e-6,
            "5 d / 10"
        );
        assert!((best["energy_pull"].as_f64().unwrap() - 0.1).abs() < 1e-6);
        assert_eq!(
            b["matches"].as_array().unwrap().len(),
            1,
            "far is outside its radius, late has a 9.5 temporal pull"
        );
    }

    #[test]
    fn match_where_picks_the_point() {
        let dps = [dp(1, 10.0, 0.0, 105.0), dp(2, 10.0, 0.0, 195.0)];
        assert_eq!(
            run(&unit(MatchWhere::Latest), &dps)["best_match"]["region"],
            "late"
        );
        assert_eq!(
            run(&unit(MatchWhere::First), &dps)["best_match"]["region"],
            "near"
        );
        // Mean time 150: 5 d from neither; both 5 pulls > 3.
        assert!(run(&unit(MatchWhere::Mean), &dps)["best_match"].is_null());
        assert!(run(&unit(MatchWhere::Latest), &[])["best_match"].is_null());
    }

    #[test]
    fn region_files_are_checked() {
        let dir = std::env::temp_dir().join(format!("ampel-regions-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("r.yml");
        std::fs::write(
            &p,
            "- {name: a, ra: 400, dec: 0, radius: 1, time: 1, energy: 1}\n",
        )
        .unwrap();
        assert!(load_regions(&p).unwrap_err().contains("invalid position"));
        std::fs::write(&p, "- {name: a, ra: 1, dec: 0, radius: 1, time: 1}\n").unwrap();
        assert!(load_regions(&p).unwrap_err().contains("energy"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
