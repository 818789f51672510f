//! `WebhookPublisher`: a JSON POST per new stock (or one per run with
//! `batch: true`) to any URL, optionally signed with HMAC-SHA256
//! (`X-Ampel-Signature`, see [`super::sign`]). Every POST carries an
//! `Idempotency-Key` header, the reaction's id, so a receiver can drop a
//! retry it already processed.

use super::{
    chosen_results, results_digest, DeliverySettings, Destination, HttpDestination, Message,
    Reactor, Secret, UrlSource,
};
use crate::config::{parse_unit_config, ConfigProblem, UnitConfigError, Validate};
use crate::t3::{StockView, T3Context, T3Unit, T3UnitRegistration};
use crate::units::UnitContext;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookPublisherConfig {
    /// The receiver: a URL, or a secret reference when the URL itself is a
    /// credential.
    pub url: UrlSource,
    /// Key for the `X-Ampel-Signature` HMAC.
    #[serde(default)]
    pub hmac_key: Option<Secret>,
    #[serde(default)]
    pub t2info_from: Vec<String>,
    /// One POST per run listing every new stock, instead of one per stock.
    #[serde(default)]
    pub batch: bool,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub delivery: DeliverySettings,
}

impl Validate for WebhookPublisherConfig {
    fn validate(&self, problems: &mut Vec<ConfigProblem>) {
        self.url.check("url", problems);
        if let Some(k) = &self.hmac_key {
            k.check("hmac_key", problems);
        }
        self.delivery.check(problems);
    }
}

#[derive(Debug)]
pub struct WebhookPublisher {
    cfg: WebhookPublisherConfig,
    destination: Destination,
}

/// The JSON a receiver gets about one stock.
pub fn stock_json(v: &StockView, only: &[String]) -> Json {
    let name = v.name();
    let o = v.summary();
    json!({
        "stock": v.stock.stock,
        "name": name,
        "survey": o.survey,
        "links": o.links.iter().map(|(l, u)| json!({"label": l, "url": u})).collect::<Vec<_>>(),
        "ra": o.position.map(|p| p.0),
        "dec": o.position.map(|p| p.1),
        "position_error_deg": o.position.map(|p| p.2),
        "detections": o.detections,
        "latest": o.latest.map(|p| json!({"jd": p.jd, "band": p.band, "mag": p.mag, "mag_error": p.mag_error})),
        "results": chosen_results(v, only),
    })
}

reaction_unit!(WebhookPublisher);

impl Reactor for WebhookPublisher {
    fn destination(&self) -> &Destination {
        &self.destination
    }

    fn digest(&self, _: &T3Context, v: &StockView) -> String {
        results_digest(v, &self.cfg.t2info_from)
    }

    fn render(
        &self,
        ctx: &T3Context,
        fresh: &[(&StockView, String)],
        _: &dyn Fn(i64) -> usize,
    ) -> Vec<Message> {
        let head = |stocks: Vec<Json>| {
            json!({"channel": ctx.channel, "process": ctx.process, "run": ctx.run,
                   "selected_because": ctx.why, "stocks": stocks})
        };
        let body = |v: &StockView| stock_json(v, &self.cfg.t2info_from);
        if self.cfg.batch {
            let all = fresh.iter().map(|(v, _)| body(v)).collect();
            return vec![Message::about_all(fresh, head(all))];
        }
        fresh
            .iter()
            .map(|(v, d)| Message::about(v, d, None, head(vec![body(v)])))
            .collect()
    }
}

fn build(config: &Json, _: &UnitContext) -> Result<Box<dyn T3Unit>, UnitConfigError> {
    let cfg: WebhookPublisherConfig = parse_unit_config("WebhookPublisher", config)?;
    let destination = Destination::Http(HttpDestination {
        url: cfg.url.clone(),
        bearer: None,
        hmac: cfg.hmac_key.clone(),
        expect_ok_field: false,
        delivery: cfg.delivery.clone(),
    });
    Ok(Box::new(WebhookPublisher { cfg, destination }))
}

inventory::submit! {
    T3UnitRegistration {
        name: "WebhookPublisher",
        build,
        schema: || schemars::schema_for!(WebhookPublisherConfig),
    }
}
