//! The T2 worker: claims NEW documents atomically (NEW -> RUNNING), loads
//! their input, runs the unit (a panic becomes EXCEPTION, not a crash),
//! and records body, meta and code. Failures are retried with exponential
//! back-off up to `max_try`, then TOO_MANY_TRIALS. Tied units wait in
//! T2_PENDING_DEPENDENCY until their dependencies are done.

use super::now;
use super::t2_input::{InputLoader, LoadedInput};
use super::telemetry::{Event, Telemetry};
use crate::job::T2Settings;
use crate::store::{code, Archive, LogDoc, MetaRecord, StoreError, T2Doc, T2Key, T2Query, WriteOp};
use crate::t2::{T2Input, T2Kind, T2Outcome, T2Unit};
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

/// A T2 unit a channel asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct T2Spec {
    pub unit: String,
    pub config: i64,
    pub kind: T2Kind,
}

/// A job's T2 units by (unit, config id), and for each tied one the
/// (unit, config id) of its dependencies, resolved when the job was built
/// (so a tied unit finds exactly the documents its dependency writes).
#[derive(Default)]
pub struct T2Units {
    pub units: HashMap<(String, i64), Arc<dyn T2Unit>>,
    pub dependencies: HashMap<(String, i64), Vec<(String, i64)>>,
}

pub struct T2Worker {
    telemetry: Arc<dyn Telemetry>,
    units: HashMap<(String, i64), Arc<dyn T2Unit>>,
    dependencies: HashMap<(String, i64), Vec<(String, i64)>>,
    names: Vec<String>,
    loader: InputLoader,
    settings: T2Settings,
}

/// How a dependency stands.
enum Deps {
    Ready(BTreeMap<String, Json>),
    Pending,
    /// A dependency has no document at all.
    Missing(String),
    /// A dependency ended in an error.
    Failed(String),
}

const BATCH: usize = 64;

/// The unit names of (unit, config) keys, sorted, each once.
fn names_of<'a>(keys: impl Iterator<Item = &'a (String, i64)>) -> Vec<String> {
    let mut names: Vec<String> = keys.map(|(u, _)| u.clone()).collect();
    names.sort();
    names.dedup();
    names
}

impl T2Worker {
    pub fn new(t2: T2Units, settings: T2Settings) -> Self {
        let T2Units {
            units,
            dependencies,
        } = t2;
        let names = names_of(units.keys());
        let loader = InputLoader::new(units.values());
        T2Worker {
            telemetry: Arc::new(super::telemetry::NoTelemetry),
            units,
            dependencies,
            names,
            loader,
            settings,
        }
    }

    pub fn set_telemetry(&mut self, t: Arc<dyn Telemetry>) {
        self.telemetry = t;
    }

    /// Runs until no document of this worker's units is left to do, or
    /// until `stop` says so (checked between batches and during back-off
    /// waits); tells `progress` the runs done and to do after each batch.
    /// Returns the number of unit runs. RUNNING documents are left alone:
    /// a caller that owns them resets them first ([`Self::reset_running`]).
    pub fn drain_until(
        &self,
        archive: &mut dyn Archive,
        run: i64,
        stop: &dyn Fn() -> bool,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<u64, StoreError> {
        let mut total = self.unfinished(archive)? as u64;
        let mut runs = 0;
        progress(0, total);
        while !stop() {
            let docs = archive.claim_t2(now(), BATCH, &self.names)?;
            if docs.is_empty() {
                if self.move_pending_on(archive, None)?.0 {
                    continue;
                }
                match self.next_retry(archive)? {
                    Some(wait) => {
                        sleep_unless(stop, wait.clamp(0.0, 60.0));
                        continue;
                    }
                    None => break,
                }
            }
            runs += docs.len() as u64;
            // Retries and tied units can add to what was counted.
            total = total.max(runs);
            self.run_claimed(archive, docs, run)?;
            progress(runs, total);
        }
        Ok(runs)
    }

    /// Runs documents this worker has claimed and records their results in
    /// one write. Returns each document's key and new code.
    pub fn run_claimed(
        &self,
        archive: &mut dyn Archive,
        docs: Vec<T2Doc>,
        run: i64,
    ) -> Result<Vec<(T2Key, i64)>, StoreError> {
        let mut ops = Vec::new();
        let mut done = Vec::with_capacity(docs.len());
        // Units on the same state share one load of its input.
        let mut inputs: HashMap<(i64, i64, T2Kind), Result<LoadedInput, String>> = HashMap::new();
        for d in docs {
            let key = d.key();
            for op in self.run_one(archive, d, run, &mut inputs)? {
                if let WriteOp::T2Result { code, .. } = &op {
                    done.push((key.clone(), *code));
                }
                ops.push(op);
            }
        }
        archive.write(ops)?;
        Ok(done)
    }

    /// The unit names this worker runs.
    pub fn unit_names(&self) -> &[String] {
        &self.names
    }

    /// The units whose input is fixed when their document is written (a
    /// state, a datapoint): their result does not depend on when they
    /// run. A stock unit reads whatever the stock holds at that moment.
    pub fn fixed_input_unit_names(&self) -> Vec<String> {
        names_of(
            self.units
                .iter()
                .filter(|(_, u)| u.kind() != T2Kind::Stock)
                .map(|(key, _)| key),
        )
    }

    /// Tied documents of `stock` waiting for dependencies that are now
    /// done (or failed) are moved on; returns the keys made runnable again
    /// (for a live runtime's queue).
    pub fn release_pending(
        &self,
        archive: &mut dyn Archive,
        stock: i64,
    ) -> Result<Vec<T2Key>, StoreError> {
        Ok(self.move_pending_on(archive, Some(stock))?.1)
    }

    /// Documents of this worker's units with `code` (of `stock`, if given).
    fn mine(
        &self,
        archive: &dyn Archive,
        code: i64,
        stock: Option<i64>,
    ) -> Result<Vec<T2Doc>, StoreError> {
        let mut docs = archive.t2(&T2Query {
            stock,
            code: Some(code),
            ..Default::default()
        })?;
        docs.retain(|d| self.unit(d).is_some());
        Ok(docs)
    }

    /// Puts this worker's documents left RUNNING (by a crash) back to NEW:
    /// for a process that owns all of the archive's T2 work.
    pub fn reset_running(&self, archive: &mut dyn Archive) -> Result<(), StoreError> {
        let stale = self
            .mine(archive, code::RUNNING, None)?
            .into_iter()
            .map(|d| WriteOp::T2Code {
                key: d.key(),
                code: code::NEW,
            })
            .collect();
        archive.write(stale)
    }

    /// Documents of this worker's units that are runnable now (NEW, or
    /// RERUN_REQUESTED past their back-off) without taking them: what a
    /// live runtime re-queues when its queue has lost entries (a Redis
    /// restart) or a back-off ends.
    pub fn runnable(&self, archive: &dyn Archive, now: f64) -> Result<Vec<T2Key>, StoreError> {
        let mut keys = Vec::new();
        for c in [code::NEW, code::RERUN_REQUESTED] {
            keys.extend(
                self.mine(archive, c, None)?
                    .into_iter()
                    .filter(|d| d.retry_after.is_none_or(|t| t <= now))
                    .map(|d| d.key()),
            );
        }
        Ok(keys)
    }

    /// RUNNING documents of this worker's units whose claim is older than
    /// `reclaim_after_seconds` (or unrecorded): their worker is gone, and
    /// only the archive still knows of them (a Redis restart erases the
    /// queue's pending entries). A live runtime takes them over.
    pub fn stale_running(&self, archive: &dyn Archive, now: f64) -> Result<Vec<T2Key>, StoreError> {
        let lease = self.settings.reclaim_after_seconds;
        Ok(self
            .mine(archive, code::RUNNING, None)?
            .into_iter()
            .filter(|d| d.claimed_at.is_none_or(|t| t + lease <= now))
            .map(|d| d.key())
            .collect())
    }

    /// Documents of this worker's units not finished yet: runnable, backing
    /// off, running or waiting for dependencies. The codes are read in the
    /// order documents move through them (waiting, NEW, RUNNING), so one
    /// that moves on between two reads is still counted by the later one;
    /// a failure that sends a document back (RUNNING -> NEW) can be missed
    /// once, which is why callers confirm a zero.
    pub fn unfinished(&self, archive: &dyn Archive) -> Result<usize, StoreError> {
        let mut n = 0;
        for c in [
            code::T2_PENDING_DEPENDENCY,
            code::NEW,
            code::RERUN_REQUESTED,
            code::RUNNING,
        ] {
            for (unit, config) in self.units.keys() {
                n += archive.count_t2(&T2Query {
                    unit: Some(unit.clone()),
                    config: Some(*config),
                    code: Some(c),
                    ..Default::default()
                })?;
            }
        }
        Ok(n)
    }

    fn unit(&self, d: &T2Doc) -> Option<&Arc<dyn T2Unit>> {
        self.units.get(&(d.unit.clone(), d.config))
    }

    fn deps(&self, archive: &dyn Archive, d: &T2Doc) -> Result<Deps, StoreError> {
        let mut bodies = BTreeMap::new();
        let none = Vec::new();
        let deps = self
            .dependencies
            .get(&(d.unit.clone(), d.config))
            .unwrap_or(&none);
        for (dep_unit, id) in deps {
            let id = *id;
            let found = archive
                .t2(&T2Query {
                    stock: Some(d.stock),
                    unit: Some(dep_unit.clone()),
                    ..Default::default()
                })?
                .into_iter()
                .find(|x| x.config == id && x.link == d.link);
            match found {
                None => {
                    return Ok(Deps::Missing(format!(
                        "{} (config {id}) has no document for link {}",
                        dep_unit, d.link
                    )))
                }
                Some(x) if x.code >= 0 => {
                    bodies.insert(
                        dep_unit.clone(),
                        x.latest_body().cloned().unwrap_or(Json::Null),
                    );
                }
                Some(x)
                    if [
                        code::NEW,
                        code::RUNNING,
                        code::RERUN_REQUESTED,
                        code::T2_PENDING_DEPENDENCY,
                    ]
                    .contains(&x.code) =>
                {
                    return Ok(Deps::Pending)
                }
                Some(x) => {
                    return Ok(Deps::Failed(format!(
                        "{} ended with {}",
                        dep_unit,
                        code::name(x.code)
                    )))
                }
            }
        }
        Ok(Deps::Ready(bodies))
    }

    /// Moves waiting tied documents (of `stock`, or all) on: NEW when their
    /// dependencies are done, T2_FAILED_DEPENDENCY when one failed. Returns
    /// whether anything changed, and the keys made NEW.
    fn move_pending_on(
        &self,
        archive: &mut dyn Archive,
        stock: Option<i64>,
    ) -> Result<(bool, Vec<T2Key>), StoreError> {
        let mut ops = Vec::new();
        let mut ready = Vec::new();
        for d in self.mine(archive, code::T2_PENDING_DEPENDENCY, stock)? {
            let code = match self.deps(archive, &d)? {
                Deps::Ready(_) => {
                    ready.push(d.key());
                    code::NEW
                }
                Deps::Missing(_) | Deps::Failed(_) => code::T2_FAILED_DEPENDENCY,
                Deps::Pending => continue,
            };
            ops.push(WriteOp::T2Code { key: d.key(), code });
        }
        let changed = !ops.is_empty();
        archive.write(ops)?;
        Ok((changed, ready))
    }

    /// Seconds until the earliest back-off of this worker's documents ends.
    fn next_retry(&self, archive: &dyn Archive) -> Result<Option<f64>, StoreError> {
        let t = now();
        Ok(self
            .mine(archive, code::RERUN_REQUESTED, None)?
            .iter()
            .map(|d| d.retry_after.map_or(0.0, |r| r - t))
            .reduce(f64::min))
    }

    fn run_one(
        &self,
        archive: &dyn Archive,
        d: T2Doc,
        run: i64,
        inputs: &mut HashMap<(i64, i64, T2Kind), Result<LoadedInput, String>>,
    ) -> Result<Vec<WriteOp>, StoreError> {
        let key = d.key();
        let unit = self
            .unit(&d)
            .expect("claimed by unit name and config")
            .clone();
        // The write recording this run: code, optional body, a meta record
        // (with the error, if any), trials and back-off.
        let record = |code: i64,
                      body: Option<Json>,
                      duration: Option<f64>,
                      error: Option<&str>,
                      trials: u32,
                      retry_after: Option<f64>| WriteOp::T2Result {
            key: key.clone(),
            code,
            body,
            meta: MetaRecord {
                run,
                ts: now(),
                tier: 2,
                process: "t2".into(),
                action: "run".into(),
                channel: d.channel.clone(),
                code: Some(code),
                duration,
                alert: None,
                extra: error.map(|e| json!({"error": e})),
            },
            trials,
            retry_after,
        };
        let deps = match self.deps(archive, &d)? {
            Deps::Ready(b) => b,
            Deps::Pending => {
                let c = code::T2_PENDING_DEPENDENCY;
                return Ok(vec![record(c, None, None, None, d.trials, None)]);
            }
            Deps::Missing(why) => {
                let c = code::T2_MISSING_DEPENDENCY;
                return Ok(vec![record(c, None, None, Some(&why), d.trials, None)]);
            }
            Deps::Failed(why) => {
                let c = code::T2_FAILED_DEPENDENCY;
                return Ok(vec![record(c, None, None, Some(&why), d.trials, None)]);
            }
        };
        let slot = (d.stock, d.link, unit.kind());
        if let std::collections::hash_map::Entry::Vacant(e) = inputs.entry(slot) {
            e.insert(self.loader.load(archive, unit.kind(), &d)?);
        }
        let loaded = match &inputs[&slot] {
            Ok(l) => l,
            Err(why) => {
                return Ok(vec![record(
                    code::ERROR,
                    None,
                    None,
                    Some(why),
                    d.trials,
                    None,
                )])
            }
        };
        let input = T2Input {
            stock: d.stock,
            datapoints: &loaded.dps,
            state: loaded.state.as_ref(),
            stock_doc: loaded.stock.as_ref(),
            dependencies: &deps,
        };
        let t0 = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| unit.process(&input)));
        let secs = t0.elapsed().as_secs_f64();
        let mut ops = Vec::new();
        let mut log = |level: &str, msg: String| {
            ops.push(WriteOp::Log(LogDoc {
                run,
                ts: now(),
                level: level.into(),
                tier: Some(2),
                stock: Some(d.stock),
                channel: d.channel.first().cloned(),
                alert: None,
                msg,
                extra: Some(json!({"unit": d.unit, "config": d.config, "link": d.link})),
            }))
        };
        let (trials, dt) = (d.trials, Some(secs));
        let op = match outcome {
            Ok(T2Outcome::Ok(body)) => record(code::OK, Some(body), dt, None, trials, None),
            Ok(T2Outcome::Code(c, body)) if c > 0 => record(c, Some(body), dt, None, trials, None),
            Ok(T2Outcome::Code(c, _)) => {
                let why = format!(
                    "{} returned the system code {c}; units may only use positive codes",
                    d.unit
                );
                log("error", why.clone());
                record(code::ERROR, None, dt, Some(&why), trials, None)
            }
            Ok(T2Outcome::Error(why)) => {
                log("error", format!("{} failed: {why}", d.unit));
                record(code::ERROR, None, dt, Some(&why), trials, None)
            }
            Ok(T2Outcome::Retry(why)) => {
                let trials = trials + 1;
                if trials >= self.settings.max_try {
                    log(
                        "error",
                        format!("{} failed {trials} times, giving up: {why}", d.unit),
                    );
                    record(code::TOO_MANY_TRIALS, None, dt, Some(&why), trials, None)
                } else {
                    let wait = self.settings.backoff_seconds * 2f64.powi(trials as i32 - 1);
                    log(
                        "warning",
                        format!(
                            "{} failed (attempt {trials}), retrying in {wait:.2} s: {why}",
                            d.unit
                        ),
                    );
                    record(
                        code::RERUN_REQUESTED,
                        None,
                        dt,
                        Some(&why),
                        trials,
                        Some(now() + wait),
                    )
                }
            }
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic with a non-text payload".into());
                log("error", format!("{} panicked: {msg}", d.unit));
                record(code::EXCEPTION, None, dt, Some(&msg), trials, None)
            }
        };
        if let WriteOp::T2Result { code, .. } = &op {
            self.telemetry.event(Event::T2Done {
                unit: &d.unit,
                code: *code,
                seconds: secs,
            });
        }
        ops.push(op);
        Ok(ops)
    }
}

/// Sleeps `seconds`, waking early once `stop` says so.
fn sleep_unless(stop: &dyn Fn() -> bool, seconds: f64) {
    let until = Instant::now() + std::time::Duration::from_secs_f64(seconds);
    while !stop() {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(std::time::Duration::from_millis(100)));
    }
}
