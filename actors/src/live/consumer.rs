//! AlertConsumer: the Kafka consumer of a live run, a sync actor on its own
//! thread. It polls in short rounds (between rounds its mailbox is served,
//! and it sends itself the next round), numbers each message in the
//! [`Ledger`], hands it to the decoder pool, commits offsets the ledger
//! says are stored, and pauses its partitions while too much is in flight
//! (messages not yet stored, or a long T2 queue).

use super::decode::{Decode, Decoder};
use super::ledger::Ledger;
use super::Shared;
use crate::kafka::{client_config, KafkaLog};
use actix::prelude::*;
use ampel::job::KafkaSourceConfig;
use ampel::source::{Origin, RawAlert, SourceError};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Rebalances: before partitions are taken away, wait until what was taken
/// from them is stored and commit it, so the next owner neither loses nor
/// repeats work. Partitions assigned while the consumer is paused
/// (backpressure) start paused: an incremental rebalance hands over new
/// partitions without touching the paused ones, and they would otherwise
/// be consumed past the in-flight bound.
pub struct LiveContext {
    ledger: Arc<Ledger>,
    paused: Arc<AtomicBool>,
    log: Arc<KafkaLog>,
}

impl Drop for LiveContext {
    fn drop(&mut self) {
        self.log.flush();
    }
}

/// librdkafka's logs and errors, summarised (a broker down is reported
/// once per 10 s, not at every reconnect attempt).
impl ClientContext for LiveContext {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, message: &str) {
        self.log.log(level, fac, message)
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        self.log.error(error, reason)
    }
}

impl ConsumerContext for LiveContext {
    /// Asynchronous commits report here: a failure (e.g. during a
    /// rebalance) has the next commit repeat every stored offset. A commit
    /// can fail per partition while the request as a whole succeeds
    /// (ILLEGAL_GENERATION during a cooperative rebalance is reported so),
    /// so each partition's error counts too.
    fn commit_callback(&self, result: rdkafka::error::KafkaResult<()>, tpl: &TopicPartitionList) {
        let failed: Vec<String> = tpl
            .elements()
            .iter()
            .filter_map(|e| {
                e.error()
                    .err()
                    .map(|err| format!("{}/{}: {err}", e.topic(), e.partition()))
            })
            .collect();
        if result.is_err() || !failed.is_empty() {
            self.ledger.recommit_all();
            let error = result.err().map(|e| e.to_string()).unwrap_or_default();
            tracing::warn!(%error, partitions = ?failed, "committing offsets failed (sent again with the next commit)");
        }
    }

    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let lost: Vec<(String, i32)> = tpl
                .elements()
                .iter()
                .map(|e| (e.topic().to_string(), e.partition()))
                .collect();
            if !self.ledger.wait_all_stored(Duration::from_secs(30)) {
                tracing::warn!(
                    "rebalance: in-flight messages not stored within 30 s; the next owner of the partitions gets them again"
                );
            }
            commit(consumer, &self.ledger, CommitMode::Sync);
            self.ledger.forget(&lost);
            let parts: Vec<String> = lost.iter().map(|(t, p)| format!("{t}/{p}")).collect();
            tracing::info!(partitions = ?parts, "rebalance: partitions revoked");
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            if self.paused.load(Ordering::SeqCst) {
                if let Err(e) = consumer.pause(tpl) {
                    tracing::warn!(error = %e, "pausing newly assigned partitions failed");
                }
            }
            let parts: Vec<String> = tpl
                .elements()
                .iter()
                .map(|e| format!("{}/{}", e.topic(), e.partition()))
                .collect();
            tracing::info!(partitions = ?parts, "rebalance: partitions assigned");
            // A catch-up run's idle time counts from here: joining a group
            // can take a while.
            self.ledger.touch();
        }
    }
}

/// Commits the stored offsets; a failure means redelivery, never loss.
/// Between rounds the commit is asynchronous (the broker's round trip
/// would otherwise pace consumption); before a rebalance and at the end it
/// is synchronous.
fn commit<C: ConsumerContext>(consumer: &BaseConsumer<C>, ledger: &Ledger, mode: CommitMode) {
    if let Err(e) = try_commit(consumer, ledger, mode) {
        tracing::warn!(error = %e, "committing offsets failed (sent again with the next commit)");
    }
}

/// [`commit`] without the warning: a failure marks every stored offset to
/// be sent again, and is returned (the request's, or else the first
/// partition's: a synchronous commit reports those in the list).
fn try_commit<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    ledger: &Ledger,
    mode: CommitMode,
) -> Result<(), KafkaError> {
    let offsets = ledger.take_committable();
    if offsets.is_empty() {
        return Ok(());
    }
    let mut tpl = TopicPartitionList::new();
    for ((t, p), o) in &offsets {
        if let Err(e) = tpl.add_partition_offset(t, *p, Offset::Offset(*o)) {
            tracing::warn!(error = %e, topic = %t, partition = p, "bad offset");
        }
    }
    let result = consumer.commit(&tpl, mode).and_then(|()| {
        match tpl.elements().iter().find_map(|e| e.error().err()) {
            Some(e) if matches!(mode, CommitMode::Sync) => Err(e),
            _ => Ok(()),
        }
    });
    if result.is_err() {
        ledger.recommit_all();
    }
    result
}

/// The group's answers to a commit that a moment later may accept it:
/// the group is rebalancing (a member joining as this one leaves), or its
/// coordinator is moving or starting.
fn group_busy(e: &KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode as C;
    matches!(
        e.rdkafka_error_code(),
        Some(
            C::RebalanceInProgress
                | C::IllegalGeneration
                | C::NotCoordinator
                | C::CoordinatorLoadInProgress
                | C::CoordinatorNotAvailable
                | C::RequestTimedOut
        )
    )
}

/// The last commit before leaving the group: the next owner of the
/// partitions starts from it, so an answer of [`group_busy`] is not final.
/// Polling lets a rebalance under way finish (its revocation commits
/// too) and the commit is tried again, for up to 10 s. Messages such a
/// poll fetches are not processed; their offsets stay uncommitted, and
/// the next owner gets them. Warns once, when it gives up.
fn commit_last<C: ConsumerContext>(consumer: &BaseConsumer<C>, ledger: &Ledger) {
    let until = Instant::now() + Duration::from_secs(10);
    while let Err(e) = try_commit(consumer, ledger, CommitMode::Sync) {
        if !group_busy(&e) || Instant::now() >= until {
            tracing::warn!(error = %e, "the last commit failed: the next owner of the partitions gets their uncommitted alerts again");
            return;
        }
        let _ = consumer.poll(Duration::from_millis(100));
    }
}

/// How often every held partition's latest stored offset is committed
/// again, errors or not: a failure no callback reports (a sync commit's
/// per-partition error, a request lost in a rebalance) must not leave the
/// group's lag standing for ever. Re-committing the same offset is
/// harmless, and only partitions still held are sent.
const FULL_COMMIT_EVERY: Duration = Duration::from_secs(10);

/// The next polling round.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PollRound;

pub struct AlertConsumer {
    cfg: KafkaSourceConfig,
    consumer: Option<BaseConsumer<LiveContext>>,
    shared: Arc<Shared>,
    decoders: Addr<Decoder>,
    /// Whether the partitions are paused; shared with the rebalance
    /// callbacks, which pause newly assigned partitions too.
    paused: Arc<AtomicBool>,
    last_lag: Instant,
    /// When every held partition's offset was last committed again.
    last_full_commit: Instant,
    /// librdkafka's errors and the consumer's own, summarised together.
    log: Arc<KafkaLog>,
    /// Since when the in-flight bound has held polling back (unpaused).
    held_since: Option<Instant>,
}

impl AlertConsumer {
    pub fn new(cfg: KafkaSourceConfig, shared: Arc<Shared>, decoders: Addr<Decoder>) -> Self {
        AlertConsumer {
            cfg,
            consumer: None,
            shared,
            decoders,
            paused: Arc::new(AtomicBool::new(false)),
            last_lag: Instant::now(),
            last_full_commit: Instant::now(),
            log: KafkaLog::new(),
            held_since: None,
        }
    }

    fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    fn connect(&mut self) -> Option<&BaseConsumer<LiveContext>> {
        if self.consumer.is_none() {
            let ctx = LiveContext {
                ledger: self.shared.ledger.clone(),
                paused: self.paused.clone(),
                log: self.log.clone(),
            };
            let made = client_config(&self.cfg)
                .create_with_context::<_, BaseConsumer<LiveContext>>(ctx)
                .and_then(|c| {
                    let topics: Vec<&str> = self.cfg.topics.iter().map(String::as_str).collect();
                    c.subscribe(&topics).map(|()| c)
                });
            match made {
                Ok(c) => self.consumer = Some(c),
                Err(e) => {
                    self.log_error(&format!("creating the consumer: {e}"));
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        }
        self.consumer.as_ref()
    }

    /// Broker down, unreachable, rebalancing: librdkafka reconnects with
    /// back-off (reconnect.backoff.ms up to reconnect.backoff.max.ms); said
    /// at most every 10 s, with librdkafka's own errors.
    fn log_error(&mut self, e: &str) {
        self.shared.health.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut last) = self.shared.health.last_error.lock() {
            *last = Some(e.to_string());
        }
        self.log
            .report(&format!("cannot consume from {}: {e}", self.cfg.brokers));
    }

    fn backpressure(&mut self) {
        let s = &self.shared;
        let in_flight = s.ledger.in_flight();
        let backlog = s.t2_backlog.load(Ordering::Relaxed);
        s.metrics.in_flight.set(in_flight as i64);
        let max = self.cfg.max_in_flight as u64;
        // A full window pauses once it has held polling back long enough
        // (`pause_after_seconds`). Pausing drops librdkafka's prefetched
        // messages and refetches them on resume: paused at every 2,000 in
        // flight, a flat-out run took 2,900 alerts/s, held back 4,000+. A
        // window that stays full that long means a slow archive, and then
        // the pause costs nothing that matters.
        let hold = Duration::from_secs_f64(self.cfg.pause_after_seconds);
        let held_long = self.held_since.is_some_and(|t| t.elapsed() >= hold);
        let full = (in_flight >= max && held_long) || backlog >= self.cfg.max_t2_backlog;
        let relieved = in_flight <= max / 2 && backlog <= self.cfg.max_t2_backlog / 2;
        let Some(c) = self.consumer.as_ref() else {
            return;
        };
        let paused = self.is_paused();
        let change = if full && !paused {
            Some(true)
        } else if relieved && paused {
            Some(false)
        } else {
            None
        };
        if let Some(pause) = change {
            let Ok(assigned) = c.assignment() else { return };
            let r = if pause {
                c.pause(&assigned)
            } else {
                c.resume(&assigned)
            };
            match r {
                Ok(()) => {
                    self.paused.store(pause, Ordering::SeqCst);
                    s.metrics.consumer_paused.set(i64::from(pause));
                    tracing::info!(
                        in_flight,
                        t2_backlog = backlog,
                        paused = pause,
                        "backpressure: partitions {}",
                        if pause { "paused" } else { "resumed" }
                    );
                }
                Err(e) => tracing::warn!(error = %e, "pausing/resuming partitions failed"),
            }
        }
    }

    fn report_lag(&mut self) {
        if self.last_lag.elapsed() < Duration::from_secs(5) {
            return;
        }
        self.last_lag = Instant::now();
        let Some(c) = self.consumer.as_ref() else {
            return;
        };
        let Ok(pos) = c.position() else { return };
        for e in pos.elements() {
            if let Ok((_, high)) =
                c.fetch_watermarks(e.topic(), e.partition(), Duration::from_millis(200))
            {
                let at = match e.offset() {
                    Offset::Offset(o) => o,
                    _ => continue,
                };
                self.shared
                    .metrics
                    .consumer_lag
                    .with_label_values(&[e.topic(), &e.partition().to_string()])
                    .set((high - at).max(0));
            }
        }
    }
}

impl Actor for AlertConsumer {
    type Context = SyncContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.address().do_send(PollRound);
    }
}

impl Handler<PollRound> for AlertConsumer {
    type Result = ();

    fn handle(&mut self, _: PollRound, ctx: &mut Self::Context) {
        let shared = self.shared.clone();
        let _run = shared.span.enter();
        if shared.stopping.load(Ordering::SeqCst) {
            // Final commit happens once the ingester has stored everything;
            // then the consumer leaves the group (dropping it closes it), so
            // the next member is assigned the partitions at once instead of
            // after the session timeout.
            if let Some(c) = self.consumer.take() {
                if shared.ledger.wait_all_stored(Duration::from_secs(60)) {
                    commit_last(&c, &shared.ledger);
                }
                c.unsubscribe();
                drop(c);
            }
            shared.consumer_done.store(true, Ordering::SeqCst);
            return;
        }
        let fatal = shared.health.fatal.lock().is_ok_and(|f| f.is_some());
        if fatal || self.connect().is_none() {
            // A fatal client polls no more; the run is stopping it.
            if fatal {
                std::thread::sleep(Duration::from_millis(50));
            }
            ctx.address().do_send(PollRound);
            return;
        }
        self.backpressure();
        let started = Instant::now();
        let mut taken = 0;
        let max = self.cfg.max_in_flight as u64;
        while started.elapsed() < Duration::from_millis(100) && taken < 1000 {
            // The bound holds per message, not per round (a round could take
            // up to 1,000 past it): a full window holds polling
            // back (messages wait in librdkafka's bounded prefetch queue),
            // and pauses the partitions only if it stays full.
            if !self.is_paused() && shared.ledger.in_flight() >= max {
                self.held_since.get_or_insert_with(Instant::now);
                self.backpressure();
                if !self.is_paused() {
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                }
            } else {
                self.held_since = None;
            }
            let c = self.consumer.as_ref().expect("connected");
            let wait = if self.is_paused() { 10 } else { 50 };
            match c.poll(Duration::from_millis(wait)) {
                Some(Ok(m)) => {
                    taken += 1;
                    shared.health.delivered.fetch_add(1, Ordering::Relaxed);
                    let topic = m.topic().to_string();
                    let seq = shared
                        .ledger
                        .deliver(Some((&topic, m.partition(), m.offset())));
                    let origin = Origin {
                        path: PathBuf::from(format!("kafka:{topic}")),
                        member: Some(format!("partition {} offset {}", m.partition(), m.offset())),
                        offset: None,
                    };
                    let item = match m.payload() {
                        Some(p) if !p.is_empty() => Ok(RawAlert {
                            origin,
                            bytes: p.to_vec().into(),
                            timestamp_ms: m.timestamp().to_millis(),
                        }),
                        _ => Err(SourceError::Message {
                            origin,
                            reason: "message without payload".into(),
                        }),
                    };
                    self.decoders.do_send(Decode { seq, item });
                }
                Some(Err(e)) => {
                    if let Some((code, reason)) = c.client().fatal_error() {
                        // Decided by librdkafka's fatal flag, not the text.
                        let why = format!("{code:?}: {reason}");
                        tracing::error!(error = %why, "kafka: fatal consumer error; stopping");
                        if let Ok(mut f) = shared.health.fatal.lock() {
                            f.get_or_insert(why);
                        }
                        break;
                    }
                    self.log_error(&e.to_string());
                    break;
                }
                None => {
                    if !self.is_paused() {
                        break;
                    }
                }
            }
        }
        if let Some(c) = &self.consumer {
            if self.last_full_commit.elapsed() >= FULL_COMMIT_EVERY {
                shared.ledger.recommit_all();
                self.last_full_commit = Instant::now();
            }
            commit(c, &shared.ledger, CommitMode::Async);
        }
        self.report_lag();
        ctx.address().do_send(PollRound);
    }
}
