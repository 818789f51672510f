//! `GcnNoticePublisher`: a JSON notice per selected stock to a GCN Kafka
//! topic (`gcn.notices.<producer>...`), with the field names of GCN's
//! unified JSON schema core (`gcn.nasa.gov/docs/notices/schema`): alert
//! metadata (`mission`, `instrument`, `messenger`, `alert_datetime`,
//! `alert_tense`, `alert_type`, `record_number`, `id`), localization
//! (`ra`, `dec`, `ra_dec_error`, `containment_probability`),
//! `classification` (class -> probability), `trigger_time` and the latest
//! photometry, plus `additional_info` (why it was selected). The first
//! notice about a stock is `initial`, later ones (its classification or
//! results changed) `update` with the next `record_number`.
//!
//! Connection: GCN's Kafka is SASL_SSL with OAUTHBEARER from OIDC client
//! credentials (`kafka.oidc`); tests use a plain local broker.

use super::{
    chosen_results, digest, DeliverySettings, Destination, KafkaDestination, KafkaTarget, Message,
    OutputFormat, Reactor,
};
use crate::config::{parse_unit_config, ConfigProblem, UnitConfigError, Validate};
use crate::t3::{StockView, T3Context, T3Unit, T3UnitRegistration};
use crate::units::UnitContext;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

/// Where a class probability comes from: a T2 unit's result field; a
/// number is the probability, `true`/`false` count as 1/0.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassSource {
    pub label: String,
    pub unit: String,
    pub field: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Tense {
    Current,
    Test,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GcnNoticePublisherConfig {
    pub kafka: KafkaTarget,
    /// `gcn.notices.<producer>[.<stream>]`.
    pub topic: String,
    #[serde(default = "default_mission")]
    pub mission: String,
    /// `test` for notices that must not be acted upon.
    #[serde(default = "default_tense")]
    pub alert_tense: Tense,
    #[serde(default)]
    pub classification: Vec<ClassSource>,
    /// Fraction of the position's probability inside `ra_dec_error`.
    #[serde(default = "default_containment")]
    pub containment_probability: f64,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default = "DeliverySettings::kafka")]
    pub delivery: DeliverySettings,
}

fn default_mission() -> String {
    "AMPEL".into()
}
fn default_tense() -> Tense {
    Tense::Current
}
fn default_containment() -> f64 {
    0.68
}

impl Validate for GcnNoticePublisherConfig {
    fn validate(&self, problems: &mut Vec<ConfigProblem>) {
        self.kafka.check(problems);
        super::kafka::check_topic(&self.topic, problems);
        if !self.topic.starts_with("gcn.notices.") {
            problems.push(ConfigProblem::new(
                "topic",
                format!(
                    "{:?}: GCN notice topics are named gcn.notices.<producer>...",
                    self.topic
                ),
            ));
        }
        if !(self.containment_probability > 0.0 && self.containment_probability <= 1.0) {
            problems.push(ConfigProblem::new(
                "containment_probability",
                "must be in (0, 1]",
            ));
        }
        self.delivery.check(problems);
    }
}

#[derive(Debug)]
pub struct GcnNoticePublisher {
    cfg: GcnNoticePublisherConfig,
    destination: Destination,
}

/// ISO 8601 UTC (`2023-10-18T08:10:03.123Z`) of a unix time.
pub fn iso8601(unix: f64) -> String {
    let ms = (unix * 1000.0).round() as i64;
    let (days, msod) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let s = msod / 1000;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        s / 3600,
        s / 60 % 60,
        s % 60,
        msod % 1000
    )
}

/// Unix seconds of a Julian date.
pub fn jd_to_unix(jd: f64) -> f64 {
    (jd - 2_440_587.5) * 86_400.0
}

impl GcnNoticePublisher {
    fn classification(&self, v: &StockView) -> Map<String, Json> {
        let mut out = Map::new();
        for c in &self.cfg.classification {
            let p = v
                .results
                .get(&c.unit)
                .and_then(|b| crate::t3::query::get(b, &c.field))
                .and_then(|x| match x {
                    Json::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
                    Json::Number(n) => n.as_f64().filter(|p| (0.0..=1.0).contains(p)),
                    _ => None,
                });
            if let Some(p) = p {
                out.insert(c.label.clone(), json!(p));
            }
        }
        out
    }

    fn notice(&self, ctx: &T3Context, v: &StockView, record: usize) -> Json {
        let name = v.name();
        let o = v.summary();
        let mut n = json!({
            "mission": self.cfg.mission,
            "instrument": o.survey,
            "messenger": "EM",
            "record_number": record,
            "alert_datetime": iso8601(ctx.now),
            "alert_tense": match self.cfg.alert_tense { Tense::Current => "current", Tense::Test => "test" },
            "alert_type": if record == 1 { "initial" } else { "update" },
            "id": [name],
            "classification": self.classification(v),
            "additional_info": format!("AMPEL channel {}, process {}, run {}: selected because {}",
                ctx.channel, ctx.process, ctx.run, ctx.why),
        });
        if let Some((ra, dec, err)) = o.position {
            n["ra"] = json!(ra);
            n["dec"] = json!(dec);
            n["ra_dec_error"] = json!(err);
            n["containment_probability"] = json!(self.cfg.containment_probability);
        }
        if let Some(first) = o.first_jd {
            n["trigger_time"] = json!(iso8601(jd_to_unix(first)));
        }
        if let Some(p) = o.latest {
            n["photometry"] = json!({
                "time": iso8601(jd_to_unix(p.jd)), "filter": p.band, "mag": p.mag,
                "mag_error": p.mag_error, "mag_system": "AB",
            });
        }
        n
    }
}

reaction_unit!(GcnNoticePublisher);

impl Reactor for GcnNoticePublisher {
    fn destination(&self) -> &Destination {
        &self.destination
    }

    fn digest(&self, _: &T3Context, v: &StockView) -> String {
        digest(
            &json!({"name": v.name(), "classification": self.classification(v),
            "results": chosen_results(v, &[])}),
        )
    }

    fn render(
        &self,
        ctx: &T3Context,
        fresh: &[(&StockView, String)],
        sent_before: &dyn Fn(i64) -> usize,
    ) -> Vec<Message> {
        fresh
            .iter()
            .map(|(v, d)| {
                let record = sent_before(v.stock.stock) + 1;
                Message::about(v, d, Some(v.name()), self.notice(ctx, v, record))
            })
            .collect()
    }
}

fn build(config: &Json, _: &UnitContext) -> Result<Box<dyn T3Unit>, UnitConfigError> {
    let cfg: GcnNoticePublisherConfig = parse_unit_config("GcnNoticePublisher", config)?;
    let destination = Destination::Kafka(KafkaDestination {
        target: cfg.kafka.clone(),
        topic: cfg.topic.clone(),
        format: OutputFormat::Json,
        delivery: cfg.delivery.clone(),
    });
    Ok(Box::new(GcnNoticePublisher { cfg, destination }))
}

inventory::submit! {
    T3UnitRegistration {
        name: "GcnNoticePublisher",
        build,
        schema: || schemars::schema_for!(GcnNoticePublisherConfig),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates_and_julian_dates() {
        assert_eq!(iso8601(0.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_697_616_603.25), "2023-10-18T08:10:03.250Z");
        assert_eq!(iso8601(951_782_400.0), "2000-02-29T00:00:00.000Z");
        assert_eq!(jd_to_unix(2_440_587.5), 0.0);
    }
}
