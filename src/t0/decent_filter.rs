//! `DecentFilter`: AMPEL's general-purpose ZTF filter (~0.6% acceptance),
//! with the Gaia proper-motion/parallax veto run against a local catalogue.

use super::decent::{Cuts, DetectionRule, DrbRule, GaiaVeto};
use crate::alert::Alert;
use crate::config::{lax, parse_unit_config, ConfigProblem, UnitConfigError, Validate};
use crate::units::{AlertFilter, FilterUnit, FilterVerdict, UnitContext};
use serde::Deserialize;
use serde_json::Value as Json;

/// The catalogue name the Gaia veto reads (as in AMPEL's catsHTM setup).
pub const GAIA_CATALOG: &str = "GAIADR2";

fn max_archive_default() -> f64 {
    1e5
}

/// Parameters exactly as AMPEL's DecentFilter declares them (same names,
/// same defaults, the rest required), so configs and config ids carry over.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecentFilterConfig {
    #[serde(deserialize_with = "lax::i64")]
    pub min_ndet: i64,
    #[serde(deserialize_with = "lax::f64")]
    pub min_tspan: f64,
    #[serde(deserialize_with = "lax::f64")]
    pub max_tspan: f64,
    #[serde(deserialize_with = "lax::f64", default)]
    pub min_archive_tspan: f64,
    #[serde(deserialize_with = "lax::f64", default = "max_archive_default")]
    pub max_archive_tspan: f64,
    #[serde(deserialize_with = "lax::f64", default)]
    pub min_drb: f64,
    #[serde(deserialize_with = "lax::f64")]
    pub min_rb: f64,
    #[serde(deserialize_with = "lax::f64")]
    pub max_fwhm: f64,
    #[serde(deserialize_with = "lax::f64")]
    pub max_elong: f64,
    #[serde(deserialize_with = "lax::f64")]
    pub max_magdiff: f64,
    /// Declared by AMPEL, never applied by it; kept for config compatibility.
    #[serde(deserialize_with = "lax::i64")]
    pub max_nbad: i64,
    #[serde(deserialize_with = "lax::f64")]
    pub min_sso_dist: f64,
    #[serde(deserialize_with = "lax::f64")]
    pub min_gal_lat: f64,
    #[serde(deserialize_with = "lax::f64")]
    pub ps1_sgveto_rad: f64,
    #[serde(deserialize_with = "lax::f64")]
    pub ps1_sgveto_th: f64,
    #[serde(deserialize_with = "lax::f64")]
    pub ps1_confusion_rad: f64,
    #[serde(deserialize_with = "lax::f64")]
    pub ps1_confusion_sg_tol: f64,
    #[serde(deserialize_with = "lax::f64")]
    pub gaia_rs: f64,
    #[serde(deserialize_with = "lax::f64")]
    pub gaia_pm_signif: f64,
    #[serde(deserialize_with = "lax::f64")]
    pub gaia_plx_signif: f64,
    #[serde(deserialize_with = "lax::f64")]
    pub gaia_veto_gmag_min: f64,
    #[serde(deserialize_with = "lax::f64")]
    pub gaia_veto_gmag_max: f64,
    #[serde(deserialize_with = "lax::f64")]
    pub gaia_excessnoise_sig_max: f64,
}

impl Validate for DecentFilterConfig {
    fn validate(&self, p: &mut Vec<ConfigProblem>) {
        if self.min_tspan > self.max_tspan {
            p.push(ConfigProblem::new(
                "min_tspan",
                format!("{} > max_tspan {}", self.min_tspan, self.max_tspan),
            ));
        }
        if self.min_archive_tspan > self.max_archive_tspan {
            p.push(ConfigProblem::new(
                "min_archive_tspan",
                "greater than max_archive_tspan",
            ));
        }
        if self.gaia_rs < 0.0 {
            p.push(ConfigProblem::new("gaia_rs", "negative search radius"));
        }
        if self.gaia_rs > 0.0 && self.gaia_veto_gmag_min > self.gaia_veto_gmag_max {
            p.push(ConfigProblem::new(
                "gaia_veto_gmag_min",
                "greater than gaia_veto_gmag_max",
            ));
        }
    }
}

/// The runtime unit.
#[derive(Debug)]
pub struct DecentFilter {
    cuts: Cuts,
}

impl DecentFilterConfig {
    pub fn build(&self, ctx: &UnitContext) -> Result<DecentFilter, UnitConfigError> {
        let gaia = if self.gaia_rs > 0.0 {
            let catalog = ctx.catalog(GAIA_CATALOG).ok_or_else(|| UnitConfigError {
                unit: "DecentFilter".into(),
                problems: vec![ConfigProblem::new(
                    "gaia_rs",
                    format!(
                        "{} > 0 needs the local Gaia catalogue {GAIA_CATALOG:?}, and none is configured \
                         (pass --catalog {GAIA_CATALOG}=PATH, or set gaia_rs to 0 to disable the veto)",
                        self.gaia_rs
                    ),
                )],
            })?;
            Some(GaiaVeto {
                catalog,
                rs: self.gaia_rs,
                pm_signif: self.gaia_pm_signif,
                plx_signif: self.gaia_plx_signif,
                gmag_min: self.gaia_veto_gmag_min,
                gmag_max: self.gaia_veto_gmag_max,
                excessnoise_sig_max: self.gaia_excessnoise_sig_max,
            })
        } else {
            None
        };
        Ok(DecentFilter {
            cuts: Cuts {
                detections: DetectionRule::HasCandid,
                drb_rule: DrbRule::WhenPresent,
                p: self.clone(),
                gaia,
            },
        })
    }
}

impl AlertFilter for DecentFilter {
    fn process(&self, alert: &Alert) -> FilterVerdict {
        self.cuts.check(alert)
    }

    fn fields_read(&self) -> Vec<String> {
        super::decent::fields_read()
    }
}

fn build(config: &Json, ctx: &UnitContext) -> Result<Box<dyn AlertFilter>, UnitConfigError> {
    let cfg: DecentFilterConfig = parse_unit_config("DecentFilter", config)?;
    Ok(Box::new(cfg.build(ctx)?))
}

inventory::submit! {
    FilterUnit {
        name: "DecentFilter",
        build,
        schema: || schemars::schema_for!(DecentFilterConfig),
    }
}
