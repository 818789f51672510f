//! A process's sign of life in its run records: a thread that, every
//! `HEARTBEAT_SECONDS`, sets the heartbeat of this process's RUNNING
//! events (those with its host name and pid), over its own archive
//! connection. The next run on the archive closes the records of runs
//! whose heartbeat stopped (see `ampel::run::RunRecord`). The write only
//! touches events still RUNNING, so it never reopens a finished run.

use ampel::run::{heartbeat_op, host_name, HEARTBEAT_SECONDS};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Stops (and joins) the heartbeat thread when dropped.
pub struct Heartbeat {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Heartbeat {
    /// Starts beating for the archive at `address` (nothing for a private
    /// `:memory:` archive, which no other run can see).
    pub fn start(address: &str) -> Heartbeat {
        let stop = Arc::new(AtomicBool::new(false));
        if address.contains(":memory:") {
            return Heartbeat { stop, thread: None };
        }
        let (address, flag) = (address.to_string(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("heartbeat".into())
            .spawn(move || beat(&address, &flag))
            .ok();
        Heartbeat { stop, thread }
    }
}

fn beat(address: &str, stop: &AtomicBool) {
    let (host, pid) = (host_name(), std::process::id());
    let mut archive = None;
    let mut last = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(250));
        if last.elapsed() < Duration::from_secs_f64(HEARTBEAT_SECONDS) {
            continue;
        }
        last = Instant::now();
        if archive.is_none() {
            archive = crate::store::open_archive(address).ok();
        }
        let Some(a) = archive.as_mut() else { continue };
        let mine: Vec<_> = match a.events() {
            Ok(events) => events
                .into_iter()
                .filter(|e| {
                    e.code == ampel::store::code::RUNNING
                        && e.pid == Some(pid)
                        && e.host.as_deref() == Some(host.as_str())
                })
                .map(|e| heartbeat_op(e.run))
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "heartbeat: reading run records failed");
                archive = None;
                continue;
            }
        };
        if let Err(e) = a.write(mine) {
            tracing::warn!(error = %e, "heartbeat: writing failed");
            archive = None;
        }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
