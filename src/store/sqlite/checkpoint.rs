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
//! Durability is SQLite's: a commit is synced into the log before it
//! returns (`synchronous=FULL`), whoever copies it into the file later.

use rusqlite::hooks::Wal;
use rusqlite::{Connection, OpenFlags};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// How many thresholds of log the writer may run ahead of the checkpoints
/// before it waits for one.
const BACKSTOP: u64 = 8;

#[derive(Default)]
struct State {
    /// Passes asked for (one per commit above the threshold).
    requested: u64,
    /// The `requested` count the last finished pass started from.
    completed: u64,
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
}

impl Checkpointer {
    /// Starts checkpointing the file of the writer `conn` once its log
    /// holds `pages` pages, replacing `conn`'s automatic checkpoint. `None`
    /// (automatic checkpoints kept) when a second connection cannot be
    /// opened, e.g. for an in-memory archive, which SQLite reports as a
    /// file without a name.
    pub(super) fn start(conn: &mut Connection, pages: u64) -> Option<Checkpointer> {
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
            Ok(c)
        })
        .ok()?;
        let shared = Arc::new(Shared::default());
        let worker = shared.clone();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || run(own, &worker))
            .ok()?;
        let hook = shared.clone();
        let installed = conn.wal_hook(Some(move |_: &mut Wal, logged: std::ffi::c_int| {
            let logged = logged.max(0) as u64;
            if logged >= pages {
                let mine = hook.request();
                if logged >= pages * BACKSTOP {
                    hook.wait_for(mine);
                }
            }
            Ok(())
        }));
        let me = Checkpointer {
            shared,
            thread: Some(thread),
        };
        // Without the hook the automatic checkpoint stays, and the thread
        // is stopped here.
        installed.ok().map(|_| me)
    }
}

/// The thread: one PASSIVE pass per wake-up, until stopped.
fn run(conn: Connection, shared: &Shared) {
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
        let _ = conn.wal_checkpoint_v2(Some("main"), rusqlite::wal::CheckpointMode::PASSIVE);
        let mut s = shared.lock();
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
        let cp = Checkpointer::start(&mut c, pages).expect("a file archive gets a thread");
        let mut largest = 0;
        for round in 0..300 {
            commit(&c, round);
            largest = largest.max(wal_pages(path));
        }
        // 300 commits of ~40+ pages: ~12,000 pages logged in all. The log
        // may run ahead of the thread, but never far past the backstop
        // (one commit more, plus the pages a pass was copying meanwhile).
        assert!(
            largest <= pages * BACKSTOP + 400,
            "the log reached {largest} pages"
        );
        drop(cp);
        drop(c);
        let r = Connection::open(path).unwrap();
        let n: i64 = r
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 300 * 40);
    }

    #[test]
    fn without_the_thread_the_same_log_grows() {
        // The control for the test above: the same commits with SQLite's
        // checkpoints off and no thread fill the log with every page.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.sqlite");
        let path = path.to_str().unwrap();
        let c = writer(path);
        for round in 0..300 {
            commit(&c, round);
        }
        assert!(wal_pages(path) > 50 * BACKSTOP + 400);
    }

    #[test]
    fn an_archive_in_memory_gets_no_thread() {
        let mut c = Connection::open_in_memory().unwrap();
        assert!(Checkpointer::start(&mut c, 1000).is_none());
    }
}
