//! `KafkaPublisher`: each selected stock (its latest detection and/or its
//! T2 results) to an output topic, keyed by the stock's name, as JSON or as
//! Avro with the documented schema `schemas/ampel/stock_message.avsc`
//! ([`OUTPUT_SCHEMA`]). A stock is written again only when what would be
//! written about it changed.

use super::{
    chosen_results, digest, DeliverySettings, Destination, KafkaDestination, KafkaTarget, Message,
    OutputFormat, Reactor,
};
use crate::config::{parse_unit_config, ConfigProblem, UnitConfigError, Validate};
use crate::t3::{StockView, T3Context, T3Unit, T3UnitRegistration};
use crate::units::UnitContext;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

/// The Avro schema of [`KafkaPublisher`]'s messages.
pub const OUTPUT_SCHEMA: &str = include_str!("../../../schemas/ampel/stock_message.avsc");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Include {
    /// The latest detection and the position.
    Alert,
    /// The chosen T2 results.
    T2,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KafkaPublisherConfig {
    pub kafka: KafkaTarget,
    pub topic: String,
    #[serde(default)]
    pub format: OutputFormat,
    #[serde(default = "both")]
    pub include: Vec<Include>,
    #[serde(default)]
    pub t2info_from: Vec<String>,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default = "DeliverySettings::kafka")]
    pub delivery: DeliverySettings,
}

fn both() -> Vec<Include> {
    vec![Include::Alert, Include::T2]
}

/// Kafka topic names: 1-249 of `[A-Za-z0-9._-]`, not `.` or `..`.
pub fn check_topic(topic: &str, problems: &mut Vec<ConfigProblem>) {
    let ok = !topic.is_empty()
        && topic.len() <= 249
        && topic != "."
        && topic != ".."
        && topic
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !ok {
        problems.push(ConfigProblem::new(
            "topic",
            format!("{topic:?} is not a Kafka topic name (1-249 of A-Z a-z 0-9 . _ -)"),
        ));
    }
}

impl Validate for KafkaPublisherConfig {
    fn validate(&self, problems: &mut Vec<ConfigProblem>) {
        self.kafka.check(problems);
        check_topic(&self.topic, problems);
        if self.include.is_empty() {
            problems.push(ConfigProblem::new("include", "name alert, t2 or both"));
        }
        self.delivery.check(problems);
    }
}

#[derive(Debug)]
pub struct KafkaPublisher {
    cfg: KafkaPublisherConfig,
    destination: Destination,
}

impl KafkaPublisher {
    fn message(&self, ctx: &T3Context, v: &StockView) -> Json {
        let name = v.name();
        let o = v.summary();
        let alert = self.cfg.include.contains(&Include::Alert);
        let mut m = json!({
            "schema_version": "1", "stock": v.stock.stock, "name": name, "survey": o.survey,
            "channel": ctx.channel, "process": ctx.process, "run": ctx.run,
            "ra": null, "dec": null, "detections": null, "latest": null, "results": {},
        });
        if alert {
            m["ra"] = json!(o.position.map(|p| p.0));
            m["dec"] = json!(o.position.map(|p| p.1));
            m["detections"] = json!(o.detections);
            m["latest"] = json!(o.latest.map(
                |p| json!({"jd": p.jd, "band": p.band, "mag": p.mag, "mag_error": p.mag_error})
            ));
        }
        if self.cfg.include.contains(&Include::T2) {
            m["results"] = Json::Object(chosen_results(v, &self.cfg.t2info_from));
        }
        m
    }
}

reaction_unit!(KafkaPublisher);

impl Reactor for KafkaPublisher {
    fn destination(&self) -> &Destination {
        &self.destination
    }

    fn digest(&self, ctx: &T3Context, v: &StockView) -> String {
        let mut m = self.message(ctx, v);
        // Provenance changes every run; what is said does not.
        for k in ["process", "run"] {
            m.as_object_mut().expect("object").remove(k);
        }
        digest(&m)
    }

    fn render(
        &self,
        ctx: &T3Context,
        fresh: &[(&StockView, String)],
        _: &dyn Fn(i64) -> usize,
    ) -> Vec<Message> {
        fresh
            .iter()
            .map(|(v, d)| Message::about(v, d, Some(v.name()), self.message(ctx, v)))
            .collect()
    }
}

fn build(config: &Json, _: &UnitContext) -> Result<Box<dyn T3Unit>, UnitConfigError> {
    let cfg: KafkaPublisherConfig = parse_unit_config("KafkaPublisher", config)?;
    let destination = Destination::Kafka(KafkaDestination {
        target: cfg.kafka.clone(),
        topic: cfg.topic.clone(),
        format: cfg.format,
        delivery: cfg.delivery.clone(),
    });
    Ok(Box::new(KafkaPublisher { cfg, destination }))
}

inventory::submit! {
    T3UnitRegistration {
        name: "KafkaPublisher",
        build,
        schema: || schemars::schema_for!(KafkaPublisherConfig),
    }
}
