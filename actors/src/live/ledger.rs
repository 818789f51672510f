//! The delivery ledger between the consumer and the ingester: which Kafka
//! messages were taken (in order, numbered), and up to which number they
//! are durably stored. The consumer commits only stored offsets and pauses
//! when too many are in flight; a rebalance waits here until what it
//! revokes is stored.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
struct Inner {
    /// (sequence number, topic, partition, offset) of messages taken and not
    /// yet committed.
    delivered: VecDeque<(u64, String, i32, i64)>,
    /// Next sequence number to hand out.
    next: u64,
    /// Every message numbered below this is stored.
    stored: u64,
    last_message: Option<Instant>,
    /// The last assignment of partitions.
    last_touch: Option<Instant>,
    /// The most messages in flight at once.
    peak: u64,
    /// The highest committable offset handed out per partition, and
    /// whether a commit failed since: a failed commit (an asynchronous one
    /// reports through the callback, e.g. during a rebalance) would
    /// otherwise lose its offsets, and a consumer that then goes quiet, or
    /// is killed, leaves its partitions' next owner to repeat them.
    latest: BTreeMap<(String, i32), i64>,
    recommit: bool,
}

#[derive(Debug, Default)]
pub struct Ledger {
    inner: Mutex<Inner>,
    changed: Condvar,
}

impl Ledger {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Numbers a message taken from Kafka (`None`: not from Kafka).
    pub fn deliver(&self, at: Option<(&str, i32, i64)>) -> u64 {
        let mut l = self.lock();
        let seq = l.next;
        l.next += 1;
        if let Some((t, p, o)) = at {
            l.delivered.push_back((seq, t.to_string(), p, o));
        }
        l.peak = l.peak.max(l.next - l.stored);
        l.last_message = Some(Instant::now());
        seq
    }

    /// Something happened that restarts the idle clock (an assignment).
    pub fn touch(&self) {
        self.lock().last_touch = Some(Instant::now());
    }

    /// Messages numbered below `upto` are durably stored.
    pub fn stored(&self, upto: u64) {
        let mut l = self.lock();
        l.stored = l.stored.max(upto);
        self.changed.notify_all();
    }

    /// Messages taken and not yet stored.
    /// The most messages taken and not stored at any one time.
    pub fn peak_in_flight(&self) -> u64 {
        self.lock().peak
    }

    pub fn in_flight(&self) -> u64 {
        let l = self.lock();
        l.next - l.stored
    }

    /// Time since the last message was taken or partitions assigned (or
    /// since `start`).
    pub fn idle_since(&self, start: Instant) -> Duration {
        let l = self.lock();
        l.last_message.max(l.last_touch).unwrap_or(start).elapsed()
    }

    /// Time since the last message was taken (or since `start`),
    /// assignments aside.
    pub fn quiet_since(&self, start: Instant) -> Duration {
        self.lock().last_message.unwrap_or(start).elapsed()
    }

    /// Removes the stored messages and returns the offsets to commit: per
    /// (topic, partition), the last stored offset + 1.
    pub fn take_committable(&self) -> BTreeMap<(String, i32), i64> {
        let mut l = self.lock();
        let stored = l.stored;
        let mut out = BTreeMap::new();
        while l.delivered.front().is_some_and(|d| d.0 < stored) {
            let (_, t, p, o) = l.delivered.pop_front().expect("checked");
            out.insert((t, p), o + 1);
        }
        for (k, o) in &out {
            let e = l.latest.entry(k.clone()).or_insert(*o);
            *e = (*e).max(*o);
        }
        if std::mem::take(&mut l.recommit) {
            for (k, o) in l.latest.clone() {
                out.entry(k).or_insert(o);
            }
        }
        out
    }

    /// The next commit sends every held partition's latest stored offset
    /// again: after a failed commit, and now and then regardless.
    pub fn recommit_all(&self) {
        self.lock().recommit = true;
    }

    /// Waits until everything taken so far is stored, at most `limit`;
    /// true if it is.
    pub fn wait_all_stored(&self, limit: Duration) -> bool {
        let l = self.lock();
        let target = l.next;
        let (l, _) = self
            .changed
            .wait_timeout_while(l, limit, |l| l.stored < target)
            .unwrap_or_else(|p| p.into_inner());
        l.stored >= target
    }

    /// Forgets uncommitted messages of partitions this consumer lost:
    /// another consumer gets them again.
    pub fn forget(&self, lost: &[(String, i32)]) {
        let mut l = self.lock();
        l.delivered
            .retain(|(_, t, p, _)| !lost.iter().any(|(lt, lp)| lt == t && lp == p));
        l.latest
            .retain(|(t, p), _| !lost.iter().any(|(lt, lp)| lt == t && lp == p));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_stored_offsets_are_committable() {
        let l = Ledger::default();
        let a = l.deliver(Some(("t", 0, 10)));
        l.deliver(Some(("t", 1, 5)));
        l.deliver(Some(("t", 0, 11)));
        assert_eq!(l.in_flight(), 3);
        assert!(l.take_committable().is_empty());
        l.stored(a + 2);
        let c = l.take_committable();
        assert_eq!(
            c,
            BTreeMap::from([(("t".into(), 0), 11), (("t".into(), 1), 6)])
        );
        assert_eq!(l.in_flight(), 1);
        assert!(!l.wait_all_stored(Duration::from_millis(10)));
        l.stored(3);
        assert!(l.wait_all_stored(Duration::ZERO));
        assert_eq!(l.take_committable().len(), 1);
        // A failed commit: the next one repeats every partition's latest.
        assert!(l.take_committable().is_empty());
        l.recommit_all();
        assert_eq!(
            l.take_committable(),
            BTreeMap::from([(("t".into(), 0), 12), (("t".into(), 1), 6)])
        );
        l.forget(&[("t".into(), 1)]);
        l.recommit_all();
        assert_eq!(l.take_committable().len(), 1, "only partitions still held");
    }
}
