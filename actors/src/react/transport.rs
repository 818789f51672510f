//! How a courier sends: a JSON POST (Slack, webhooks) or a Kafka message
//! (GCN notices, output topics). Built once per destination, resolving its
//! secrets; every error text is free of them (reqwest's errors name the
//! URL, which for a Slack webhook *is* the secret, so it is removed).

use ampel::store::ReactionDoc;
use ampel::t3::react::delivery::classify_http;
use ampel::t3::react::secret::secrets_dir;
use ampel::t3::react::{
    signature_header, Attempt, Destination, HttpDestination, KafkaDestination, OutputFormat,
    SecretValue, OUTPUT_SCHEMA, SIGNATURE_HEADER,
};
use anyhow::Context as _;
use rdkafka::config::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::Value as Json;
use std::time::Duration;

pub enum Transport {
    Http(HttpTransport),
    Kafka(KafkaTransport),
}

pub struct HttpTransport {
    client: reqwest::Client,
    url: SecretValue,
    bearer: Option<SecretValue>,
    hmac: Option<SecretValue>,
    expect_ok_field: bool,
    timeout: Duration,
}

pub struct KafkaTransport {
    producer: FutureProducer,
    topic: String,
    avro: Option<apache_avro::Schema>,
    timeout: Duration,
}

impl Transport {
    /// Builds the transport of `id`, resolving its secrets now so that a
    /// missing one stops the start with a message naming it.
    pub fn build(id: &str, d: &Destination) -> anyhow::Result<Transport> {
        let dir = secrets_dir();
        match d {
            Destination::Http(h) => http(h, &dir).map(Transport::Http),
            Destination::Kafka(k) => kafka(k, &dir).map(Transport::Kafka),
        }
        .with_context(|| format!("reaction destination {id}"))
    }

    pub async fn send(&self, r: &ReactionDoc) -> Attempt {
        match self {
            Transport::Http(h) => h.send(r).await,
            Transport::Kafka(k) => k.send(r).await,
        }
    }
}

fn http(h: &HttpDestination, dir: &std::path::Path) -> anyhow::Result<HttpTransport> {
    let timeout = Duration::from_secs_f64(h.delivery.timeout_seconds);
    Ok(HttpTransport {
        client: reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("ampel/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("HTTP client")?,
        url: h.url.resolve(dir)?,
        bearer: h.bearer.as_ref().map(|s| s.resolve(dir)).transpose()?,
        hmac: h.hmac.as_ref().map(|s| s.resolve(dir)).transpose()?,
        expect_ok_field: h.expect_ok_field,
        timeout,
    })
}

fn now() -> f64 {
    ampel::run::now()
}

impl HttpTransport {
    async fn send(&self, r: &ReactionDoc) -> Attempt {
        let body = serde_json::to_vec(&r.payload).expect("JSON serialises");
        let mut req = self
            .client
            .post(self.url.expose())
            .timeout(self.timeout)
            .header("content-type", "application/json")
            .header("idempotency-key", &r.id);
        if let Some(t) = &self.bearer {
            req = req.bearer_auth(t.expose());
        }
        if let Some(k) = &self.hmac {
            let t = now() as u64;
            req = req.header(
                SIGNATURE_HEADER,
                signature_header(k.expose().as_bytes(), t, &body),
            );
        }
        let resp = match req.body(body).send().await {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Retry {
                    error: describe(&e, self.timeout),
                    retry_after: None,
                }
            }
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let attempt = classify_http(status, retry_after.as_deref(), now());
        if attempt != Attempt::Delivered || !self.expect_ok_field {
            return attempt;
        }
        // Slack's Web API: HTTP 200 with {"ok": false, "error": "..."}.
        let text = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => {
                return Attempt::Retry {
                    error: describe(&e, self.timeout),
                    retry_after: None,
                }
            }
        };
        let j: Json = serde_json::from_slice(&text).unwrap_or(Json::Null);
        if j.get("ok") == Some(&Json::Bool(true)) {
            return Attempt::Delivered;
        }
        let error = j
            .get("error")
            .and_then(Json::as_str)
            .unwrap_or("answer without ok: true")
            .to_string();
        if matches!(
            error.as_str(),
            "ratelimited"
                | "internal_error"
                | "fatal_error"
                | "service_unavailable"
                | "request_timeout"
        ) {
            Attempt::Retry {
                error: format!("Slack: {error}"),
                retry_after: None,
            }
        } else {
            Attempt::Rejected {
                error: format!("Slack: {error}"),
            }
        }
    }
}

/// A reqwest error without its URL.
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        format!("no answer within {:.1} s", timeout.as_secs_f64())
    } else if e.is_connect() {
        "could not connect".to_string()
    } else {
        // The cause (hyper's, io's) says what went wrong and carries no URL.
        match std::error::Error::source(e) {
            Some(c) => format!("request failed: {c}"),
            None => "request failed".to_string(),
        }
    }
}

fn kafka(k: &KafkaDestination, dir: &std::path::Path) -> anyhow::Result<KafkaTransport> {
    let timeout = Duration::from_secs_f64(k.delivery.timeout_seconds);
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &k.target.brokers)
        .set(
            "message.timeout.ms",
            (timeout.as_millis() as u64).max(1).to_string(),
        )
        .set("enable.idempotence", "true")
        .set("linger.ms", "5");
    let mut secrets = Vec::new();
    if let Some(o) = &k.target.oidc {
        let (id, secret) = (o.client_id.resolve(dir)?, o.client_secret.resolve(dir)?);
        c.set("security.protocol", "sasl_ssl")
            .set("sasl.mechanisms", "OAUTHBEARER")
            .set("sasl.oauthbearer.method", "oidc")
            .set("sasl.oauthbearer.client.id", id.expose())
            .set("sasl.oauthbearer.client.secret", secret.expose())
            .set("sasl.oauthbearer.token.endpoint.url", &o.token_url);
        secrets.extend([id, secret]);
        if let Some(s) = &o.scope {
            c.set("sasl.oauthbearer.scope", s);
        }
    }
    for (key, v) in &k.target.properties {
        c.set(key, v);
    }
    // librdkafka's config errors quote the offending value: keep secret
    // ones out of the message.
    let producer: FutureProducer = c.create().map_err(|e| {
        let mut text = e.to_string();
        for s in &secrets {
            text = text.replace(s.expose(), "***");
        }
        anyhow::anyhow!("Kafka producer: {text}")
    })?;
    let avro = match k.format {
        OutputFormat::Avro => {
            Some(apache_avro::Schema::parse_str(OUTPUT_SCHEMA).context("output schema")?)
        }
        OutputFormat::Json => None,
    };
    Ok(KafkaTransport {
        producer,
        topic: k.topic.clone(),
        avro,
        timeout,
    })
}

/// The Avro datum of a `StockMessage` payload: the JSON with its results
/// as JSON text, resolved against the schema.
pub fn avro_datum(schema: &apache_avro::Schema, payload: &Json) -> anyhow::Result<Vec<u8>> {
    let mut p = payload.clone();
    if let Some(Json::Object(results)) = p.get_mut("results") {
        for v in results.values_mut() {
            *v = Json::String(v.to_string());
        }
    }
    let value = apache_avro::types::Value::from(p)
        .resolve(schema)
        .context("payload does not fit the output schema")?;
    apache_avro::to_avro_datum(schema, value).context("Avro encoding")
}

impl KafkaTransport {
    async fn send(&self, r: &ReactionDoc) -> Attempt {
        let bytes = match &self.avro {
            Some(schema) => match avro_datum(schema, &r.payload) {
                Ok(b) => b,
                Err(e) => {
                    return Attempt::Rejected {
                        error: format!("{e:#}"),
                    }
                }
            },
            None => serde_json::to_vec(&r.payload).expect("JSON serialises"),
        };
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "ampel-reaction-id",
                value: Some(r.id.as_str()),
            })
            .insert(Header {
                key: "content-type",
                value: Some(if self.avro.is_some() {
                    "avro/binary; schema=ampel.output.StockMessage"
                } else {
                    "application/json"
                }),
            });
        let key = r.key.clone().unwrap_or_default();
        let record = FutureRecord::to(&self.topic)
            .payload(&bytes)
            .key(&key)
            .headers(headers);
        match self.producer.send(record, self.timeout).await {
            Ok(_) => Attempt::Delivered,
            Err((e, _)) => Attempt::Retry {
                error: format!("Kafka: {e}"),
                retry_after: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ampel::t3::react::{DeliverySettings, KafkaTarget, OidcCredentials, Secret};

    /// GCN's connection settings build a producer: librdkafka is built with
    /// SSL and libcurl, so SASL_SSL with OIDC is accepted (connecting to
    /// GCN itself is out of reach here).
    #[test]
    fn gcn_style_oidc_settings_build_a_producer_and_secrets_stay_out_of_errors() {
        std::env::set_var("AMPEL_TEST_GCN_ID", "client-id");
        std::env::set_var("AMPEL_TEST_GCN_SECRET", "client-5ecret");
        let d = Destination::Kafka(KafkaDestination {
            target: KafkaTarget {
                brokers: "kafka.gcn.nasa.gov:9092".into(),
                oidc: Some(OidcCredentials {
                    client_id: Secret::env("AMPEL_TEST_GCN_ID"),
                    client_secret: Secret::env("AMPEL_TEST_GCN_SECRET"),
                    token_url: "https://auth.gcn.nasa.gov/oauth2/token".into(),
                    scope: None,
                }),
                properties: Default::default(),
            },
            topic: "gcn.notices.ampel.test".into(),
            format: OutputFormat::Json,
            delivery: DeliverySettings::kafka(),
        });
        if let Err(e) = Transport::build("GcnNoticePublisher:1", &d) {
            panic!("{e:#}");
        }
        let Destination::Kafka(mut k) = d else {
            unreachable!()
        };
        // An unknown mechanism makes librdkafka refuse the config, quoting
        // properties; the secret must not come back in the message.
        k.target
            .properties
            .insert("sasl.mechanisms".into(), "client-5ecret".into());
        let e = format!(
            "{:#}",
            Transport::build("GcnNoticePublisher:1", &Destination::Kafka(k))
                .err()
                .unwrap()
        );
        assert!(e.contains("GcnNoticePublisher:1"), "{e}");
        assert!(!e.contains("client-5ecret"), "{e}");
    }
}
