//! T3Reactor: runs the channels' T3 processes while the broker is live, on
//! its own arbiter thread (T3 reads the archive and may block). Processes
//! with a `schedule` run when it fires; those without one run after new T2
//! results (at most every `min_interval`, once the T2 queue is quiet).
//! In `ampel worker t3` the T2 work is elsewhere: there the trigger reads
//! the archive instead of the process's counters ([`Trigger::Archive`]).
//! Supervised: a panic in a T3 run is recorded as a dead letter, the actor
//! is restarted by its `Supervisor` and the restart counted.

use super::supervise::{panic_text, Restarts};
use super::Shared;
use actix::prelude::*;
use ampel::job::Schedule;
use ampel::run::{now, run_process, Event, T2Worker, T3Process, Telemetry};
use ampel::store::{Archive, WriteOp};
use serde_json::json;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Run every process once now (the end of a catch-up run); answers the
/// unit runs.
#[derive(Message)]
#[rtype(result = "u64")]
pub struct RunAll;

/// What tells the reactor that T2 results arrived and the T2 work is quiet.
pub enum Trigger {
    /// This process's T2 actors (their run count and the queue backlog).
    Local,
    /// The archive, polled every `min_interval`: T2 documents in all, and
    /// whether any of the job's is still unfinished.
    Archive(Arc<T2Worker>),
}

pub struct T3Reactor {
    /// Each process with its next scheduled time (infinite without one).
    processes: Vec<(T3Process, f64)>,
    archive_address: String,
    archive: Option<Box<dyn Archive>>,
    shared: Arc<Shared>,
    telemetry: Arc<dyn Telemetry>,
    run: i64,
    restarts: Restarts,
    /// T2 runs seen at the last triggered T3 run.
    seen_t2: u64,
    last_triggered: f64,
    min_interval: f64,
    trigger: Trigger,
    /// The archive's progress mark at its last poll, and when that was.
    polled: (u64, bool, f64),
}

impl T3Reactor {
    pub fn new(
        processes: Vec<T3Process>,
        archive_address: String,
        shared: Arc<Shared>,
        telemetry: Arc<dyn Telemetry>,
        run: i64,
        restarts: Restarts,
        trigger: Trigger,
    ) -> Self {
        let t = now();
        T3Reactor {
            processes: processes
                .into_iter()
                .map(|p| {
                    let next = next_after(&p.schedule, t);
                    (p, next)
                })
                .collect(),
            archive_address,
            archive: None,
            shared,
            telemetry,
            run,
            restarts,
            seen_t2: 0,
            last_triggered: 0.0,
            min_interval: 5.0,
            trigger,
            polled: (0, false, f64::NEG_INFINITY),
        }
    }

    fn open(&mut self) -> Result<&mut Box<dyn Archive>, String> {
        if self.archive.is_none() {
            self.archive =
                Some(crate::store::open_archive(&self.archive_address).map_err(|e| e.to_string())?);
        }
        Ok(self.archive.as_mut().expect("opened"))
    }

    /// T2 progress (a number that grows with T2 results) and whether the
    /// T2 work is quiet.
    fn progress(&mut self, t: f64) -> (u64, bool) {
        let worker = match &self.trigger {
            Trigger::Local => {
                return (
                    self.shared.t2_runs.load(Ordering::SeqCst),
                    self.shared.t2_backlog.load(Ordering::SeqCst) == 0,
                )
            }
            Trigger::Archive(w) => Arc::clone(w),
        };
        if t - self.polled.2 < self.min_interval {
            return (self.polled.0, self.polled.1);
        }
        let seen = self.seen_t2;
        let read = self.open().and_then(|a| {
            let total = a.t2_count().map_err(|e| e.to_string())?;
            // Only new documents can trigger a run: the costlier count of
            // unfinished ones is asked only then.
            if total <= seen {
                return Ok((total, false));
            }
            let open = worker.unfinished(a.as_ref()).map_err(|e| e.to_string())?;
            Ok((total, open == 0))
        });
        match read {
            Ok((total, quiet)) => self.polled = (total, quiet, t),
            Err(e) => {
                self.archive = None;
                self.polled.2 = t;
                tracing::warn!(error = %e, "reading T2 progress from the archive failed");
            }
        }
        (self.polled.0, self.polled.1)
    }

    /// Runs the processes selected by `which`; returns unit runs.
    fn run_some(&mut self, which: &dyn Fn(usize) -> bool) -> Result<u64, String> {
        self.open()?;
        let archive = self.archive.as_mut().expect("opened");
        let mut runs = 0;
        for (_, entry) in self.processes.iter().enumerate().filter(|(i, _)| which(*i)) {
            let p = &entry.0;
            tracing::info!(channel = %p.channel, process = %p.name, run = self.run, "T3 process starting");
            let r = catch_unwind(AssertUnwindSafe(|| {
                run_process(p, archive.as_mut(), self.run, self.telemetry.as_ref())
            }));
            match r {
                Ok(Ok(done)) => {
                    runs += done.runs;
                    self.shared
                        .t3_failed
                        .fetch_add(done.failed, Ordering::SeqCst);
                }
                Ok(Err(e)) => {
                    self.archive = None;
                    return Err(format!("T3 {}: {e}", p.name));
                }
                Err(panic) => {
                    let why = panic_text(&*panic);
                    let _ = archive.write(vec![WriteOp::Trouble(json!({
                        "kind": "dead_letter", "tier": 3, "run": self.run, "ts": now(),
                        "channel": p.channel, "process": p.name,
                        "error": format!("T3 process panicked: {why}"),
                    }))]);
                    self.telemetry
                        .event(Event::DeadLetter { reason: "t3_panic" });
                    return Err(format!("panic: T3 {} panicked: {why}", p.name));
                }
            }
        }
        self.shared.t3_runs.fetch_add(runs, Ordering::SeqCst);
        Ok(runs)
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        let span = self.shared.span.clone();
        let _run = span.enter();
        let t = now();
        // Progress is read only for processes that run after T2 results.
        let after_t2 = self.processes.iter().any(|(p, _)| p.schedule.is_none());
        let (t2, quiet) = if after_t2 {
            self.progress(t)
        } else {
            (self.seen_t2, false)
        };
        let triggered = t2 > self.seen_t2 && quiet && t - self.last_triggered >= self.min_interval;
        let due: Vec<bool> = self
            .processes
            .iter()
            .map(|(p, next)| match p.schedule {
                Some(_) => *next <= t,
                None => triggered,
            })
            .collect();
        if !due.iter().any(|d| *d) {
            return;
        }
        if triggered {
            self.seen_t2 = t2;
            self.last_triggered = t;
        }
        for ((p, next), due) in self.processes.iter_mut().zip(&due) {
            if *due {
                *next = next_after(&p.schedule, t);
            }
        }
        let result = self.run_some(&|i| due[i]);
        self.after(result, ctx);
    }

    fn after(&mut self, result: Result<u64, String>, ctx: &mut Context<Self>) {
        if let Err(e) = result {
            if e.starts_with("panic: ") {
                tracing::error!(reason = %e, "T3 reactor panicked; restarting it");
                ctx.stop();
            } else {
                tracing::warn!(error = %e, "T3 run failed; it runs again at its next trigger");
            }
        }
    }
}

fn next_after(s: &Option<Schedule>, t: f64) -> f64 {
    s.as_ref().map_or(f64::INFINITY, |s| s.next_after(t))
}

impl Actor for T3Reactor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(Duration::from_secs(1), |act, ctx| act.tick(ctx));
    }
}

impl Supervised for T3Reactor {
    fn restarting(&mut self, _: &mut Self::Context) {
        self.archive = None;
        self.restarts.restarted();
    }
}

impl Handler<RunAll> for T3Reactor {
    type Result = u64;
    fn handle(&mut self, _: RunAll, ctx: &mut Self::Context) -> u64 {
        let r = self.run_some(&|_| true);
        let runs = *r.as_ref().unwrap_or(&0);
        self.after(r, ctx);
        runs
    }
}
