//! Delivering reactions: one [`courier::Courier`] per destination of a
//! job's T3 units (Slack, webhooks, GCN and output topics), each on its own
//! arbiter thread, reading the outbox the T3 runs fill
//! (`ampel::t3::react`). Used by the live runtime while it runs and by
//! `ampel run` after a replay.

pub mod courier;
pub mod transport;

use actix::prelude::*;
use ampel::run::{T3Process, Telemetry};
use ampel::t3::react::Destination;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use courier::{Courier, CRASH_AFTER_SEND, REACTION_FAILED};

/// What the couriers of a process did (all destinations).
#[derive(Debug, Default)]
pub struct Tally {
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
    pub uncertain: AtomicU64,
}

impl Tally {
    pub fn line(&self) -> String {
        format!(
            "{} delivered, {} failed, {} uncertain",
            self.delivered.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            self.uncertain.load(Ordering::Relaxed)
        )
    }
}

/// A job's destinations with their transports built: secrets read and
/// clients made, so that a missing secret stops the start with a message
/// naming it, before any alert is taken (better not to start than to drop
/// reactions).
pub struct Prepared(
    Vec<(
        String,
        transport::Transport,
        ampel::t3::react::DeliverySettings,
    )>,
);

impl Prepared {
    pub fn new<'a>(processes: impl IntoIterator<Item = &'a T3Process>) -> anyhow::Result<Prepared> {
        let mut out = Vec::new();
        // Each destination once: processes may share a unit config.
        let destinations: BTreeMap<String, Destination> = processes
            .into_iter()
            .flat_map(|p| p.destinations())
            .collect();
        for (id, d) in destinations {
            out.push((
                id.clone(),
                transport::Transport::build(&id, &d)?,
                d.delivery().clone(),
            ));
        }
        Ok(Prepared(out))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How long delivering may take before giving up for this run: every
    /// attempt timing out after its longest back-off, plus a margin.
    pub fn patience(&self) -> Duration {
        let worst = self
            .0
            .iter()
            .map(|(_, _, s)| s.max_attempts as f64 * (s.timeout_seconds + s.max_backoff_seconds))
            .fold(0.0, f64::max);
        Duration::from_secs_f64(worst + 30.0)
    }
}

/// After a replay: runs the couriers until every queued reaction is
/// delivered or failed (or their patience ran out); answers what they did
/// and how many are left.
pub fn deliver_queued(
    prepared: Prepared,
    archive: &str,
    telemetry: Arc<dyn Telemetry>,
) -> (Arc<Tally>, usize) {
    let patience = prepared.patience();
    let archive = archive.to_string();
    System::new().block_on(async move {
        let c = Couriers::start(prepared, &archive, telemetry);
        let left = c.drain(patience).await;
        let tally = c.tally.clone();
        c.shutdown().await;
        (tally, left)
    })
}

impl Tally {
    /// Whether something was not delivered (exit status 6).
    pub fn incomplete(&self, left: usize) -> bool {
        left > 0
            || self.failed.load(Ordering::Relaxed) > 0
            || self.uncertain.load(Ordering::Relaxed) > 0
    }
}

/// The running couriers of a job.
pub struct Couriers {
    couriers: Vec<(String, Addr<Courier>)>,
    arbiters: Vec<Arbiter>,
    pub tally: Arc<Tally>,
}

impl Couriers {
    /// Starts a courier per destination, each on its own arbiter (inside
    /// an actix system).
    pub fn start(prepared: Prepared, archive: &str, telemetry: Arc<dyn Telemetry>) -> Couriers {
        let tally = Arc::new(Tally::default());
        let mut couriers = Vec::new();
        let mut arbiters = Vec::new();
        for (id, tr, settings) in prepared.0 {
            let arbiter = Arbiter::new();
            let (i, a, t, n) = (
                id.clone(),
                archive.to_string(),
                telemetry.clone(),
                tally.clone(),
            );
            let addr = Courier::start_in_arbiter(&arbiter.handle(), move |_| {
                Courier::new(i, tr, settings, a, t, n)
            });
            tracing::info!(destination = %id, "courier started");
            couriers.push((id, addr));
            arbiters.push(arbiter);
        }
        Couriers {
            couriers,
            arbiters,
            tally,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.couriers.is_empty()
    }

    /// Reactions not yet delivered or failed, and how many are due now.
    pub async fn outstanding(&self) -> (usize, usize) {
        let mut total = (0, 0);
        for (_, c) in &self.couriers {
            if let Ok((n, due)) = c.send(courier::Outstanding).await {
                total.0 += n;
                total.1 += due;
            }
        }
        total
    }

    /// Nudges every courier to look at the outbox now (after a T3 run).
    pub fn nudge(&self) {
        for (_, c) in &self.couriers {
            c.do_send(courier::Deliver);
        }
    }

    /// Waits until every reaction is delivered or failed for this run, or
    /// `limit` passed; answers how many are left.
    pub async fn drain(&self, limit: Duration) -> usize {
        let t = Instant::now();
        let mut last_report = Instant::now();
        loop {
            self.nudge();
            let (left, due) = self.outstanding().await;
            if left == 0 {
                return 0;
            }
            if t.elapsed() >= limit {
                return left;
            }
            if last_report.elapsed() >= Duration::from_secs(5) {
                tracing::info!(left, due, "delivering reactions");
                last_report = Instant::now();
            }
            actix::clock::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn shutdown(self) {
        for (_, c) in &self.couriers {
            let _ = c.send(courier::Shutdown).await;
        }
        for a in self.arbiters {
            a.stop();
        }
    }
}
