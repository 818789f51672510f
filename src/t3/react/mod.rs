//! Reactions: T3 units that act on the world (Slack, GCN notices, Kafka
//! topics, webhooks). They are written as an *outbox*: a T3 run only
//! decides what to say and stores each message as a reaction document, in
//! the same archive write as its t3 document; the runtime's couriers then
//! deliver them (`ampel-actors`, `react/`). So
//! - a T3 run never waits on a slow or failing destination, and T0-T2
//!   never wait on T3;
//! - what was decided is durable before anything is sent, and a reaction
//!   that finally fails stays in the archive and is re-armed by the next
//!   run of its process, never silently dropped;
//! - every message says, per stock, a *digest* of what it says; a stock
//!   whose digest this destination already has is not sent again, so a
//!   re-run, a restart or a replay repeats nothing ("one message per stock
//!   per channel unless its selected results changed").
//!
//! The core builds payloads (pure functions of the stocks); it sends
//! nothing and resolves no secret: the destination carries references
//! ([`secret::Secret`]), resolved by the courier.

/// The `T3Unit` side of a reaction unit (a struct with a `cfg.dry_run`):
/// the T3 run takes its [`Reactor`] and never calls `process`.
macro_rules! reaction_unit {
    ($unit:ident) => {
        impl crate::t3::T3Unit for $unit {
            fn process(
                &self,
                _: &crate::t3::T3Context,
                _: &[crate::t3::StockView],
            ) -> Result<serde_json::Value, String> {
                Err(concat!(
                    stringify!($unit),
                    " is a reaction unit: it runs through the outbox"
                )
                .into())
            }
            fn reactor(&self) -> Option<&dyn super::Reactor> {
                Some(self)
            }
            fn dry_run(&self) -> bool {
                self.cfg.dry_run
            }
        }
    };
}

pub mod delivery;
mod gcn;
mod kafka;
pub mod secret;
mod sign;
mod slack;
mod webhook;

pub use delivery::{Attempt, DeliverySettings, RateLimit};
pub use gcn::{iso8601, GcnNoticePublisher, GcnNoticePublisherConfig};
pub use kafka::{KafkaPublisher, KafkaPublisherConfig, OUTPUT_SCHEMA};
pub use secret::{Secret, SecretValue, UrlSource};
pub use sign::{signature_header, SIGNATURE_HEADER};
pub use slack::{SlackPublisher, SlackPublisherConfig};
pub use webhook::{WebhookPublisher, WebhookPublisherConfig};

use super::{StockView, T3Context};
use crate::config::ConfigProblem;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// Where a reaction unit's messages go. Holds references to secrets only.
#[derive(Debug, Clone, PartialEq)]
pub enum Destination {
    Http(HttpDestination),
    Kafka(KafkaDestination),
}

impl Destination {
    pub fn delivery(&self) -> &DeliverySettings {
        match self {
            Destination::Http(h) => &h.delivery,
            Destination::Kafka(k) => &k.delivery,
        }
    }
}

/// A JSON POST.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpDestination {
    pub url: UrlSource,
    /// `Authorization: Bearer <token>` (Slack's chat.postMessage).
    pub bearer: Option<Secret>,
    /// Signs the body with HMAC-SHA256 (the `sign` module: a Stripe-style `t=...,v1=...` header).
    pub hmac: Option<Secret>,
    /// The answer must be JSON with `"ok": true` (Slack's Web API answers
    /// HTTP 200 with `ok: false` on errors).
    pub expect_ok_field: bool,
    pub delivery: DeliverySettings,
}

/// Messages to a Kafka topic.
#[derive(Debug, Clone, PartialEq)]
pub struct KafkaDestination {
    pub target: KafkaTarget,
    pub topic: String,
    pub format: OutputFormat,
    pub delivery: DeliverySettings,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    #[default]
    Json,
    /// Avro binary with [`OUTPUT_SCHEMA`].
    Avro,
}

/// How to reach a Kafka cluster for output: plain (tests, a local broker)
/// or SASL_SSL with OAUTHBEARER through OIDC client credentials (GCN's
/// Kafka: `kafka.gcn.nasa.gov`, token URL `https://auth.gcn.nasa.gov/oauth2/token`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KafkaTarget {
    pub brokers: String,
    #[serde(default)]
    pub oidc: Option<OidcCredentials>,
    /// Extra librdkafka properties (no secrets: they would be stored).
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OidcCredentials {
    pub client_id: Secret,
    pub client_secret: Secret,
    pub token_url: String,
    #[serde(default)]
    pub scope: Option<String>,
}

impl KafkaTarget {
    pub fn check(&self, problems: &mut Vec<ConfigProblem>) {
        if self.brokers.trim().is_empty() {
            problems.push(ConfigProblem::new("kafka.brokers", "must name a broker"));
        }
        if let Some(o) = &self.oidc {
            o.client_id.check("kafka.oidc.client_id", problems);
            o.client_secret.check("kafka.oidc.client_secret", problems);
        }
        for k in self.properties.keys() {
            let l = k.to_ascii_lowercase();
            if l.contains("password") || l.contains("secret") || l.contains("token") {
                problems.push(ConfigProblem::new(
                    format!("kafka.properties.{k}"),
                    "looks like a credential: give it through kafka.oidc as a secret reference",
                ));
            }
        }
    }
}

/// One message a unit wants sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The stocks it speaks about, with the digest of what it says of each.
    pub items: Vec<(i64, String)>,
    /// Kafka message key (the stock), unused for HTTP.
    pub key: Option<String>,
    pub payload: Json,
}

impl Message {
    /// A message about one stock.
    pub fn about(stock: &StockView, digest: &str, key: Option<String>, payload: Json) -> Self {
        Message {
            items: vec![(stock.stock.stock, digest.to_string())],
            key,
            payload,
        }
    }

    /// One message about all the fresh stocks (a batch).
    pub fn about_all(fresh: &[(&StockView, String)], payload: Json) -> Self {
        Message {
            items: fresh
                .iter()
                .map(|(v, d)| (v.stock.stock, d.clone()))
                .collect(),
            key: None,
            payload,
        }
    }
}

/// A T3 unit that reacts.
pub trait Reactor: Send + Sync {
    fn destination(&self) -> &Destination;

    /// What this unit would say about `stock`, reduced to a digest: when the
    /// destination already has it, the stock is not sent again.
    fn digest(&self, ctx: &T3Context, stock: &StockView) -> String;

    /// The messages for the stocks whose digest is new; `sent_before(stock)`
    /// is how many messages this destination already has about a stock.
    fn render(
        &self,
        ctx: &T3Context,
        fresh: &[(&StockView, String)],
        sent_before: &dyn Fn(i64) -> usize,
    ) -> Vec<Message>;
}

/// Digest of a JSON value (stable: serde_json keeps key order as built).
pub fn digest(v: &Json) -> String {
    format!(
        "{:016x}",
        xxhash_rust::xxh3::xxh3_64(v.to_string().as_bytes())
    )
}

/// The id of a reaction: its destination and what it covers. The same
/// message planned twice has the same id, so it is stored once.
pub fn reaction_id(destination: &str, items: &[(i64, String)]) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(destination.as_bytes());
    for (s, d) in items {
        h.update(&s.to_le_bytes());
        h.update(d.as_bytes());
    }
    format!("{:032x}", h.digest128())
}

/// The selected T2 results a unit reports (all when `only` is empty).
pub fn chosen_results(stock: &StockView, only: &[String]) -> serde_json::Map<String, Json> {
    stock
        .results
        .iter()
        .filter(|(k, _)| only.is_empty() || only.contains(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Digest of a stock's name and chosen results: a message about it is
/// sent again only when these changed.
pub fn results_digest(stock: &StockView, only: &[String]) -> String {
    digest(&serde_json::json!({"name": stock.name(), "results": chosen_results(stock, only)}))
}
