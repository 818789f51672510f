//! `FaultInjectionFilter`: accepts every alert, except that it panics on
//! the alerts of the named ZTF objects. It exists to prove, on a running
//! broker, what a faulty unit does: its channel's actor is restarted, the
//! alert goes to the dead-letter collection, and the stream goes on. Not
//! for science channels.

use crate::alert::Alert;
use crate::config::{parse_unit_config, ConfigProblem, UnitConfigError, Validate};
use crate::units::{AlertFilter, FilterUnit, FilterVerdict, UnitContext};
use serde::Deserialize;
use serde_json::Value as Json;

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultInjectionFilterConfig {
    /// Object names (e.g. `ZTF18abcdefg`) whose alerts make it panic.
    pub panic_on: Vec<String>,
}

impl Validate for FaultInjectionFilterConfig {
    fn validate(&self, _: &mut Vec<ConfigProblem>) {}
}

#[derive(Debug)]
pub struct FaultInjectionFilter {
    panic_on: Vec<String>,
}

impl AlertFilter for FaultInjectionFilter {
    fn process(&self, alert: &Alert) -> FilterVerdict {
        if self.panic_on.contains(&alert.name) {
            panic!("FaultInjectionFilter: injected panic on {}", alert.name);
        }
        FilterVerdict::Accept
    }
}

fn build(config: &Json, _: &UnitContext) -> Result<Box<dyn AlertFilter>, UnitConfigError> {
    let cfg: FaultInjectionFilterConfig = parse_unit_config("FaultInjectionFilter", config)?;
    Ok(Box::new(FaultInjectionFilter {
        panic_on: cfg.panic_on,
    }))
}

inventory::submit! {
    FilterUnit {
        name: "FaultInjectionFilter",
        build,
        schema: || schemars::schema_for!(FaultInjectionFilterConfig),
    }
}
