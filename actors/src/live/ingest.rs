//! IngestActor (AMPEL's compound builder): the single writer of T0 and T1.
//! Decoded packets and filter verdicts arrive out of order from the pools;
//! it puts them back in message order, ingests each message once all its
//! verdicts are in, writes a batch every `batch_size` messages or every
//! 100 ms, then (and only then) tells the ledger the messages are stored
//! and queues the T2 documents the batch ticketed.
//!
//! It runs on its own arbiter thread (its archive writes block). It is not
//! restarted: a failed archive write ends the run with exit status 5 and
//! nothing committed past what was stored, so Kafka redelivers the rest.

use super::Shared;
use actix::prelude::*;
use ampel::alert::Alert;
use ampel::hot::T2Queue;
use ampel::run::{Ingester, RunSummary};
use ampel::store::Archive;
use ampel::units::FilterVerdict;
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

/// A message decoded (or not) by the pool.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Decoded {
    pub seq: u64,
    pub origin: String,
    pub timestamp_ms: Option<i64>,
    /// The message, kept for dead letters.
    pub bytes: Option<Bytes>,
    pub result: Result<Vec<Arc<Alert>>, String>,
    /// Which alerts the hot state says were stored before, when the
    /// decoder asked it; else the ingester asks.
    pub seen: Option<Vec<bool>>,
}

/// One channel's verdict on one alert of a message (`Err`: the filter
/// panicked, with the reason).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Verdict {
    pub seq: u64,
    pub index: usize,
    pub channel: usize,
    pub verdict: Result<FilterVerdict, String>,
}

/// Write what is pending now; answers the messages stored so far.
#[derive(Message)]
#[rtype(result = "u64")]
pub struct FlushNow;

/// The run's counts so far.
#[derive(Message)]
#[rtype(result = "RunSummary")]
pub struct GetSummary;

#[derive(Default)]
struct Packet {
    decoded: Option<Decoded>,
    /// Per alert index, per channel.
    verdicts: HashMap<(usize, usize), Result<FilterVerdict, String>>,
}

impl Packet {
    fn complete(&self, channels: usize) -> bool {
        match &self.decoded {
            None => false,
            Some(d) => match &d.result {
                Err(_) => true,
                Ok(alerts) => self.verdicts.len() == alerts.len() * channels,
            },
        }
    }
}

pub struct IngestActor {
    ingester: Ingester,
    archive: Box<dyn Archive>,
    queue: Box<dyn T2Queue>,
    shared: Arc<Shared>,
    channels: Vec<String>,
    batch_size: usize,
    packets: BTreeMap<u64, Packet>,
    /// Next message to ingest, in order.
    next: u64,
    /// Earliest stream time of each stock's alerts in the batch.
    since: HashMap<i64, f64>,
    failed: bool,
}

impl IngestActor {
    pub fn new(
        ingester: Ingester,
        archive: Box<dyn Archive>,
        queue: Box<dyn T2Queue>,
        shared: Arc<Shared>,
        batch_size: usize,
    ) -> Self {
        IngestActor {
            channels: ingester.channel_names(),
            ingester,
            archive,
            queue,
            shared,
            batch_size,
            packets: BTreeMap::new(),
            next: 0,
            since: HashMap::new(),
            failed: false,
        }
    }

    fn advance(&mut self) {
        let n = self.channels.len();
        while self.packets.get(&self.next).is_some_and(|p| p.complete(n)) {
            let p = self.packets.remove(&self.next).expect("checked");
            self.process(p);
            self.next += 1;
            if self.ingester.in_batch() >= self.batch_size {
                self.flush();
            }
        }
    }

    fn process(&mut self, p: Packet) {
        let d = p.decoded.expect("complete packets are decoded");
        let stream_ts = d.timestamp_ms.map(|ms| ms as f64 / 1000.0);
        self.ingester
            .consumed(stream_ts.map(|t| ampel::run::now() - t));
        match d.result {
            Err(e) => {
                tracing::warn!(origin = %d.origin, error = %e, "unreadable message set aside as a dead letter");
                self.ingester.failed(&d.origin, &e, d.bytes.as_deref())
            }
            Ok(alerts) => {
                let seen = match d.seen {
                    Some(s) if s.len() == alerts.len() => s,
                    _ => {
                        let ids: Vec<i64> = alerts.iter().map(|a| a.id).collect();
                        self.ingester.seen(&ids)
                    }
                };
                for (i, (alert, dup)) in alerts.iter().zip(seen).enumerate() {
                    if dup {
                        self.ingester.duplicate();
                        continue;
                    }
                    for (c, name) in self.channels.iter().enumerate() {
                        if let Some(Err(why)) = p.verdicts.get(&(i, c)) {
                            self.ingester.filter_panicked(
                                &d.origin,
                                name,
                                alert.id,
                                why,
                                d.bytes.as_deref(),
                            );
                        }
                    }
                    let verdicts = &p.verdicts;
                    let archive = self.archive.as_mut();
                    let ingester = &mut self.ingester;
                    let r = catch_unwind(AssertUnwindSafe(|| {
                        ingester.alert(archive, alert, &mut |c| {
                            verdicts.get(&(i, c)).and_then(|v| v.clone().ok())
                        })
                    }));
                    match r {
                        Ok(Ok(())) => {
                            if let Some(t) = stream_ts {
                                let e = self.since.entry(alert.stock).or_insert(t);
                                *e = e.min(t);
                            }
                            tracing::debug!(stock = alert.stock, alert = alert.id, "ingested");
                        }
                        Ok(Err(e)) => return self.fatal(format!("reading the archive: {e}")),
                        Err(p) => {
                            let why = super::supervise::panic_text(&*p);
                            tracing::error!(stock = alert.stock, alert = alert.id, reason = %why, "ingesting panicked; alert set aside");
                            self.ingester.failed(
                                &d.origin,
                                &format!("ingesting alert {} panicked: {why}", alert.id),
                                d.bytes.as_deref(),
                            );
                        }
                    }
                }
            }
        }
        self.ingester.message_done();
    }

    fn flush(&mut self) {
        if self.failed {
            return;
        }
        match self.ingester.flush(self.archive.as_mut()) {
            Ok(f) => {
                self.shared.ledger.stored(self.next);
                if !f.tickets.is_empty() {
                    let items: Vec<_> = f
                        .tickets
                        .into_iter()
                        .map(|k| {
                            let since = self.since.get(&k.stock).copied();
                            (k, since)
                        })
                        .collect();
                    if let Err(e) = self.queue.push(&items) {
                        // The documents are NEW in the archive: the T2
                        // workers re-queue them when the queue runs dry.
                        tracing::warn!(error = %e, "queueing T2 work failed; it is picked up from the archive later");
                    }
                }
                self.since.clear();
            }
            Err(e) => self.fatal(format!("writing to the archive: {e}")),
        }
    }

    fn fatal(&mut self, why: String) {
        tracing::error!(reason = %why, "the archive failed: stopping; what was not stored is not committed and will be redelivered");
        self.failed = true;
        self.shared.fail(why);
    }
}

impl Actor for IngestActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Its mailbox is bounded by the consumer's in-flight limit (at most
        // max_in_flight messages, and their verdicts, are ever unstored).
        ctx.run_interval(Duration::from_millis(100), |act, _| {
            if act.ingester.in_batch() > 0 {
                act.flush();
            }
        });
    }
}

impl Handler<Decoded> for IngestActor {
    type Result = ();
    fn handle(&mut self, msg: Decoded, _: &mut Self::Context) {
        let span = self.shared.span.clone();
        let _run = span.enter();
        let seq = msg.seq;
        self.packets.entry(seq).or_default().decoded = Some(msg);
        self.advance();
    }
}

impl Handler<Verdict> for IngestActor {
    type Result = ();
    fn handle(&mut self, msg: Verdict, _: &mut Self::Context) {
        let span = self.shared.span.clone();
        let _run = span.enter();
        self.packets
            .entry(msg.seq)
            .or_default()
            .verdicts
            .insert((msg.index, msg.channel), msg.verdict);
        self.advance();
    }
}

impl Handler<FlushNow> for IngestActor {
    type Result = u64;
    fn handle(&mut self, _: FlushNow, _: &mut Self::Context) -> u64 {
        let span = self.shared.span.clone();
        let _run = span.enter();
        self.flush();
        self.next
    }
}

impl Handler<GetSummary> for IngestActor {
    type Result = MessageResult<GetSummary>;
    fn handle(&mut self, _: GetSummary, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.ingester.summary.clone())
    }
}
