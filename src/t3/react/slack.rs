//! `SlackPublisher`: a Block Kit message per selected stock (its name
//! linked to its survey pages, position, light-curve summary, the
//! channel's chosen T2 results and why it was selected), or one summary
//! message when more than `batch_above` stocks are new at once. Sent
//! through an incoming webhook or `chat.postMessage` with a bot token.
//! A stock is posted again only when its chosen results changed.

use super::{
    chosen_results, results_digest, DeliverySettings, Destination, HttpDestination, Message,
    Reactor, Secret, UrlSource,
};
use crate::config::{parse_unit_config, ConfigProblem, UnitConfigError, Validate};
use crate::survey::summary::ObjectSummary;
use crate::t3::{StockView, T3Context, T3Unit, T3UnitRegistration};
use crate::units::UnitContext;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

#[derive(Debug, Clone, Deserialize, Serialize, Default, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlackPublisherConfig {
    /// An incoming-webhook URL (it is a credential: give it as a secret).
    #[serde(default)]
    pub webhook: Option<Secret>,
    /// Or a bot token for `chat.postMessage`, with `slack_channel`.
    #[serde(default)]
    pub bot_token: Option<Secret>,
    #[serde(default)]
    pub slack_channel: Option<String>,
    /// Slack's Web API root (a test server's address in tests).
    #[serde(default = "default_api")]
    pub api_url: String,
    /// T2 units whose latest results are shown (all when empty).
    #[serde(default)]
    pub t2info_from: Vec<String>,
    /// More new stocks than this in one run: one summary message.
    #[serde(default = "default_batch")]
    pub batch_above: usize,
    /// Build the messages and keep them in the t3 document; send nothing.
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub delivery: DeliverySettings,
}

fn default_api() -> String {
    "https://slack.com/api".into()
}

fn default_batch() -> usize {
    10
}

impl Validate for SlackPublisherConfig {
    fn validate(&self, problems: &mut Vec<ConfigProblem>) {
        match (&self.webhook, &self.bot_token, &self.slack_channel) {
            (Some(w), None, None) => w.check("webhook", problems),
            (None, Some(t), Some(_)) => t.check("bot_token", problems),
            (None, Some(_), None) => problems.push(ConfigProblem::new(
                "slack_channel",
                "chat.postMessage needs the Slack channel to post to",
            )),
            _ => problems.push(ConfigProblem::new(
                "webhook",
                "give either webhook, or bot_token with slack_channel",
            )),
        }
        self.delivery.check(problems);
    }
}

#[derive(Debug)]
pub struct SlackPublisher {
    cfg: SlackPublisherConfig,
    destination: Destination,
}

fn mrkdwn(text: String) -> Json {
    json!({"type": "mrkdwn", "text": text})
}

fn clip(s: String, n: usize) -> String {
    if s.chars().count() <= n {
        s
    } else {
        s.chars().take(n - 1).collect::<String>() + "…"
    }
}

/// `ZTF23abc` linked to its first page, then the others.
fn linked_name(name: &str, o: &ObjectSummary) -> String {
    let mut parts: Vec<String> = Vec::new();
    for (i, (label, url)) in o.links.iter().enumerate() {
        parts.push(if i == 0 {
            format!("*<{url}|{name}>*")
        } else {
            format!("<{url}|{label}>")
        });
    }
    if parts.is_empty() {
        format!("*{name}*")
    } else {
        parts.join(" · ")
    }
}

fn where_and_what(o: &ObjectSummary) -> String {
    let pos = o
        .position
        .map_or("position unknown".to_string(), |(ra, dec, e)| {
            format!("RA {ra:.5} Dec {dec:+.5} (±{:.2}\")", e * 3600.0)
        });
    let lc = match &o.latest {
        Some(p) => format!(
            "{} detections; latest {} {:.2}{} at JD {:.5}",
            o.detections,
            p.band,
            p.mag,
            p.mag_error.map_or(String::new(), |e| format!(" ± {e:.2}")),
            p.jd
        ),
        None => format!("{} detections", o.detections),
    };
    format!("{pos}\n{lc}")
}

impl SlackPublisher {
    fn with_channel(&self, mut m: Json) -> Json {
        if let Some(c) = &self.cfg.slack_channel {
            m["channel"] = json!(c);
        }
        m
    }

    fn one(&self, ctx: &T3Context, v: &StockView, update: bool) -> Json {
        let name = v.name();
        let o = v.summary();
        let fields: Vec<Json> = chosen_results(v, &self.cfg.t2info_from)
            .into_iter()
            .take(10)
            .map(|(unit, body)| mrkdwn(clip(format!("*{unit}*\n`{body}`"), 1900)))
            .collect();
        let mut blocks = vec![
            json!({"type": "header", "text": {"type": "plain_text",
                "text": clip(format!("{name}{}", if update { " (updated)" } else { "" }), 150)}}),
            json!({"type": "section", "text": mrkdwn(format!("{}\n{}", linked_name(&name, &o), where_and_what(&o)))}),
        ];
        if !fields.is_empty() {
            blocks.push(json!({"type": "section", "fields": fields}));
        }
        blocks.push(json!({"type": "context", "elements": [mrkdwn(clip(format!(
            "{} · {} · selected because {}", ctx.channel, ctx.process, ctx.why), 2000))]}));
        self.with_channel(json!({
            "text": format!("{name} selected by {}", ctx.channel),
            "blocks": blocks,
        }))
    }

    fn batch(&self, ctx: &T3Context, fresh: &[(&StockView, String)]) -> Json {
        const SHOWN: usize = 40;
        let lines: Vec<String> = fresh
            .iter()
            .take(SHOWN)
            .map(|(v, _)| {
                let o = v.summary();
                let name = v.name();
                let mag = o
                    .latest
                    .as_ref()
                    .map_or(String::new(), |p| format!(" · {} {:.2}", p.band, p.mag));
                let pos = o.position.map_or(String::new(), |(ra, dec, _)| {
                    format!(" · {ra:.5} {dec:+.5}")
                });
                format!("• {}{pos}{mag}", linked_name(&name, &o))
            })
            .collect();
        let more = fresh.len().saturating_sub(SHOWN);
        let mut text = lines.join("\n");
        if more > 0 {
            text.push_str(&format!("\n…and {more} more"));
        }
        self.with_channel(json!({
            "text": format!("{} transients selected by {}", fresh.len(), ctx.channel),
            "blocks": [
                {"type": "header", "text": {"type": "plain_text",
                    "text": clip(format!("{} transients selected by {}", fresh.len(), ctx.channel), 150)}},
                {"type": "section", "text": mrkdwn(clip(text, 2900))},
                {"type": "context", "elements": [mrkdwn(clip(format!(
                    "{} · selected because {}", ctx.process, ctx.why), 2000))]},
            ],
        }))
    }
}

reaction_unit!(SlackPublisher);

impl Reactor for SlackPublisher {
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
        sent_before: &dyn Fn(i64) -> usize,
    ) -> Vec<Message> {
        if fresh.len() > self.cfg.batch_above {
            return vec![Message::about_all(fresh, self.batch(ctx, fresh))];
        }
        fresh
            .iter()
            .map(|(v, d)| {
                Message::about(v, d, None, self.one(ctx, v, sent_before(v.stock.stock) > 0))
            })
            .collect()
    }
}

fn build(config: &Json, _: &UnitContext) -> Result<Box<dyn T3Unit>, UnitConfigError> {
    let cfg: SlackPublisherConfig = parse_unit_config("SlackPublisher", config)?;
    let (url, bearer, expect_ok_field) = match (&cfg.webhook, &cfg.bot_token) {
        (Some(w), _) => (UrlSource::Secret(w.clone()), None, false),
        (None, Some(t)) => (
            UrlSource::Plain(format!(
                "{}/chat.postMessage",
                cfg.api_url.trim_end_matches('/')
            )),
            Some(t.clone()),
            true,
        ),
        (None, None) => unreachable!("validated"),
    };
    let destination = Destination::Http(HttpDestination {
        url,
        bearer,
        hmac: None,
        expect_ok_field,
        delivery: cfg.delivery.clone(),
    });
    Ok(Box::new(SlackPublisher { cfg, destination }))
}

inventory::submit! {
    T3UnitRegistration {
        name: "SlackPublisher",
        build,
        schema: || schemars::schema_for!(SlackPublisherConfig),
    }
}
