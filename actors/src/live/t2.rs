//! T2 workers: a pool of sync actors (CPU-bound units never run on an
//! async thread). Each takes entries from the T2 queue (in-process, or
//! Redis Streams shared with other processes), claims their documents in
//! the archive (atomic: a document runs once even if queued twice), runs
//! them, stores the results, releases tied documents whose dependencies are
//! now done, and acknowledges the entries. When the queue runs dry, one
//! worker re-queues the archive's runnable documents (ended back-offs, and
//! work a lost Redis forgot). A panic outside a unit (units' own panics are
//! EXCEPTION results) puts the documents back, records a dead letter and
//! restarts the worker.

use super::supervise::{panic_text, Restarts};
use super::Shared;
use actix::prelude::*;
use ampel::hot::{QueuedT2, T2Queue};
use ampel::run::{now, Event, T2Worker, Telemetry};
use ampel::store::{code, Archive, T2Key, WriteOp};
use serde_json::json;
use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Take and run the next entries.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Work;

/// What every T2 actor of a process shares.
pub struct T2Pool {
    pub worker: Arc<T2Worker>,
    pub archive: String,
    pub queue: Arc<dyn Fn() -> Result<Box<dyn T2Queue>, String> + Send + Sync>,
    pub shared: Arc<Shared>,
    pub telemetry: Arc<dyn Telemetry>,
    pub run: i64,
    pub restarts: Restarts,
    /// When the queue was last refilled from the archive.
    pub last_sweep: Mutex<Instant>,
}

pub struct T2Actor {
    pool: Arc<T2Pool>,
    archive: Option<Box<dyn Archive>>,
    queue: Option<Box<dyn T2Queue>>,
}

impl T2Actor {
    pub fn factory(pool: Arc<T2Pool>) -> impl Fn() -> T2Actor + Send + Sync + 'static {
        move || {
            pool.restarts.built();
            T2Actor {
                pool: pool.clone(),
                archive: None,
                queue: None,
            }
        }
    }

    /// Opens archive and queue when missing; false when either failed.
    fn connect(&mut self) -> bool {
        if self.archive.is_none() {
            match crate::store::open_archive(&self.pool.archive) {
                Ok(a) => self.archive = Some(a),
                Err(e) => {
                    tracing::warn!(error = %e, "T2 worker: opening the archive failed; retrying");
                    return false;
                }
            }
        }
        if self.queue.is_none() {
            match (self.pool.queue)() {
                Ok(q) => self.queue = Some(q),
                Err(e) => {
                    tracing::warn!(error = %e, "T2 worker: opening the queue failed; retrying");
                    return false;
                }
            }
        }
        true
    }

    /// One round: take, claim, run, store, release, acknowledge.
    fn round(&mut self) -> Result<usize, String> {
        let queue = self.queue.as_mut().expect("connected");
        let archive = self.archive.as_mut().expect("connected");
        let items = match queue.pop(16, Duration::from_millis(200)) {
            Ok(i) => i,
            Err(e) => {
                self.queue = None;
                return Err(e.to_string());
            }
        };
        if items.is_empty() {
            self.sweep();
            return Ok(0);
        }
        let pool = self.pool.clone();
        pool.shared.t2_busy.fetch_add(1, Ordering::SeqCst);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            run_items(&pool, archive.as_mut(), &items)
        }));
        pool.shared.t2_busy.fetch_sub(1, Ordering::SeqCst);
        let queue = self.queue.as_mut().expect("connected");
        match outcome {
            Ok(Ok((runs, released))) => {
                if let Err(e) = queue.push(&released) {
                    tracing::warn!(error = %e, "re-queueing released tied documents failed; the sweep picks them up");
                }
                if let Err(e) = queue.ack(&items) {
                    tracing::warn!(error = %e, "acknowledging T2 entries failed; they may be run again (claims make that harmless)");
                }
                Ok(runs)
            }
            Ok(Err(e)) => {
                // Archive trouble: the entries stay unacknowledged (Redis
                // hands them to another worker later); reopen next round.
                self.archive = None;
                Err(e)
            }
            Err(p) => {
                let why = panic_text(&*p);
                let keys: Vec<T2Key> = items.iter().map(|i| i.key.clone()).collect();
                let mut ops: Vec<WriteOp> = keys
                    .iter()
                    .map(|k| WriteOp::T2Code {
                        key: k.clone(),
                        code: code::NEW,
                    })
                    .collect();
                ops.push(WriteOp::Trouble(json!({
                    "kind": "dead_letter", "tier": 2, "run": pool.run, "ts": now(),
                    "error": format!("T2 worker panicked: {why}"),
                    "t2": keys,
                })));
                if let Some(a) = self.archive.as_mut() {
                    if let Err(e) = a.write(ops) {
                        tracing::error!(error = %e, "recording the T2 panic failed");
                    }
                }
                let _ = queue.ack(&items);
                pool.telemetry
                    .event(Event::DeadLetter { reason: "t2_panic" });
                Err(format!("panic: {why}"))
            }
        }
    }

    /// When nothing is queued anywhere, re-queue the archive's runnable
    /// documents (at most every 2 s, by one worker of the process).
    fn sweep(&mut self) {
        {
            let mut last = self
                .pool
                .last_sweep
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if last.elapsed() < Duration::from_secs(2) {
                return;
            }
            *last = Instant::now();
        }
        let (Some(queue), Some(archive)) = (self.queue.as_mut(), self.archive.as_ref()) else {
            return;
        };
        let queued: u64 = match queue.depth() {
            Ok(d) => d.values().sum(),
            Err(_) => return,
        };
        if queued > 0 {
            return;
        }
        match self.pool.worker.runnable(archive.as_ref(), now()) {
            Ok(keys) if !keys.is_empty() => {
                tracing::info!(
                    documents = keys.len(),
                    "T2: re-queueing runnable documents found in the archive"
                );
                let items: Vec<_> = keys.into_iter().map(|k| (k, None)).collect();
                if let Err(e) = queue.push(&items) {
                    tracing::warn!(error = %e, "T2: re-queueing failed");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "T2: reading runnable documents failed"),
        }
        self.take_over_stale();
    }

    /// Runs RUNNING documents whose claim is older than
    /// `reclaim_after_seconds`: their worker died, and after a Redis restart
    /// no pending queue entry remembers them, so only the archive can say.
    /// (Queueing them would not do: a fresh entry never steals RUNNING.)
    fn take_over_stale(&mut self) {
        let Some(archive) = self.archive.as_mut() else {
            return;
        };
        let keys = match self.pool.worker.stale_running(archive.as_ref(), now()) {
            Ok(keys) if !keys.is_empty() => keys,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(error = %e, "T2: reading RUNNING documents failed");
                return;
            }
        };
        tracing::warn!(
            documents = keys.len(),
            "T2: taking over documents claimed by a worker that is gone (RUNNING past reclaim_after_seconds)"
        );
        let items: Vec<QueuedT2> = keys
            .into_iter()
            .map(|key| QueuedT2 {
                entry: String::new(),
                key,
                since: None,
                reclaimed: true,
            })
            .collect();
        let pool = self.pool.clone();
        match run_items(&pool, archive.as_mut(), &items) {
            Ok((_, released)) => {
                if let Some(q) = self.queue.as_mut() {
                    if let Err(e) = q.push(&released) {
                        tracing::warn!(error = %e, "re-queueing released tied documents failed; the sweep picks them up");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "T2: taking over stale documents failed"),
        }
    }
}

/// A document to queue again, with its alert's stream time.
type Requeue = (T2Key, Option<f64>);

/// Claims, runs and stores `items`; returns the runs and the tied
/// documents released for the queue.
fn run_items(
    pool: &T2Pool,
    archive: &mut dyn Archive,
    items: &[QueuedT2],
) -> Result<(usize, Vec<Requeue>), String> {
    let t = now();
    let (stolen, fresh): (Vec<&QueuedT2>, Vec<&QueuedT2>) = items.iter().partition(|i| i.reclaimed);
    // (A document queued twice is claimed once: the archive's contract.)
    let keys = |v: &[&QueuedT2]| v.iter().map(|i| i.key.clone()).collect::<Vec<_>>();
    let mut docs = archive
        .claim_t2_keys(&keys(&fresh), t, false)
        .map_err(|e| e.to_string())?;
    docs.extend(
        archive
            .claim_t2_keys(&keys(&stolen), t, true)
            .map_err(|e| e.to_string())?,
    );
    if docs.is_empty() {
        return Ok((0, Vec::new()));
    }
    let runs = docs.len();
    let done = pool
        .worker
        .run_claimed(archive, docs, pool.run)
        .map_err(|e| e.to_string())?;
    pool.shared.t2_runs.fetch_add(runs as u64, Ordering::SeqCst);
    let end = now();
    let mut stocks = BTreeSet::new();
    for (key, c) in &done {
        stocks.insert(key.stock);
        if *c >= 0 {
            if let Some(since) = items.iter().find(|i| &i.key == key).and_then(|i| i.since) {
                pool.telemetry.event(Event::T2Latency {
                    seconds: (end - since).max(0.0),
                });
            }
        }
    }
    let mut released = Vec::new();
    for s in stocks {
        for k in pool
            .worker
            .release_pending(archive, s)
            .map_err(|e| e.to_string())?
        {
            let since = items
                .iter()
                .find(|i| i.key.stock == k.stock)
                .and_then(|i| i.since);
            released.push((k, since));
        }
    }
    Ok((runs, released))
}

impl Actor for T2Actor {
    type Context = SyncContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.address().do_send(Work);
    }
}

impl Handler<Work> for T2Actor {
    type Result = ();

    fn handle(&mut self, _: Work, ctx: &mut Self::Context) {
        let span = self.pool.shared.span.clone();
        let _run = span.enter();
        if self.pool.shared.t2_stop.load(Ordering::SeqCst) {
            return;
        }
        if !self.connect() {
            std::thread::sleep(Duration::from_secs(1));
        } else if let Err(e) = self.round() {
            if e.starts_with("panic: ") {
                tracing::error!(reason = %e, "T2 worker panicked; restarting it");
                ctx.stop();
                return;
            }
            tracing::warn!(error = %e, "T2 worker: retrying in 1 s");
            std::thread::sleep(Duration::from_secs(1));
        }
        ctx.address().do_send(Work);
    }
}
