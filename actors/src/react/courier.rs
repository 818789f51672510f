//! `Courier`: delivers one destination's reactions from the outbox, one at
//! a time, on its own arbiter thread, so a slow or failing destination
//! holds up nothing but itself (not T0-T2, not the other destinations).
//!
//! Each send is bracketed by archive writes: an atomic claim (`pending` ->
//! `sending`, attempts + 1) before, so that couriers of several processes
//! of one job never send the same reaction, and the outcome after. A
//! reaction still `sending` well past its timeout was interrupted by a
//! crash between send and record; it may have arrived, so it becomes
//! `uncertain` and is not sent again by itself (a reaction that succeeded
//! is never repeated). Answers that say "try
//! again" are retried with back-off and `Retry-After`; after
//! `max_attempts`, or an answer that will not change, the reaction is
//! `failed`: recorded in a t3 document, the stocks' journals and
//! `ampel_reactions_total{outcome="failed"}`, and re-armed by the next run
//! of its process.

use super::transport::Transport;
use actix::prelude::*;
use ampel::run::{now, Event, Telemetry};
use ampel::store::{
    Archive, JournalEntry, MetaRecord, ReactionDoc, ReactionQuery, ReactionState, StoreError,
    T3Doc, WriteOp,
};
use ampel::t3::react::{Attempt, DeliverySettings, RateLimit};
use serde_json::json;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// How often a courier looks for sends interrupted by a crash, and how
/// long past its timeout a send must be to count as interrupted.
const RECOVER_EVERY_S: f64 = 5.0;
const RECOVER_MARGIN_S: f64 = 5.0;

/// Code of a t3 document recording a reaction that finally failed.
pub const REACTION_FAILED: i64 = -3001;

/// Test hook: abort the process right after a destination accepted a
/// message and before that is recorded (the crash the journal must
/// survive). Never set in production.
pub const CRASH_AFTER_SEND: &str = "AMPEL_TEST_CRASH_AFTER_SEND";

pub struct Courier {
    id: String,
    transport: Rc<Transport>,
    settings: DeliverySettings,
    limit: RateLimit,
    archive_address: String,
    archive: Option<Box<dyn Archive>>,
    telemetry: Arc<dyn Telemetry>,
    /// The reaction being sent, with its attempts so far.
    in_flight: Option<(String, u32)>,
    /// [`CRASH_AFTER_SEND`] was set at start.
    crash_after_send: bool,
    /// When interrupted sends were last looked for.
    last_recover: f64,
    tally: Arc<super::Tally>,
}

/// Look for due reactions now.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Deliver;

/// How many reactions of this destination are not yet in a final state
/// (pending or sending), and how many of those are due now.
#[derive(Message)]
#[rtype(result = "(usize, usize)")]
pub struct Outstanding;

/// Stop: a send in flight is abandoned and its reaction left pending (no
/// answer was seen, so it was not delivered as far as we know).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

impl Courier {
    pub fn new(
        id: String,
        transport: Transport,
        settings: DeliverySettings,
        archive_address: String,
        telemetry: Arc<dyn Telemetry>,
        tally: Arc<super::Tally>,
    ) -> Self {
        Courier {
            limit: RateLimit::new(settings.rate_per_second, settings.burst, now()),
            id,
            transport: Rc::new(transport),
            settings,
            archive_address,
            archive: None,
            telemetry,
            in_flight: None,
            crash_after_send: std::env::var_os(CRASH_AFTER_SEND).is_some(),
            last_recover: 0.0,
            tally,
        }
    }

    fn archive(&mut self) -> Result<&mut dyn Archive, String> {
        if self.archive.is_none() {
            self.archive =
                Some(crate::store::open_archive(&self.archive_address).map_err(|e| e.to_string())?);
        }
        Ok(self.archive.as_mut().expect("opened").as_mut())
    }

    /// Runs `f` on the archive (opened on first use). On an error it is
    /// logged, the connection dropped (reopened next time) and None answered:
    /// the courier tries again at its next tick.
    fn with_archive<T>(
        &mut self,
        what: &str,
        f: impl FnOnce(&mut dyn Archive) -> Result<T, StoreError>,
    ) -> Option<T> {
        let id = self.id.clone();
        match self.archive().and_then(|a| f(a).map_err(|e| e.to_string())) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::warn!(destination = %id, error = %e, "courier: {what}");
                self.archive = None;
                None
            }
        }
    }

    fn write(&mut self, ops: Vec<WriteOp>) -> bool {
        self.with_archive("archive write failed; retrying later", |a| a.write(ops))
            .is_some()
    }

    fn journal(&self, r: &ReactionDoc, action: String, extra: serde_json::Value) -> Vec<WriteOp> {
        let ts = now();
        r.stocks()
            .into_iter()
            .map(|stock| WriteOp::Journal {
                stock,
                entry: JournalEntry {
                    run: r.run,
                    ts,
                    tier: 3,
                    process: format!("{}:{}", r.channel, r.process),
                    action: action.clone(),
                    channel: vec![r.channel.clone()],
                    alert: None,
                    extra: Some(extra.clone()),
                },
            })
            .collect()
    }

    fn event(&self, outcome: &str) {
        let n = match outcome {
            "delivered" => Some(&self.tally.delivered),
            "failed" => Some(&self.tally.failed),
            "uncertain" => Some(&self.tally.uncertain),
            _ => None,
        };
        if let Some(n) = n {
            n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        self.telemetry.event(Event::Reaction {
            destination: &self.id,
            outcome,
        });
    }

    /// Reactions left `sending` by a crashed process become uncertain. A
    /// live courier (this process's or another's) records a send within its
    /// timeout, so only those older than that are taken for dead.
    fn recover(&mut self) {
        let t = now();
        self.last_recover = t;
        let stale = t - (self.settings.timeout_seconds + RECOVER_MARGIN_S);
        let q = ReactionQuery {
            destination: Some(self.id.clone()),
            states: vec![ReactionState::Sending],
            ..Default::default()
        };
        let sending = self
            .with_archive("cannot read the outbox", |a| a.reactions(&q))
            .unwrap_or_default();
        for r in sending.into_iter().filter(|r| r.updated < stale) {
            tracing::error!(destination = %self.id, reaction = %r.id, stocks = ?r.stocks(),
                "reaction interrupted between send and record: it may have arrived, so it is not sent again (`ampel reactions retry --uncertain` resends)");
            let mut ops = vec![WriteOp::ReactionState {
                id: r.id.clone(),
                state: ReactionState::Uncertain,
                attempts: r.attempts,
                next_try: r.next_try,
                error: Some("interrupted between send and record".into()),
                ts: now(),
            }];
            ops.extend(self.journal(
                &r,
                format!("{}: uncertain", r.unit),
                json!({"reaction": r.id, "destination": self.id}),
            ));
            if self.write(ops) {
                self.event("uncertain");
            }
        }
    }

    fn next(&mut self, ctx: &mut Context<Self>) {
        if self.in_flight.is_some() {
            return;
        }
        let t = now();
        if t - self.last_recover >= RECOVER_EVERY_S {
            self.recover();
        }
        if let Err(wait) = self.limit.ready(t) {
            ctx.notify_later(Deliver, Duration::from_secs_f64(wait.min(60.0)));
            return;
        }
        // Claimed atomically: couriers of other processes (replicas of the
        // same job) never send the same reaction.
        let id = self.id.clone();
        let Some(Some(r)) =
            self.with_archive("cannot claim from the outbox", |a| a.claim_reaction(&id, t))
        else {
            return;
        };
        let _ = self.limit.take(t);
        let attempts = r.attempts;
        self.in_flight = Some((r.id.clone(), attempts));
        let transport = self.transport.clone();
        let send = async move {
            let a = transport.send(&r).await;
            (r, a)
        };
        ctx.spawn(send.into_actor(self).map(move |(r, a), act, ctx| {
            act.record(r, attempts, a);
            act.in_flight = None;
            ctx.notify(Deliver);
        }));
    }

    fn record(&mut self, r: ReactionDoc, attempts: u32, a: Attempt) {
        let t = now();
        let step = |state, next_try, error: Option<String>| WriteOp::ReactionState {
            id: r.id.clone(),
            state,
            attempts,
            next_try,
            error,
            ts: t,
        };
        match a {
            Attempt::Delivered => {
                if self.crash_after_send {
                    eprintln!("{CRASH_AFTER_SEND}: aborting after the send of {}", r.id);
                    std::process::abort();
                }
                let mut ops = vec![step(ReactionState::Delivered, r.next_try, None)];
                ops.extend(self.journal(
                    &r,
                    format!("{}: delivered", r.unit),
                    json!({"reaction": r.id, "destination": self.id, "attempts": attempts}),
                ));
                if self.write(ops) {
                    tracing::info!(destination = %self.id, reaction = %r.id, stocks = ?r.stocks(), attempts, "reaction delivered");
                    self.event("delivered");
                }
            }
            Attempt::Retry { error, retry_after } if attempts < self.settings.max_attempts => {
                let wait = self.settings.backoff(attempts, retry_after);
                if retry_after.is_some() {
                    self.limit.hold_until(t + wait);
                }
                tracing::warn!(destination = %self.id, reaction = %r.id, attempts, error = %error,
                    retry_in_s = wait, "reaction not delivered; retrying");
                if self.write(vec![step(ReactionState::Pending, t + wait, Some(error))]) {
                    self.event("retried");
                }
            }
            Attempt::Retry { error, .. } | Attempt::Rejected { error } => {
                tracing::error!(destination = %self.id, reaction = %r.id, attempts, error = %error,
                    "reaction failed; the next run of its process tries again");
                let mut ops = vec![step(ReactionState::Failed, t, Some(error.clone()))];
                let process = format!("{}:{}", r.channel, r.process);
                ops.push(WriteOp::T3(T3Doc {
                    run: r.run,
                    process: process.clone(),
                    unit: r.unit.clone(),
                    confid: ampel::run::react::destination_confid(&self.id),
                    channel: r.channel.clone(),
                    stock: r.stocks(),
                    code: REACTION_FAILED,
                    meta: MetaRecord {
                        run: r.run,
                        ts: t,
                        tier: 3,
                        process,
                        action: "deliver".into(),
                        channel: vec![r.channel.clone()],
                        code: Some(REACTION_FAILED),
                        duration: None,
                        alert: None,
                        extra: None,
                    },
                    body: json!({"reaction": r.id, "destination": self.id, "attempts": attempts, "error": error}),
                }));
                ops.extend(self.journal(
                    &r,
                    format!("{}: failed", r.unit),
                    json!({"reaction": r.id, "destination": self.id, "error": error}),
                ));
                if self.write(ops) {
                    self.event("failed");
                }
            }
        }
    }
}

impl Actor for Courier {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(Duration::from_millis(250), |act, ctx| act.next(ctx));
    }
}

impl Handler<Deliver> for Courier {
    type Result = ();
    fn handle(&mut self, _: Deliver, ctx: &mut Self::Context) {
        self.next(ctx);
    }
}

impl Handler<Outstanding> for Courier {
    type Result = MessageResult<Outstanding>;
    fn handle(&mut self, _: Outstanding, _: &mut Self::Context) -> Self::Result {
        let id = self.id.clone();
        let counts = self.with_archive("cannot read the outbox", |a| a.reactions_open(&id, now()));
        // Unknown: say something is left, so a drain keeps waiting.
        MessageResult(counts.unwrap_or((1, 0)))
    }
}

impl Handler<Shutdown> for Courier {
    type Result = ();
    fn handle(&mut self, _: Shutdown, ctx: &mut Self::Context) {
        if let Some((id, attempts)) = self.in_flight.take() {
            tracing::warn!(destination = %self.id, reaction = %id, "stopping with a send unanswered: it stays pending");
            self.write(vec![WriteOp::ReactionState {
                id,
                state: ReactionState::Pending,
                attempts,
                next_try: now(),
                error: Some("abandoned at shutdown before an answer".into()),
                ts: now(),
            }]);
        }
        ctx.stop();
    }
}
