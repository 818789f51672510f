//! `ampel produce`: alerts from files and archives into a Kafka topic, each
//! in its survey's wire format: a ZTF alert as its Avro container file (as
//! IPAC publishes them), a Rubin alert as a Confluent frame (`0x00`, schema
//! id, datum). Messages are keyed by stock id, so one stock's alerts share
//! a partition and keep their order.

use super::SummarizingContext;
use ampel::alert::Survey;
use ampel::avro::SchemaRegistry;
use ampel::source::{for_each_alert, Origin};
use ampel::AlertDecoder;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde::Serialize;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Default, Serialize)]
pub struct ProduceSummary {
    pub produced: u64,
    pub failed: u64,
    pub bytes: u64,
}

fn send(
    producer: &BaseProducer<SummarizingContext>,
    topic: &str,
    key: &str,
    payload: &[u8],
) -> Result<(), KafkaError> {
    let mut record = BaseRecord::to(topic).key(key).payload(payload);
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                record = r;
                producer.poll(Duration::from_millis(50));
            }
            Err((e, _)) => return Err(e),
        }
    }
}

/// Produces every alert under `paths`; a record that cannot be decoded is
/// reported (with its origin) and skipped. `report` receives those errors.
pub fn produce(
    brokers: &str,
    topic: &str,
    properties: &[(String, String)],
    paths: &[PathBuf],
    registry: &SchemaRegistry,
    report: &mut dyn FnMut(&Origin, &str),
) -> Result<ProduceSummary, KafkaError> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", brokers)
        .set("message.timeout.ms", "60000")
        .set("linger.ms", "5")
        .set("acks", "all");
    for (k, v) in properties {
        cfg.set(k, v);
    }
    let producer: BaseProducer<SummarizingContext> =
        cfg.create_with_context(SummarizingContext::default())?;
    let decoder = AlertDecoder::new().keep_raw(true);
    let mut summary = ProduceSummary::default();
    let mut fatal = None;
    for_each_alert(paths, |item| {
        let raw = match item {
            Ok(r) => r,
            Err(e) => {
                summary.failed += 1;
                report(
                    &e.origin().cloned().unwrap_or(Origin {
                        path: PathBuf::new(),
                        member: None,
                        offset: None,
                    }),
                    &e.to_string(),
                );
                return ControlFlow::Continue(());
            }
        };
        let alerts = match decoder.decode(raw.bytes.clone()) {
            Ok(a) => a,
            Err(e) => {
                summary.failed += 1;
                report(&raw.origin, &e.to_string());
                return ControlFlow::Continue(());
            }
        };
        let Some(first) = alerts.first() else {
            return ControlFlow::Continue(());
        };
        let result = match first.survey {
            // ZTF: the container file as published.
            Survey::Ztf => {
                summary.bytes += raw.bytes.len() as u64;
                send(&producer, topic, &first.stock.to_string(), &raw.bytes).map(|()| 1)
            }
            // Rubin: one Confluent frame per alert.
            Survey::Lsst => {
                let mut n = 0;
                let mut r = Ok(0);
                for a in &alerts {
                    let raw_datum = a.raw.as_ref().expect("decoder keeps raw datums");
                    let Some(id) = registry.id_for_name(&raw_datum.schema.name) else {
                        report(
                            &raw.origin,
                            &format!("no schema id registered for {}", raw_datum.schema.name),
                        );
                        summary.failed += 1;
                        continue;
                    };
                    let mut frame = Vec::with_capacity(5 + raw_datum.datum.len());
                    frame.push(0);
                    frame.extend_from_slice(&id.to_be_bytes());
                    frame.extend_from_slice(&raw_datum.datum);
                    summary.bytes += frame.len() as u64;
                    if let Err(e) = send(&producer, topic, &a.stock.to_string(), &frame) {
                        r = Err(e);
                        break;
                    }
                    n += 1;
                }
                r.map(|_| n)
            }
        };
        match result {
            Ok(n) => {
                summary.produced += n;
                producer.poll(Duration::ZERO);
                ControlFlow::Continue(())
            }
            Err(e) => {
                fatal = Some(e);
                ControlFlow::Break(())
            }
        }
    });
    producer.flush(Duration::from_secs(60))?;
    match fatal {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}
