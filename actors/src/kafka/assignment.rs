//! Who holds which partitions of a consumer group, as its coordinator says
//! (ListGroups/DescribeGroups through librdkafka): each member's
//! assignment, decoded from the consumer protocol. Brokers that answer no
//! group description (tansu 0.6) give `None`, and callers fall back to
//! what the members log.

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use std::time::Duration;

/// A Stable group as its coordinator describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupView {
    /// The assignor the members agreed on (`range`, `cooperative-sticky`).
    pub protocol: String,
    /// Each member: its id (a static member's starts with its
    /// `group.instance.id`) and its partitions as `topic/partition`.
    pub members: Vec<(String, Vec<String>)>,
}

/// The group, when the coordinator describes it as Stable; `None` when it
/// cannot or does not.
pub fn describe_group(brokers: &str, group: &str) -> Option<GroupView> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .ok()?;
    let list = c
        .fetch_group_list(Some(group), Duration::from_secs(5))
        .ok()?;
    let g = list.groups().iter().find(|g| g.name() == group)?;
    if g.state() != "Stable" || g.members().is_empty() {
        return None;
    }
    let members = g
        .members()
        .iter()
        .map(|m| {
            let parts = m.assignment().map(decode).unwrap_or(Some(Vec::new()))?;
            Some((m.id().to_string(), parts))
        })
        .collect::<Option<Vec<_>>>()?;
    Some(GroupView {
        protocol: g.protocol().to_string(),
        members,
    })
}

/// Each member's partitions as `topic/partition`, when the coordinator
/// describes the group as Stable; `None` when it cannot or does not.
pub fn describe(brokers: &str, group: &str) -> Option<Vec<Vec<String>>> {
    let g = describe_group(brokers, group)?;
    Some(g.members.into_iter().map(|(_, p)| p).collect())
}

/// The partitions a consumer holds, replayed from its log (what it has
/// acted on, which can lag the coordinator's view by a callback): each
/// rebalance line names the partitions assigned or revoked (all of them
/// with an eager assignor, only those that move with cooperative-sticky).
pub fn held_partitions(log: &str) -> Vec<String> {
    let mut held = std::collections::BTreeSet::new();
    for line in log.lines() {
        let Some(at) = line.find("rebalance: partitions ") else {
            continue;
        };
        let rest = &line[at + "rebalance: partitions ".len()..];
        let names = rest
            .split('"')
            .filter(|p| p.contains('/'))
            .map(str::to_string);
        if rest.starts_with("assigned") {
            held.extend(names);
        } else if rest.starts_with("revoked") {
            for n in names {
                held.remove(&n);
            }
        }
    }
    held.into_iter().collect()
}

/// A ConsumerProtocolAssignment: int16 version, then an array of (string
/// topic, array of int32 partitions), then user data (ignored).
fn decode(bytes: &[u8]) -> Option<Vec<String>> {
    let mut r = Reader { b: bytes, at: 0 };
    r.i16()?;
    let topics = r.i32()?;
    let mut out = Vec::new();
    for _ in 0..topics.max(0) {
        let len = r.i16()?;
        let topic = std::str::from_utf8(r.take(len.max(0) as usize)?)
            .ok()?
            .to_string();
        let partitions = r.i32()?;
        for _ in 0..partitions.max(0) {
            out.push(format!("{topic}/{}", r.i32()?));
        }
    }
    Some(out)
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn i16(&mut self) -> Option<i16> {
        Some(i16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_consumer_protocol_assignment() {
        // version 1, one topic "ab" with partitions 0 and 3, no user data.
        let mut b = vec![0, 1, 0, 0, 0, 1, 0, 2, b'a', b'b', 0, 0, 0, 2];
        b.extend([0, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(decode(&b), Some(vec!["ab/0".into(), "ab/3".into()]));
        assert_eq!(decode(&b[..9]), None, "truncated");
    }

    #[test]
    fn replays_assigned_and_revoked_lines() {
        let log = r#"INFO rebalance: partitions assigned partitions=["t/0", "t/1", "t/2"]
INFO rebalance: partitions revoked partitions=["t/1"]
INFO something else "t/9"
INFO rebalance: partitions assigned partitions=["t/3"]"#;
        assert_eq!(held_partitions(log), ["t/0", "t/2", "t/3"]);
    }
}
