//! Consumer settings shared by the live runtime's AlertConsumer
//! (`crate::live`): offsets are never committed automatically (the runtime
//! commits what is stored), a new group starts at the earliest message,
//! and rebalances are incremental (cooperative-sticky): when a T0 pod
//! joins or leaves, only the partitions that move stop, the others go on
//! being consumed. Static membership (`group.instance.id`, the pod name
//! in k8s/) is the deployment's choice, set through the environment.

use ampel::job::KafkaSourceConfig;
use rdkafka::config::ClientConfig;

/// What the live consumer saw of its brokers, shared with the runtime
/// (messages delivered, errors, the last error) for exit status 4.
#[derive(Debug, Default)]
pub struct SourceHealth {
    pub delivered: std::sync::atomic::AtomicU64,
    pub errors: std::sync::atomic::AtomicU64,
    pub last_error: std::sync::Mutex<Option<String>>,
    /// A fatal client error (librdkafka's code and reason): the consumer
    /// cannot go on, e.g. another process took its `group.instance.id`
    /// (FENCED_INSTANCE_ID). The run stops with exit 8.
    pub fatal: std::sync::Mutex<Option<String>>,
}

/// The default assignor.
pub const ASSIGNOR: &str = "cooperative-sticky";

/// Applies `AMPEL_KAFKA_BROKERS` and `AMPEL_KAFKA_PROPERTY_<KEY>` (with `_` for
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
        .set("session.timeout.ms", "10000")
        // Incremental rebalances (KIP-429). A job, or
        // AMPEL_KAFKA_PROPERTY_PARTITION_ASSIGNMENT_STRATEGY, can name
        // another: every member of a group must share one protocol.
        .set("partition.assignment.strategy", ASSIGNOR)
        // A fetch waits at most this long for data: brokers that hold
        // fetches until the limit (tansu does) would otherwise add up to
        // 500 ms (librdkafka's default) to every alert's latency.
        .set("fetch.wait.max.ms", "50");
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
