//! `T2CatalogMatch`: cone searches of local catalogues around a datapoint
//! (a point T2 on the latest detection), with the same catalogue code as
//! DecentFilter's Gaia veto. Body: per catalogue, the sources found (nearest
//! first, with `dist_arcsec` and the requested columns), or null for none.

use super::{T2Input, T2Kind, T2Outcome, T2Unit, T2UnitRegistration};
use crate::catalog::Catalog;
use crate::config::{lax, parse_unit_config, ConfigProblem, UnitConfigError, Validate};
use crate::units::UnitContext;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogQuery {
    #[serde(deserialize_with = "lax::f64")]
    pub rs_arcsec: f64,
    /// Columns to copy; absent (null, AMPEL's default) copies none.
    #[serde(default)]
    pub keys_to_append: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct T2CatalogMatchConfig {
    /// Catalogue name (as configured for the job) -> search.
    pub catalogs: BTreeMap<String, CatalogQuery>,
}

impl Validate for T2CatalogMatchConfig {
    fn validate(&self, p: &mut Vec<ConfigProblem>) {
        if self.catalogs.is_empty() {
            p.push(ConfigProblem::new(
                "catalogs",
                "name at least one catalogue",
            ));
        }
        for (name, q) in &self.catalogs {
            if q.rs_arcsec <= 0.0 {
                p.push(ConfigProblem::new(
                    format!("catalogs.{name}.rs_arcsec"),
                    "must be positive",
                ));
            }
        }
    }
}

pub struct T2CatalogMatch {
    cfg: T2CatalogMatchConfig,
    searches: Vec<(String, CatalogQuery, Arc<Catalog>)>,
}

impl std::fmt::Debug for T2CatalogMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("T2CatalogMatch")
            .field("catalogs", &self.searches.len())
            .finish()
    }
}

impl T2Unit for T2CatalogMatch {
    fn kind(&self) -> T2Kind {
        T2Kind::Point
    }

    fn config(&self) -> Json {
        serde_json::to_value(&self.cfg).expect("plain config serialises")
    }

    /// The detection's position, nothing else.
    fn body_fields(&self) -> Option<Vec<String>> {
        Some(["ra", "dec"].map(String::from).to_vec())
    }

    fn process(&self, input: &T2Input) -> T2Outcome {
        let Some(dp) = input.datapoints.first() else {
            return T2Outcome::Error("no datapoint".into());
        };
        let pos = |k: &str| dp.body.get(k).and_then(Json::as_f64);
        let (Some(ra), Some(dec)) = (pos("ra"), pos("dec")) else {
            return T2Outcome::Error(format!("datapoint {} has no ra/dec", dp.id));
        };
        let mut out = Map::new();
        for (name, q, cat) in &self.searches {
            let found: Vec<Json> = cat
                .cone_search(ra, dec, q.rs_arcsec)
                .iter()
                .map(|m| {
                    let mut o = Map::new();
                    o.insert(
                        "dist_arcsec".into(),
                        Json::from((m.dist_arcsec * 1e6).round() / 1e6),
                    );
                    for k in q.keys_to_append.iter().flatten() {
                        let v = m.get(k);
                        o.insert(
                            k.clone(),
                            if v.is_finite() {
                                Json::from(v)
                            } else {
                                Json::Null
                            },
                        );
                    }
                    Json::Object(o)
                })
                .collect();
            out.insert(
                name.clone(),
                if found.is_empty() {
                    Json::Null
                } else {
                    Json::Array(found)
                },
            );
        }
        T2Outcome::Ok(Json::Object(out))
    }
}

fn build(config: &Json, ctx: &UnitContext) -> Result<Box<dyn T2Unit>, UnitConfigError> {
    let cfg: T2CatalogMatchConfig = parse_unit_config("T2CatalogMatch", config)?;
    let mut searches = Vec::new();
    let mut problems = Vec::new();
    for (name, q) in cfg.catalogs.clone() {
        match ctx.catalog(&name) {
            Some(c) => searches.push((name, q, c)),
            None => problems.push(ConfigProblem::new(
                format!("catalogs.{name}"),
                format!("no catalogue {name:?} is configured (job `catalogs:` or --catalog {name}=PATH)"),
            )),
        }
    }
    if !problems.is_empty() {
        return Err(UnitConfigError {
            unit: "T2CatalogMatch".into(),
            problems,
        });
    }
    Ok(Box::new(T2CatalogMatch { cfg, searches }))
}

inventory::submit! {
    T2UnitRegistration {
        name: "T2CatalogMatch",
        build,
        schema: || schemars::schema_for!(T2CatalogMatchConfig),
    }
}
