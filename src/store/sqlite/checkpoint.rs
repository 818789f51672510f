//! WAL checkpoints on a thread of their own.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses the
//! threshold: the writer copies the log's pages into the database file and
//! syncs it before its commit returns. On a night's archive that copy was
//! 20-31% of the replay's time (perf, slices of a 400k night), all of it on
//! the writing thread while the second core idled. Here the writer's
//! commit only signals, and a second connection on its own thread runs a
//! PASSIVE checkpoint (which never blocks the writer). Only when the log
//! outgrows [`BACKSTOP`] times the threshold does the writer wait for a
//! checkpoint pass, so the log stays bounded when the copying falls
//! behind.
//!
//! What counts first is the log not yet copied, not the log's length:
//! with a second writing connection in the process (a replay's T2
//! thread) the log is rarely empty when a transaction starts, so SQLite
//! seldom rewinds it, and its length alone made every commit wait for a
//! pass with nothing to copy (0.3-0.5 s of a 10k-alert slice). The other
//! connections of the process signal the same thread
//! ([`Checkpointer::attach`]). To keep the file bounded all the same:
//! - once the log is [`BACKSTOP`] thresholds long, the thread rewinds it
//!   itself (a RESTART checkpoint) when it finds the process's write gate
//!   open, holding it meanwhile so no writer of ours is in the way;
//! - at [`LONGEST`] thresholds (rewinds failing: a writer that never
//!   pauses, another process reading) the writer waits for a pass
//!   whatever the backlog, and SQLite rewinds the log at its next
//!   transaction, as with one writer.
//!
//! Durability is SQLite's: a commit is synced into the log before it
//! returns (`synchronous=FULL`), whoever copies it into the file later.

use rusqlite::hooks::Wal;
use rusqlite::wal::CheckpointMode;
use rusqlite::{Connection, OpenFlags};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// How many thresholds of log the writer may run ahead of the checkpoints
/// before it waits for one; and the log's length (in thresholds) at which
/// the thread rewinds it.
const BACKSTOP: u64 = 8;

/// The log's length (in thresholds) at which the writer waits for a pass
/// even with nothing left to copy.
const LONGEST: u64 = 2 * BACKSTOP;

#[derive(Default)]
struct State {
    /// Passes asked for (one per commit above the threshold).
    requested: u64,
    /// The `requested` count the last finished pass started from.
    completed: u64,
    /// The log's length and the frames copied, at the last pass.
    log: u64,
    copied: u64,
    stop: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    done: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks for a pass; returns its number.
    fn request(&self) -> u64 {
        let mut s = self.lock();
        s.requested += 1;
        self.wake.notify_one();
        s.requested
    }

    /// Frames of a log `logged` long not yet copied into the file, as far
    /// as the last pass tells: a log shorter than it was then has been
    /// rewound, and all of it is new.
    fn backlog(&self, logged: u64) -> u64 {
        let s = self.lock();
        match logged >= s.log {
            true => logged - s.copied,
            false => logged,
        }
    }

    /// Waits until a pass that started after request `mine` has finished.
    fn wait_for(&self, mine: u64) {
        let mut s = self.lock();
        while s.completed < mine && !s.stop {
            s = self.done.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// The checkpointing thread of one writing connection; stopped and joined
/// when dropped.
pub(super) struct Checkpointer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    /// The log (pages not yet copied) at which a pass starts.
    pages: u64,
}

impl Checkpointer {
    /// Starts checkpointing the file of the writer `conn` once its log
    /// holds `pages` pages, replacing `conn`'s automatic checkpoint. `None`
    /// (automatic checkpoints kept) when a second connection cannot be
    /// opened, e.g. for an in-memory archive, which SQLite reports as a
    /// file without a name.
    pub(super) fn start(
        conn: &mut Connection,
        pages: u64,
        gate: Arc<Mutex<()>>,
    ) -> Option<Checkpointer> {
        let path = conn.path().filter(|p| !p.is_empty())?.to_string();
        if pages == 0 {
            return None;
        }
        let own = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .and_then(|c| {
            c.execute_batch("PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=0;")?;
            // Only a rewind waits (for readers to leave the log), briefly.
            c.busy_timeout(std::time::Duration::from_millis(200))?;
            Ok(c)
        })
        .ok()?;
        let shared = Arc::new(Shared::default());
        let worker = shared.clone();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || run(own, &worker, &gate, pages * BACKSTOP))
            .ok()?;
        let me = Checkpointer {
            shared,
            thread: Some(thread),
            pages,
        };
        // Without the hook the automatic checkpoint stays, and the thread
        // is stopped here.
        me.attach(conn).then_some(me)
    }

    /// Makes `conn` (another writer of the same file) signal this thread
    /// instead of checkpointing in its own commits; false (SQLite's
    /// automatic checkpoints kept) if the hook cannot be installed. After
    /// the thread has stopped, its signals are ignored and the log waits
    /// for the next pass or close.
    pub(super) fn attach(&self, conn: &mut Connection) -> bool {
        let (hook, pages) = (self.shared.clone(), self.pages);
        conn.wal_hook(Some(move |_: &mut Wal, logged: std::ffi::c_int| {
            let logged = logged.max(0) as u64;
            let backlog = hook.backlog(logged);
            if backlog >= pages || logged >= pages * BACKSTOP {
                let mine = hook.request();
                if backlog >= pages * BACKSTOP || logged >= pages * LONGEST {
                    hook.wait_for(mine);
                }
            }
            Ok(())
        }))
        .is_ok()
    }
}

/// The thread: one PASSIVE pass per wake-up, until stopped; a rewind
/// (which copies what the pass left) when the log is `long`.
fn run(conn: Connection, shared: &Shared, gate: &Mutex<()>, long: u64) {
    loop {
        let target = {
            let mut s = shared.lock();
            while s.requested == s.completed && !s.stop {
                s = shared.wake.wait(s).unwrap_or_else(|p| p.into_inner());
            }
            if s.stop {
                return;
            }
            s.requested
        };
        // BUSY (another process's checkpoint, or a reader holding old
        // pages) leaves the rest for the next pass; nothing is lost.
        let mut pass = conn.wal_checkpoint_v2(Some("main"), CheckpointMode::PASSIVE);
        if matches!(pass, Ok((log, _)) if log.max(0) as u64 >= long) {
            // Only while no writer of ours holds the gate: one may be
            // waiting in its commit for this very pass to finish. Busy (a
            // writer, a reader that stayed, another process): the next
            // pass tries again.
            if let Ok(_writers) = gate.try_lock() {
                let rewind = conn.wal_checkpoint_v2(Some("main"), CheckpointMode::RESTART);
                if let Ok(rewound) = rewind {
                    pass = Ok(rewound);
                }
            }
        }
        let mut s = shared.lock();
        if let Ok((log, copied)) = pass {
            (s.log, s.copied) = (log.max(0) as u64, copied.max(0) as u64);
        }
        s.completed = target;
        shared.done.notify_all();
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        {
            let mut s = self.shared.lock();
            s.stop = true;
        }
        self.shared.wake.notify_all();
        self.shared.done.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer in WAL mode with SQLite's own checkpoints off, so only the
    /// thread can fold its log.
    fn writer(path: &str) -> Connection {
        let c = Connection::open(path).unwrap();
        c.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=0;
             CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB NOT NULL);",
        )
        .unwrap();
        c
    }

    /// Commits of ~40 pages each, in random places of the table.
    fn commit(c: &Connection, round: i64) {
        let tx = c.unchecked_transaction().unwrap();
        for i in 0..40 {
            let id = (round * 40 + i).wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as i64);
            tx.execute("INSERT INTO t(id, body) VALUES (?1, zeroblob(3000))", [id])
                .unwrap();
        }
        tx.commit().unwrap();
    }

    /// 300 commits taking turns over `writers`; the log's largest size.
    fn fill(path: &str, writers: &[&Connection]) -> u64 {
        let mut largest = 0;
        for round in 0..300 {
            commit(writers[round as usize % writers.len()], round);
            largest = largest.max(wal_pages(path));
        }
        largest
    }

    fn rows(path: &str) -> i64 {
        Connection::open(path)
            .unwrap()
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    fn wal_pages(path: &str) -> u64 {
        std::fs::metadata(format!("{path}-wal"))
            .map(|m| m.len() / 4096)
            .unwrap_or(0)
    }

    #[test]
    fn the_thread_keeps_the_log_bounded_and_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.sqlite");
        let path = path.to_str().unwrap();
        let mut c = writer(path);
        let pages = 50;
        let cp = Checkpointer::start(&mut c, pages, Default::default())
            .expect("a file archive gets a thread");
        // 300 commits of ~40+ pages: ~12,000 pages logged in all. The log
        // may run ahead of the thread, but never far past the backstop
        // (one commit more, plus the pages a pass was copying meanwhile).
        let largest = fill(path, &[&c]);
        assert!(
            largest <= pages * LONGEST + 400,
            "the log reached {largest} pages"
        );
        drop(cp);
        drop(c);
        assert_eq!(rows(path), 300 * 40);
    }

    #[test]
    fn without_the_thread_the_same_log_grows() {
        // The control for the test above: the same commits with SQLite's
        // checkpoints off and no thread fill the log with every page.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.sqlite");
        let path = path.to_str().unwrap();
        let c = writer(path);
        assert!(fill(path, &[&c]) > 50 * LONGEST + 400);
    }

    #[test]
    fn two_writers_on_one_thread_keep_the_log_bounded_and_lose_nothing() {
        // A replay's T0 and T2 handles: the second signals the first's
        // thread, and the log is rewound although it is rarely empty.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.sqlite");
        let path = path.to_str().unwrap();
        let mut a = writer(path);
        let mut b = Connection::open(path).unwrap();
        let pages = 50;
        let cp = Checkpointer::start(&mut a, pages, Default::default()).unwrap();
        assert!(cp.attach(&mut b));
        let largest = fill(path, &[&a, &b]);
        assert!(
            largest <= pages * LONGEST + 400,
            "the log reached {largest} pages"
        );
        drop(cp);
        drop((a, b));
        assert_eq!(rows(path), 300 * 40);
    }

    #[test]
    fn the_backlog_is_what_the_last_pass_did_not_copy() {
        let s = Shared::default();
        {
            let mut state = s.lock();
            (state.log, state.copied) = (1000, 900);
        }
        assert_eq!(s.backlog(1200), 300, "the log grew by 200 since");
        assert_eq!(s.backlog(300), 300, "rewound since: all of it is new");
    }

    #[test]
    fn an_archive_in_memory_gets_no_thread() {
        let mut c = Connection::open_in_memory().unwrap();
        assert!(Checkpointer::start(&mut c, 1000, Default::default()).is_none());
    }
}
