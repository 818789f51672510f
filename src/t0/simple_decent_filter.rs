//! `SimpleDecentFilter`: DecentFilter's cuts without external catalogues,
//! every parameter defaulted (AMPEL-HU-astro's unit).

use super::decent::{Cuts, DetectionRule, DrbRule};
use super::DecentFilterConfig;
use crate::alert::Alert;
use crate::config::{lax, parse_unit_config, ConfigProblem, UnitConfigError, Validate};
use crate::units::{AlertFilter, FilterUnit, FilterVerdict, UnitContext};
use serde::Deserialize;
use serde_json::Value as Json;

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SimpleDecentFilterConfig {
    #[serde(deserialize_with = "lax::i64")]
    pub min_ndet: i64,
    #[serde(deserialize_with = "lax::f64")]
    pub min_tspan: f64,
    #[serde(deserialize_with = "lax::f64")]
    pub max_tspan: f64,
    #[serde(deserialize_with = "lax::f64")]
    pub min_archive_tspan: f64,
    #[serde(deserialize_with = "lax::f64")]
    pub max_archive_tspan: f64,
    #[serde(deserialize_with = "lax::f64")]
    pub min_drb: f64,
    #[serde(deserialize_with = "lax::f64")]
    pub min_rb: f64,
    #[serde(deserialize_with = "lax::f64")]
    pub max_fwhm: f64,
    #[serde(deserialize_with = "lax::f64")]
    pub max_elong: f64,
    #[serde(deserialize_with = "lax::f64")]
    pub max_magdiff: f64,
    /// Declared, never applied (as in AMPEL).
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
}

impl Default for SimpleDecentFilterConfig {
    fn default() -> Self {
        SimpleDecentFilterConfig {
            min_ndet: 2,
            min_tspan: 0.02,
            max_tspan: 25.0,
            min_archive_tspan: 0.0,
            max_archive_tspan: 1e5,
            min_drb: 0.0,
            min_rb: 0.3,
            max_fwhm: 5.0,
            max_elong: 1.4,
            max_magdiff: 0.4,
            max_nbad: 0,
            min_sso_dist: 20.0,
            min_gal_lat: 0.0,
            ps1_sgveto_rad: 2.0,
            ps1_sgveto_th: 0.8,
            ps1_confusion_rad: 1.0,
            ps1_confusion_sg_tol: 0.5,
        }
    }
}

impl Validate for SimpleDecentFilterConfig {
    fn validate(&self, p: &mut Vec<ConfigProblem>) {
        if self.min_tspan > self.max_tspan {
            p.push(ConfigProblem::new(
                "min_tspan",
                format!("{} > max_tspan {}", self.min_tspan, self.max_tspan),
            ));
        }
    }
}

#[derive(Debug)]
pub struct SimpleDecentFilter {
    cuts: Cuts,
}

impl SimpleDecentFilterConfig {
    pub fn build(&self) -> SimpleDecentFilter {
        let p = DecentFilterConfig {
            min_ndet: self.min_ndet,
            min_tspan: self.min_tspan,
            max_tspan: self.max_tspan,
            min_archive_tspan: self.min_archive_tspan,
            max_archive_tspan: self.max_archive_tspan,
            min_drb: self.min_drb,
            min_rb: self.min_rb,
            max_fwhm: self.max_fwhm,
            max_elong: self.max_elong,
            max_magdiff: self.max_magdiff,
            max_nbad: self.max_nbad,
            min_sso_dist: self.min_sso_dist,
            min_gal_lat: self.min_gal_lat,
            ps1_sgveto_rad: self.ps1_sgveto_rad,
            ps1_sgveto_th: self.ps1_sgveto_th,
            ps1_confusion_rad: self.ps1_confusion_rad,
            ps1_confusion_sg_tol: self.ps1_confusion_sg_tol,
            // No catalogues: the Gaia veto is off.
            gaia_rs: 0.0,
            gaia_pm_signif: 0.0,
            gaia_plx_signif: 0.0,
            gaia_veto_gmag_min: 0.0,
            gaia_veto_gmag_max: 0.0,
            gaia_excessnoise_sig_max: 0.0,
        };
        SimpleDecentFilter {
            cuts: Cuts {
                detections: DetectionRule::MagpsfNotNull,
                drb_rule: DrbRule::WhenTruthy,
                p,
                gaia: None,
            },
        }
    }
}

impl AlertFilter for SimpleDecentFilter {
    fn process(&self, alert: &Alert) -> FilterVerdict {
        self.cuts.check(alert)
    }

    fn fields_read(&self) -> Vec<String> {
        super::decent::fields_read()
    }
}

fn build(config: &Json, _: &UnitContext) -> Result<Box<dyn AlertFilter>, UnitConfigError> {
    let cfg: SimpleDecentFilterConfig = parse_unit_config("SimpleDecentFilter", config)?;
    Ok(Box::new(cfg.build()))
}

inventory::submit! {
    FilterUnit {
        name: "SimpleDecentFilter",
        build,
        schema: || schemars::schema_for!(SimpleDecentFilterConfig),
    }
}
