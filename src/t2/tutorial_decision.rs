//! `T2TutorialDecision`: the seed tutorial's decision, as a tied T2. It waits
//! for `T2TemplateMatch` and `T2MultiMessMatch` on the same state and
//! decides `{"decision": target_match && best_match != null}`: an
//! SN2009ip-like transient coincident with a neutrino region, worth
//! spectroscopic follow-up.

use super::{T2Dependency, T2Input, T2Kind, T2Outcome, T2Unit, T2UnitRegistration};
use crate::config::{parse_unit_config, UnitConfigError, Validate};
use crate::units::UnitContext;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct T2TutorialDecisionConfig {
    /// Config of the T2TemplateMatch result to use (as in the channel).
    #[serde(default = "empty")]
    pub template_match: Json,
    /// Config of the T2MultiMessMatch result to use (as in the channel).
    pub multimess_match: Json,
}

fn empty() -> Json {
    json!({})
}

impl Validate for T2TutorialDecisionConfig {}

#[derive(Debug)]
pub struct T2TutorialDecision {
    cfg: T2TutorialDecisionConfig,
}

impl T2Unit for T2TutorialDecision {
    fn kind(&self) -> T2Kind {
        T2Kind::State
    }

    fn config(&self) -> Json {
        serde_json::to_value(&self.cfg).expect("plain config serialises")
    }

    fn dependencies(&self) -> Vec<T2Dependency> {
        vec![
            T2Dependency {
                unit: "T2TemplateMatch".into(),
                config: self.cfg.template_match.clone(),
            },
            T2Dependency {
                unit: "T2MultiMessMatch".into(),
                config: self.cfg.multimess_match.clone(),
            },
        ]
    }

    /// None: it decides from its dependencies' results alone.
    fn body_fields(&self) -> Option<Vec<String>> {
        Some(Vec::new())
    }

    fn process(&self, input: &T2Input) -> T2Outcome {
        let tm = input.dependencies.get("T2TemplateMatch");
        let mm = input.dependencies.get("T2MultiMessMatch");
        let (Some(tm), Some(mm)) = (tm, mm) else {
            return T2Outcome::Error("dependencies missing".into());
        };
        let target = tm
            .get("target_match")
            .and_then(Json::as_bool)
            .unwrap_or(false);
        let best = mm.get("best_match").cloned().unwrap_or(Json::Null);
        T2Outcome::Ok(json!({
            "decision": target && !best.is_null(),
            "target_match": target,
            "neutrino": best.get("region").cloned().unwrap_or(Json::Null),
        }))
    }
}

fn build(config: &Json, _: &UnitContext) -> Result<Box<dyn T2Unit>, UnitConfigError> {
    let cfg: T2TutorialDecisionConfig = parse_unit_config("T2TutorialDecision", config)?;
    Ok(Box::new(T2TutorialDecision { cfg }))
}

inventory::submit! {
    T2UnitRegistration {
        name: "T2TutorialDecision",
        build,
        schema: || schemars::schema_for!(T2TutorialDecisionConfig),
    }
}
