//! The end of a run: waiting for the T2 work of what it stored, within
//! the bounds the README documents (a catch-up run all of it, up to
//! `t2.catch_up_wait_seconds`; a signalled run 30 s).

use super::{publish_depth, Shared};
use ampel::hot::T2Queue;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How long a stopping run waits for the T2 work of what it stored: a
/// catch-up run for all of it (`t2.catch_up_wait_seconds`, an hour by
/// default), a signalled run (live,
/// or a catch-up run that got SIGTERM) [`SIGNALLED_T2_WAIT`].
pub(super) fn catch_up_limit(idle_stop: Option<Duration>, signalled: bool, wait: f64) -> Duration {
    if idle_stop.is_some() && !signalled {
        Duration::from_secs_f64(wait.max(0.0))
    } else {
        SIGNALLED_T2_WAIT
    }
}

/// The documented bound on a signalled run's wait for T2 work.
const SIGNALLED_T2_WAIT: Duration = Duration::from_secs(30);

/// Waits until no T2 work of this job is queued, running or unfinished in
/// the archive, or `limit` passes (shortened to [`SIGNALLED_T2_WAIT`] from
/// a signal that arrives meanwhile). True only when the archive said zero
/// twice in a row with nothing queued or busy in between: its count is
/// several reads, and one read can miss a document moving between codes.
/// A count that cannot be read is never taken for zero.
pub(super) async fn wait_for_t2(
    shared: &Shared,
    worker: &ampel::run::T2Worker,
    archive_address: &str,
    stop: &std::sync::atomic::AtomicBool,
    limit: Duration,
    queue: &mut dyn T2Queue,
) -> bool {
    let t = Instant::now();
    let mut deadline = t + limit;
    let mut signalled = stop.load(Ordering::SeqCst);
    let mut check = crate::store::open_archive(archive_address).ok();
    let mut zeros = 0;
    loop {
        publish_depth(queue, shared);
        let idle = shared.t2_backlog.load(Ordering::SeqCst) == 0
            && shared.t2_busy.load(Ordering::SeqCst) == 0;
        let left = match (idle, check.as_ref()) {
            (false, _) => None,
            (true, Some(a)) => match worker.unfinished(a.as_ref()) {
                Ok(n) => Some(n),
                Err(e) => {
                    tracing::warn!(error = %e, "counting unfinished T2 documents failed; asking again");
                    check = None;
                    None
                }
            },
            (true, None) => None,
        };
        zeros = if left == Some(0) { zeros + 1 } else { 0 };
        if zeros >= 2 {
            return true;
        }
        if !signalled && stop.load(Ordering::SeqCst) {
            signalled = true;
            deadline = deadline.min(Instant::now() + SIGNALLED_T2_WAIT);
            tracing::info!("signal received while waiting for T2 work: waiting at most 30 s more");
        }
        if Instant::now() > deadline {
            match left {
                Some(n) => tracing::warn!(documents = n, "T2 work left at exit: it runs at the next start"),
                None => tracing::warn!("T2 work may be left at exit (its count could not be read): it runs at the next start"),
            }
            return false;
        }
        actix::clock::sleep(Duration::from_millis(100)).await;
        if check.is_none() {
            check = crate::store::open_archive(archive_address).ok();
        }
    }
}
