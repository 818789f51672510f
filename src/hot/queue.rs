//! T2 work queues: which T2 documents wait for a worker. The archive stays
//! the truth (a document's code says whether it still needs a run, and
//! claims are atomic there); a queue only spreads the work between worker
//! threads and processes and tells them when there is some. Losing a queue
//! loses no work: a runtime re-queues the archive's runnable documents when
//! its queue runs dry.
//!
//! Implementations: [`InProcessT2Queue`] (threads of one process) and Redis
//! Streams in the runtime (`ampel-actors`), shared by `ampel run` and
//! `ampel worker t2` processes.

use super::HotError;
use crate::store::T2Key;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// One queue entry handed to a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedT2 {
    /// The queue's id of the entry (acknowledged after the result is stored).
    pub entry: String,
    pub key: T2Key,
    /// When the alert that ticketed it entered the stream (Unix seconds),
    /// for the stream-to-T2-done latency.
    pub since: Option<f64>,
    /// Taken over from a worker presumed dead: its document may still say
    /// RUNNING.
    pub reclaimed: bool,
}

pub trait T2Queue: Send {
    /// Adds work: document keys, each with its alert's stream time.
    fn push(&mut self, items: &[(T2Key, Option<f64>)]) -> Result<(), HotError>;
    /// Up to `max` entries for this worker, waiting up to `wait` for some.
    fn pop(&mut self, max: usize, wait: Duration) -> Result<Vec<QueuedT2>, HotError>;
    /// These entries are done (their results are stored).
    fn ack(&mut self, entries: &[QueuedT2]) -> Result<(), HotError>;
    /// Entries waiting or being worked on, per unit.
    fn depth(&mut self) -> Result<BTreeMap<String, u64>, HotError>;
}

#[derive(Debug, Default)]
struct Shared {
    queue: VecDeque<(T2Key, Option<f64>)>,
    working: HashMap<String, u64>,
    next: u64,
}

/// A queue shared by the threads of one process (clones share it).
#[derive(Debug, Clone, Default)]
pub struct InProcessT2Queue {
    shared: Arc<(Mutex<Shared>, Condvar)>,
}

impl InProcessT2Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        // A worker that panicked while holding the lock left consistent
        // data (every update is a single push/pop): keep going.
        self.shared.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl T2Queue for InProcessT2Queue {
    fn push(&mut self, items: &[(T2Key, Option<f64>)]) -> Result<(), HotError> {
        if items.is_empty() {
            return Ok(());
        }
        self.lock().queue.extend(items.iter().cloned());
        self.shared.1.notify_all();
        Ok(())
    }

    fn pop(&mut self, max: usize, wait: Duration) -> Result<Vec<QueuedT2>, HotError> {
        let mut s = self.lock();
        if s.queue.is_empty() {
            s = self
                .shared
                .1
                .wait_timeout_while(s, wait, |s| s.queue.is_empty())
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        let n = max.min(s.queue.len());
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let (key, since) = s.queue.pop_front().expect("n <= len");
            *s.working.entry(key.unit.clone()).or_default() += 1;
            s.next += 1;
            out.push(QueuedT2 {
                entry: s.next.to_string(),
                key,
                since,
                reclaimed: false,
            });
        }
        Ok(out)
    }

    fn ack(&mut self, entries: &[QueuedT2]) -> Result<(), HotError> {
        let mut s = self.lock();
        for e in entries {
            if let Some(n) = s.working.get_mut(&e.key.unit) {
                *n = n.saturating_sub(1);
            }
        }
        Ok(())
    }

    fn depth(&mut self) -> Result<BTreeMap<String, u64>, HotError> {
        let s = self.lock();
        let mut d: BTreeMap<String, u64> = s
            .working
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(u, n)| (u.clone(), *n))
            .collect();
        for (k, _) in &s.queue {
            *d.entry(k.unit.clone()).or_default() += 1;
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(unit: &str, link: i64) -> T2Key {
        T2Key {
            stock: 1,
            unit: unit.into(),
            config: 0,
            link,
        }
    }

    #[test]
    fn entries_are_handed_out_once_and_counted_until_acked() {
        let mut q = InProcessT2Queue::default();
        let mut other = q.clone();
        q.push(&[
            (key("A", 1), Some(5.0)),
            (key("A", 2), None),
            (key("B", 1), None),
        ])
        .unwrap();
        let first = q.pop(2, Duration::ZERO).unwrap();
        let rest = other.pop(10, Duration::ZERO).unwrap();
        assert_eq!(first.len(), 2);
        assert_eq!(first[0].since, Some(5.0));
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].key, key("B", 1));
        assert_eq!(
            q.depth().unwrap(),
            BTreeMap::from([("A".to_string(), 2), ("B".to_string(), 1)])
        );
        q.ack(&first).unwrap();
        other.ack(&rest).unwrap();
        assert!(q.depth().unwrap().is_empty());
    }

    #[test]
    fn a_waiting_pop_wakes_when_work_arrives() {
        let mut q = InProcessT2Queue::default();
        let mut producer = q.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            producer.push(&[(key("A", 1), None)]).unwrap();
        });
        let got = q.pop(1, Duration::from_secs(10)).unwrap();
        t.join().unwrap();
        assert_eq!(got.len(), 1);
    }
}
