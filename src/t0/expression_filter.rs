//! `ExpressionFilter`: a channel's filter written as an expression
//! (see [`super::expr`] for the language).

use super::expr::Expression;
use crate::alert::Alert;
use crate::config::{parse_unit_config, ConfigProblem, UnitConfigError, Validate};
use crate::units::{AlertFilter, FilterUnit, FilterVerdict, Rejection, UnitContext};
use serde::Deserialize;
use serde_json::Value as Json;

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpressionFilterConfig {
    /// e.g. `candidate.rb > 0.5 && ndet >= 3`
    pub expression: String,
}

impl Validate for ExpressionFilterConfig {
    fn validate(&self, p: &mut Vec<ConfigProblem>) {
        if let Err(e) = Expression::compile(&self.expression) {
            p.push(ConfigProblem::new("expression", e.to_string()));
        }
    }
}

#[derive(Debug)]
pub struct ExpressionFilter {
    expr: Expression,
}

impl ExpressionFilterConfig {
    pub fn build(&self) -> Result<ExpressionFilter, UnitConfigError> {
        let expr = Expression::compile(&self.expression).map_err(|e| UnitConfigError {
            unit: "ExpressionFilter".into(),
            problems: vec![ConfigProblem::new("expression", e.to_string())],
        })?;
        Ok(ExpressionFilter { expr })
    }
}

impl AlertFilter for ExpressionFilter {
    fn process(&self, alert: &Alert) -> FilterVerdict {
        match self.expr.check(alert) {
            Ok(()) => FilterVerdict::Accept,
            Err(why) => FilterVerdict::Reject(Rejection::new("expression", why)),
        }
    }

    fn fields_read(&self) -> Vec<String> {
        self.expr.fields()
    }
}

fn build(config: &Json, _: &UnitContext) -> Result<Box<dyn AlertFilter>, UnitConfigError> {
    let cfg: ExpressionFilterConfig = parse_unit_config("ExpressionFilter", config)?;
    Ok(Box::new(cfg.build()?))
}

inventory::submit! {
    FilterUnit {
        name: "ExpressionFilter",
        build,
        schema: || schemars::schema_for!(ExpressionFilterConfig),
    }
}
