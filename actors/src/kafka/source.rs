//! Alerts from Kafka: a consumer in a consumer group, topics by name or
//! regex, offsets committed only when the pipeline says the messages are
//! durably stored (`MessageSource::stored`). SIGTERM (or Ctrl-C) ends a
//! run gracefully: nothing more is taken, what was taken is stored and
//! committed, T2 and T3 run, and the exit status is 0. A restarted process resumes at
//! the last committed offset; messages delivered again after a crash are
//! written idempotently (keyed documents).

use ampel::job::KafkaSourceConfig;
use ampel::run::{MessageSource, Poll};
use ampel::source::{Origin, RawAlert, SourceError};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Message, Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a source saw, readable after the run (the source itself moves into
/// the pipeline).
#[derive(Debug, Default)]
pub struct SourceHealth {
    pub delivered: std::sync::atomic::AtomicU64,
    pub errors: std::sync::atomic::AtomicU64,
    pub last_error: std::sync::Mutex<Option<String>>,
}

pub struct KafkaSource {
    consumer: BaseConsumer,
    health: Arc<SourceHealth>,
    /// Set by SIGTERM/SIGINT: stop taking messages, let the run store,
    /// commit and finish.
    stop: Arc<AtomicBool>,
    /// Next offset to commit per (topic, partition): last delivered + 1.
    pending: BTreeMap<(String, i32), i64>,
    last_message: Instant,
    idle_stop: Duration,
    last_error_log: Option<Instant>,
}

/// Applies AMPEL_KAFKA_BROKERS and AMPEL_KAFKA_PROPERTY_<KEY> (with `_` for
/// `.`) over the job's settings, so secrets stay out of job files.
pub fn client_config(cfg: &KafkaSourceConfig) -> ClientConfig {
    let mut c = ClientConfig::new();
    let brokers = std::env::var("AMPEL_KAFKA_BROKERS").unwrap_or_else(|_| cfg.brokers.clone());
    c.set("bootstrap.servers", brokers)
        .set("group.id", &cfg.group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        .set("session.timeout.ms", "10000");
    for (k, v) in &cfg.properties {
        c.set(k, v);
    }
    for (k, v) in std::env::vars() {
        if let Some(name) = k.strip_prefix("AMPEL_KAFKA_PROPERTY_") {
            c.set(name.to_lowercase().replace('_', "."), v);
        }
    }
    c
}

impl KafkaSource {
    pub fn connect(cfg: &KafkaSourceConfig) -> Result<Self, KafkaError> {
        let consumer: BaseConsumer = client_config(cfg).create()?;
        let topics: Vec<&str> = cfg.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics)?;
        let stop = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
            signal_hook::flag::register(sig, stop.clone()).map_err(|e| {
                KafkaError::ClientCreation(format!("installing the {sig} handler: {e}"))
            })?;
        }
        Ok(KafkaSource {
            consumer,
            health: Arc::default(),
            stop,
            pending: BTreeMap::new(),
            last_message: Instant::now(),
            idle_stop: Duration::from_secs_f64(cfg.stop_after_idle_seconds),
            last_error_log: None,
        })
    }
}

impl MessageSource for KafkaSource {
    fn poll(&mut self) -> Poll {
        if self.stop.load(Ordering::SeqCst) {
            eprintln!("stopping: signal received; storing and committing what was consumed");
            return Poll::End;
        }
        match self.consumer.poll(Duration::from_millis(250)) {
            Some(Ok(m)) => {
                self.last_message = Instant::now();
                self.health.delivered.fetch_add(1, Ordering::Relaxed);
                let topic = m.topic().to_string();
                self.pending
                    .insert((topic.clone(), m.partition()), m.offset() + 1);
                let origin = Origin {
                    path: PathBuf::from(format!("kafka:{topic}")),
                    member: Some(format!("partition {} offset {}", m.partition(), m.offset())),
                };
                Poll::Message(match m.payload() {
                    Some(p) if !p.is_empty() => Ok(RawAlert {
                        origin,
                        bytes: p.to_vec().into(),
                        timestamp_ms: m.timestamp().to_millis(),
                    }),
                    _ => Err(SourceError::Message {
                        origin,
                        reason: "message without payload".into(),
                    }),
                })
            }
            Some(Err(e)) => {
                self.health.errors.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut last) = self.health.last_error.lock() {
                    *last = Some(e.to_string());
                }
                // Broker down, unreachable, rebalancing: librdkafka retries
                // with back-off; say so at most every 10 s.
                if self
                    .last_error_log
                    .is_none_or(|t| t.elapsed() > Duration::from_secs(10))
                {
                    eprintln!("warning: kafka: {e} (retrying)");
                    self.last_error_log = Some(Instant::now());
                }
                self.idle_or_end()
            }
            None => self.idle_or_end(),
        }
    }

    fn stored(&mut self) -> Result<(), String> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut tpl = TopicPartitionList::new();
        for ((t, p), o) in &self.pending {
            tpl.add_partition_offset(t, *p, Offset::Offset(*o))
                .map_err(|e| e.to_string())?;
        }
        self.consumer
            .commit(&tpl, CommitMode::Sync)
            .map_err(|e| e.to_string())?;
        self.pending.clear();
        Ok(())
    }
}

impl KafkaSource {
    /// Counters shared with the caller.
    pub fn health(&self) -> Arc<SourceHealth> {
        self.health.clone()
    }

    fn idle_or_end(&self) -> Poll {
        if self.last_message.elapsed() >= self.idle_stop {
            Poll::End
        } else {
            Poll::Idle
        }
    }
}
