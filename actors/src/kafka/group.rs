//! How far a consumer group is from the end of its topics: the messages
//! between each partition's committed offset and its end, over every
//! partition of the subscribed topics, whoever holds it.
//!
//! A catch-up run (`stop_after_idle_seconds`) of several processes in one
//! group cannot end on its own idleness alone: a process that has no
//! partition yet (the group is rebalancing) or whose partitions are done
//! would leave while partitions promised to it, or to a member that just
//! left, still hold messages. It ends only when the whole group has
//! committed up to the end ([`GroupWatch`]).

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaResult;
use rdkafka::{Offset, TopicPartitionList};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(5);

/// Does a subscription entry (a name, or a regular expression starting
/// with `^`, as librdkafka reads it) cover `topic`?
fn covers(entry: &str, topic: &str) -> bool {
    if entry.starts_with('^') {
        regex::Regex::new(entry).is_ok_and(|r| r.is_match(topic))
    } else {
        entry == topic
    }
}

/// Messages the group has not committed yet, over all partitions of the
/// topics `subscription` covers. `client` carries the group id and is not
/// a member of the group (it only asks).
pub fn uncommitted(client: &BaseConsumer, subscription: &[String]) -> KafkaResult<i64> {
    let metadata = client.fetch_metadata(None, TIMEOUT)?;
    let mut tpl = TopicPartitionList::new();
    let mut ends = Vec::new();
    for t in metadata.topics() {
        if !subscription.iter().any(|s| covers(s, t.name())) {
            continue;
        }
        for p in t.partitions() {
            let (low, high) = client.fetch_watermarks(t.name(), p.id(), TIMEOUT)?;
            tpl.add_partition(t.name(), p.id());
            ends.push((t.name().to_string(), p.id(), low, high));
        }
    }
    if ends.is_empty() {
        return Ok(0);
    }
    let committed = client.committed_offsets(tpl, TIMEOUT)?;
    let mut left = 0;
    for (topic, partition, low, high) in ends {
        let from = match committed
            .find_partition(&topic, partition)
            .map(|e| e.offset())
        {
            Some(Offset::Offset(n)) => n.max(low),
            _ => low,
        };
        left += (high - from).max(0);
    }
    Ok(left)
}

/// A thread that asks the brokers how many messages the group has left,
/// at most every half second and only while [`want`](Self::want) is called
/// (an idle consumer calls it each time it looks; a busy one asks
/// nothing); [`left`](Self::left) answers the last figure: `None` until the
/// first answer, `Some(-1)` when the brokers did not answer (the caller
/// then falls back on idleness alone).
pub struct GroupWatch {
    wanted: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    left: Arc<AtomicI64>,
}

const UNKNOWN: i64 = i64::MIN;

impl GroupWatch {
    pub fn start(config: ClientConfig, subscription: Vec<String>) -> KafkaResult<GroupWatch> {
        let client: BaseConsumer = config.create()?;
        let w = GroupWatch {
            wanted: Arc::new(AtomicBool::new(false)),
            stop: Arc::new(AtomicBool::new(false)),
            left: Arc::new(AtomicI64::new(UNKNOWN)),
        };
        let (wanted, stop, left) = (w.wanted.clone(), w.stop.clone(), w.left.clone());
        std::thread::Builder::new()
            .name("group-watch".into())
            .spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    if wanted.swap(false, Ordering::SeqCst) {
                        let n = uncommitted(&client, &subscription).unwrap_or_else(|e| {
                            tracing::warn!(error = %e, "asking the group's committed offsets failed");
                            -1
                        });
                        left.store(n, Ordering::SeqCst);
                    }
                    std::thread::sleep(Duration::from_millis(500));
                }
            })
            .expect("a thread");
        Ok(w)
    }

    pub fn want(&self) {
        self.wanted.store(true, Ordering::SeqCst);
    }

    pub fn left(&self) -> Option<i64> {
        match self.left.load(Ordering::SeqCst) {
            UNKNOWN => None,
            n => Some(n),
        }
    }
}

impl Drop for GroupWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::covers;

    #[test]
    fn names_and_patterns_cover_topics_as_librdkafka_reads_them() {
        assert!(covers("ztf_20231018_programid1", "ztf_20231018_programid1"));
        assert!(!covers("ztf_20231018", "ztf_20231018_programid1"));
        assert!(covers("^ztf_.*_programid1$", "ztf_20231018_programid1"));
        assert!(!covers("^ztf_.*_programid1$", "ztf_20231018_programid2"));
    }
}
