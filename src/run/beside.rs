//! T2 beside T0 in a replay. While T0 ingests, a second thread with its
//! own archive handle claims and runs the T2 documents T0 has committed,
//! so the two halves of a replay share the machine's cores instead of
//! taking turns (before, T2 waited for the last alert: 40% of a night's
//! slice on one core while the other idled).
//!
//! Only units whose input is fixed when their document is written (a
//! state, a datapoint) run here, so a replay's results do not depend on
//! timing: a stock unit sees the whole stock, after T0. What is left
//! (stock units, tied units whose dependency was not done yet, retries)
//! is the drain's after T0, as before.
//!
//! When T0 is done, its thread claims and runs the same units too, so
//! the T2 work left then (the T2 thread lags T0 by a few batches) runs on
//! both cores. Claims are atomic in the archive (NEW -> RUNNING in one
//! transaction), as for the live runtime's workers, so the two threads
//! never run a document twice.

use super::now;
use super::t2::T2Worker;
use crate::store::{Archive, StoreError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// Documents claimed at once. Each claim and each batch of results is a
/// write transaction, which waits while T0 writes; 64 (the drain's) kept
/// the T2 thread waiting, 256 made a 100k night's slices 3,700-4,400
/// alerts/s against 2,900-3,600 (512 and 1,024 no better).
const BATCH: usize = 256;

/// How long the T2 thread waits for T0's next commit before it claims
/// again anyway (a commit signals it at once; see [`Commits`]).
const IDLE: Duration = Duration::from_millis(100);

/// T0's commits, counted, so that the T2 thread sleeps until there is
/// something new to claim instead of polling (it polled every 20 ms).
#[derive(Default)]
pub(super) struct Commits {
    count: Mutex<u64>,
    bumped: Condvar,
}

impl Commits {
    /// T0 stored a batch (or finished): wake the T2 thread.
    pub(super) fn bump(&self) {
        *self.count.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.bumped.notify_all();
    }

    fn seen(&self) -> u64 {
        *self.count.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until the count passes `seen`, for at most `timeout`.
    fn wait_past(&self, seen: u64, timeout: Duration) {
        let guard = self.count.lock().unwrap_or_else(|p| p.into_inner());
        let _ = self
            .bumped
            .wait_timeout_while(guard, timeout, |c| *c <= seen);
    }
}

/// The T2 thread's own handle on the archive and the units it may run;
/// `None` (T2 stays after T0) when disabled, when no unit qualifies or
/// when the archive cannot give a second handle.
pub(super) struct Beside {
    archive: Box<dyn Archive>,
    names: Vec<String>,
}

impl Beside {
    pub(super) fn open(
        on: bool,
        worker: &T2Worker,
        archive: &dyn Archive,
    ) -> Result<Option<Self>, StoreError> {
        let names = worker.fixed_input_unit_names();
        if !on || names.is_empty() {
            return Ok(None);
        }
        Ok(archive.another()?.map(|archive| Beside { archive, names }))
    }
}

/// Documents the T0 thread claims at once when it joins the T2 work after
/// its last alert: fewer than [`BATCH`], so that the two threads run out
/// of work at about the same time.
const TAIL_BATCH: usize = 32;

/// Runs `t0` on this thread and, with a [`Beside`], the worker's
/// fixed-input units on another until `t0` has returned and nothing they
/// may claim is left (or `stop` is set). `t0` bumps the [`Commits`] it is
/// given after each batch it stores. Once `t0` has returned, this thread
/// claims and runs the same units too (on `archive`), so that what T2 has
/// left then runs on both cores rather than on one while the other idles.
/// Returns `t0`'s result and the T2 runs made beside and after it.
pub(super) fn t2_beside<R>(
    worker: &T2Worker,
    beside: Option<Beside>,
    (archive, run): (&mut dyn Archive, i64),
    stop: &AtomicBool,
    t0: impl FnOnce(&mut dyn Archive, &Commits) -> Result<R, StoreError>,
) -> Result<(Result<R, StoreError>, u64), StoreError> {
    let commits = Commits::default();
    let Some(Beside {
        archive: mut other,
        names,
    }) = beside
    else {
        return Ok((t0(archive, &commits), 0));
    };
    let location = other.location();
    let t0_done = AtomicBool::new(false);
    let (done, commits, names) = (&t0_done, &commits, &names);
    std::thread::scope(|scope| {
        let t2 = std::thread::Builder::new()
            .name("t2-beside-t0".into())
            .spawn_scoped(scope, || {
                let claims = (done, commits, BATCH);
                claim_and_run(worker, &mut *other, names, run, claims, stop)
            })
            .map_err(|e| StoreError::Backend {
                location,
                transient: false,
                reason: format!("starting the T2 thread: {e}"),
            })?;
        let out = {
            // Set however `t0` ends: were it to panic, the T2 thread would
            // otherwise wait for more commits forever, and the scope for it.
            let _done = T0Done(done, commits);
            t0(&mut *archive, commits)
        };
        // After a failed T0 its error is what the caller reports; the
        // T2 thread still finishes what T0 stored.
        let tail = match out {
            Ok(_) => {
                let claims = (done, commits, TAIL_BATCH);
                claim_and_run(worker, archive, names, run, claims, stop)
            }
            Err(_) => Ok(0),
        };
        let runs = t2
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        Ok((out, runs + tail?))
    })
}

/// Tells the T2 thread that T0 is done when dropped.
struct T0Done<'a>(&'a AtomicBool, &'a Commits);

impl Drop for T0Done<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
        self.1.bump();
    }
}

/// Claims and runs batches of `batch` until T0 is done and a claim comes
/// back empty.
fn claim_and_run(
    worker: &T2Worker,
    archive: &mut dyn Archive,
    names: &[String],
    run: i64,
    (t0_done, commits, batch): (&AtomicBool, &Commits, usize),
    stop: &AtomicBool,
) -> Result<u64, StoreError> {
    let mut runs = 0;
    while !stop.load(Ordering::Relaxed) {
        // Read before the claim: an empty claim after T0's last commit
        // means nothing is left for this thread; a commit after `seen`
        // may have brought new work.
        let last = t0_done.load(Ordering::Acquire);
        let seen = commits.seen();
        let docs = archive.claim_t2(now(), batch, names)?;
        if docs.is_empty() {
            if last {
                break;
            }
            commits.wait_past(seen, IDLE);
            continue;
        }
        runs += docs.len() as u64;
        worker.run_claimed(archive, docs, run)?;
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::T2Settings;
    use crate::run::t2::T2Units;
    use crate::store::SqliteArchive;
    use std::panic::AssertUnwindSafe;

    #[test]
    fn a_panic_in_t0_ends_the_t2_thread_too() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.sqlite");
        let archive = SqliteArchive::open(file.to_str().unwrap()).unwrap();
        let worker = T2Worker::new(T2Units::default(), T2Settings::default());
        let beside = Beside {
            archive: archive
                .another()
                .unwrap()
                .expect("a file gives a second handle"),
            names: vec!["T2Nothing".into()],
        };
        let stop = AtomicBool::new(false);
        // Without the guard this would wait for T0's next commit forever.
        let ended = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let mut main = SqliteArchive::open(file.to_str().unwrap()).unwrap();
            t2_beside(
                &worker,
                Some(beside),
                (&mut main, 1),
                &stop,
                |_, _| -> Result<(), _> { panic!("T0 failed") },
            )
        }));
        assert!(ended.is_err(), "the panic reaches the caller");
    }
}
