//! Opening the embedded archive: for writing (creating the file, WAL, the
//! tables) or for reading only (viewers and inspection).

use super::checkpoint::Checkpointer;
use super::schema::{
    add_member_tagset, checkpoint_pages, checkpoint_thread, has_member_tagset,
    needs_member_backfill, tuning, MEMBER_BACKFILL, SCHEMA,
};
use super::{backend, SqliteArchive};
use crate::store::StoreError;
use rusqlite::Connection;

impl SqliteArchive {
    /// Opens (creating if needed) the archive file at `path`; `:memory:`
    /// gives a throw-away archive.
    pub fn open(path: &str) -> Result<Self, StoreError> {
        let mut archive = Self::open_writer(path)?;
        archive._checkpointer = checkpoint_thread()
            .then(|| {
                let pages = checkpoint_pages().max(0) as u64;
                Checkpointer::start(&mut archive.conn, pages, archive.gate.clone())
            })
            .flatten();
        Ok(archive)
    }

    /// A second writing handle on this archive's file for another thread
    /// of the process: its own connection, the same gate and checkpoint
    /// thread.
    pub(super) fn second(&self) -> Result<Self, StoreError> {
        let mut second = Self::open_writer(&self.path)?;
        second.gate = self.gate.clone();
        if let Some(c) = &self._checkpointer {
            c.attach(&mut second.conn);
        }
        Ok(second)
    }

    /// The file opened for writing, tables created, SQLite's automatic
    /// checkpoints on.
    fn open_writer(path: &str) -> Result<Self, StoreError> {
        let be = backend(path);
        let conn = Connection::open(path).map_err(&be)?;
        configure(&conn).map_err(&be)?;
        // Processes opening a new file at once race to switch it to WAL and
        // to create the tables; SQLite answers the loser "locked" at once
        // (no busy wait for a journal-mode change or a lock upgrade), so
        // the set-up is retried, the tables created in an IMMEDIATE
        // transaction.
        let setup = |c: &Connection| {
            c.execute_batch(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;",
            )?;
            c.execute_batch(&tuning())?;
            c.execute_batch(&format!("BEGIN IMMEDIATE; {SCHEMA}"))?;
            add_member_tagset(c)?;
            if needs_member_backfill(c)? {
                c.execute_batch(MEMBER_BACKFILL)?;
            }
            c.execute_batch("COMMIT")
        };
        let mut tries = 0;
        while let Err(e) = setup(&conn) {
            let _ = conn.execute_batch("ROLLBACK");
            let busy = matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            );
            if !busy || tries == 200 {
                return Err(be(e));
            }
            tries += 1;
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        Ok(SqliteArchive {
            _checkpointer: None,
            conn,
            gate: Default::default(),
            path: path.to_string(),
            cutouts: true,
            member_tagsets: true,
        })
    }

    /// Opens an existing archive file for reading only (viewers and
    /// inspection): nothing is created or changed, and a missing file is
    /// an error rather than a new archive.
    ///
    /// The connection may write nothing (`query_only`), but opens the file
    /// read-write when the system allows, so that closing it can fold and
    /// remove the WAL files as any reader would. A file or directory it may
    /// not write is opened `immutable` (no WAL files needed; the archive
    /// must then not be written meanwhile, which such permissions imply).
    pub fn open_read_only(path: &str) -> Result<Self, StoreError> {
        use rusqlite::OpenFlags;
        let be = backend(path);
        let plain = || -> rusqlite::Result<Connection> {
            let c = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            c.execute_batch("PRAGMA query_only = ON; SELECT count(*) FROM sqlite_master;")?;
            Ok(c)
        };
        let conn = match plain() {
            Ok(c) => c,
            Err(_) if std::path::Path::new(path).exists() => {
                let uri = format!("file:{}?immutable=1", uri_path(path));
                let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_URI
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                Connection::open_with_flags(uri, flags).map_err(&be)?
            }
            Err(e) => return Err(be(e)),
        };
        configure(&conn).map_err(&be)?;
        let cutouts = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'cutout'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(&be)?
            == 1;
        let member_tagsets = has_member_tagset(&conn).map_err(&be)?;
        Ok(SqliteArchive {
            _checkpointer: None,
            conn,
            gate: Default::default(),
            path: path.to_string(),
            cutouts,
            member_tagsets,
        })
    }
}

/// What every connection gets: a busy wait of 30 s, and a planner that
/// ignores bound values. The bundled SQLite has STAT4, under which a bound
/// value compared with a partial index's condition (a claim's t2_due) or an
/// indexed column marks the statement expired on every re-bind: each claim
/// and each tag read was compiled again (7% of a replay, perf). Our plans
/// are fixed by the query text (and tested in `plans.rs`).
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// A path as a `file:` URI path (percent-encoding what URIs reserve).
fn uri_path(path: &str) -> String {
    path.chars()
        .map(|c| match c {
            '%' | '?' | '#' => format!("%{:02X}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Archive, DataPointDoc, WriteOp};

    /// A path in a fresh temporary directory (removed with the guard).
    fn temp_file() -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.sqlite").to_str().unwrap().to_string();
        (dir, path)
    }

    fn members(a: &SqliteArchive) -> i64 {
        a.conn
            .query_row("SELECT count(*) FROM t0_member", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn an_archive_from_before_t0_member_gets_it_filled_once() {
        let (_dir, path) = temp_file();
        let path = path.as_str();
        {
            let a = SqliteArchive::open(path).unwrap();
            a.conn
                .execute_batch(
                    "INSERT INTO t0(id, stock, tags, doc) VALUES (1, 10, '[]', '{}'), (2, 20, '[]', '{}');
                     DELETE FROM t0_member;",
                )
                .unwrap();
            assert!(needs_member_backfill(&a.conn).unwrap());
        }
        let a = SqliteArchive::open(path).unwrap();
        assert_eq!(members(&a), 2, "each datapoint a member of its stock");
        assert!(!needs_member_backfill(&a.conn).unwrap());
        // A datapoint of a filled archive whose membership was removed on
        // purpose stays removed: the backfill runs only on an empty table.
        a.conn
            .execute("DELETE FROM t0_member WHERE id = 2", [])
            .unwrap();
        drop(a);
        assert_eq!(members(&SqliteArchive::open(path).unwrap()), 1);
    }

    #[test]
    fn an_archive_from_before_t2_due_gets_it_and_loses_t2_claimable() {
        let (_dir, path) = temp_file();
        let path = path.as_str();
        let index = |a: &SqliteArchive, name: &str| -> bool {
            a.conn
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?1",
                    [name],
                    |r| r.get::<_, i64>(0),
                )
                .unwrap()
                == 1
        };
        {
            let a = SqliteArchive::open(path).unwrap();
            a.conn
                .execute_batch(
                    "DROP INDEX t2_due;
                     CREATE INDEX t2_claimable ON t2(stock, unit, config, link) WHERE code IN (-1, -6);",
                )
                .unwrap();
        }
        let a = SqliteArchive::open(path).unwrap();
        assert!(index(&a, "t2_due") && !index(&a, "t2_claimable"));
    }

    #[test]
    fn a_new_archive_needs_no_backfill() {
        let a = SqliteArchive::open(":memory:").unwrap();
        assert!(!needs_member_backfill(&a.conn).unwrap());
    }

    fn dp(id: i64, stock: i64, channel: &str) -> DataPointDoc {
        DataPointDoc {
            id,
            stock: vec![stock],
            channel: vec![channel.into()],
            tag: vec![],
            meta: vec![],
            body: serde_json::json!({"jd": 1.0}).into(),
        }
    }

    fn store(a: &mut SqliteArchive, ids: &[(i64, &str)]) {
        let ops = ids
            .iter()
            .map(|&(id, ch)| WriteOp::DataPoint(dp(id, 7, ch)))
            .collect();
        a.write(ops).unwrap();
    }

    #[test]
    fn datapoints_are_kept_in_storing_order_whatever_their_ids() {
        let mut a = SqliteArchive::open(":memory:").unwrap();
        store(&mut a, &[(900, "A"), (-5, "A"), (300, "A")]);
        store(&mut a, &[(300, "B"), (1, "A")]);
        let order: Vec<i64> = a
            .conn
            .prepare("SELECT id FROM t0 ORDER BY seq")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        // A datapoint stored again is merged where it is, not appended.
        assert_eq!(order, [900, -5, 300, 1]);
        let ids: Vec<i64> = a.datapoints(7).unwrap().iter().map(|d| d.id).collect();
        assert_eq!(ids, [-5, 1, 300, 900], "read by stock in id order");
        let merged = a.datapoints(7).unwrap().into_iter().find(|d| d.id == 300);
        assert_eq!(merged.unwrap().channel, ["A", "B"]);
    }

    fn tagged(id: i64, stock: i64, tags: &[&str]) -> WriteOp {
        let mut d = dp(id, stock, "A");
        d.tag = tags.iter().map(|t| t.to_string()).collect();
        WriteOp::DataPoint(d)
    }

    fn tags_of(a: &SqliteArchive, stock: i64) -> Vec<(i64, Vec<String>)> {
        a.datapoint_tags(stock).unwrap()
    }

    fn owned(v: &[(i64, &[&str])]) -> Vec<(i64, Vec<String>)> {
        v.iter()
            .map(|(id, t)| (*id, t.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn a_stocks_datapoint_tags_are_read_from_its_members_not_from_t0() {
        let mut a = SqliteArchive::open(":memory:").unwrap();
        a.write(vec![
            tagged(3, 7, &["ZTF", "ZTF_DP"]),
            tagged(-2, 7, &["ZTF", "ZTF_UL"]),
            tagged(5, 7, &["ZTF", "ZTF_DP"]),
        ])
        .unwrap();
        // A datapoint stored again with more tags: its member rows follow.
        a.write(vec![tagged(5, 7, &["ZTF_FP"])]).unwrap();
        let want = owned(&[
            (-2, &["ZTF", "ZTF_UL"]),
            (3, &["ZTF", "ZTF_DP"]),
            (5, &["ZTF", "ZTF_DP", "ZTF_FP"]),
        ]);
        assert_eq!(tags_of(&a, 7), want);
        // Nothing of t0 is read for them: spoiling its copy changes nothing.
        a.conn
            .execute("UPDATE t0 SET tags = 'not json'", [])
            .unwrap();
        assert_eq!(tags_of(&a, 7), want);
    }

    #[test]
    fn members_stored_before_the_tagset_column_are_read_from_t0() {
        let (_dir, path) = temp_file();
        let path = path.as_str();
        // The layout of archives made before t0_member had `tagset`.
        let c = Connection::open(path).unwrap();
        c.execute_batch(
            "CREATE TABLE t0(seq INTEGER PRIMARY KEY, id INTEGER NOT NULL UNIQUE, \
             stock INTEGER NOT NULL, tags TEXT NOT NULL, doc TEXT NOT NULL);
             CREATE TABLE t0_member(stock INTEGER NOT NULL, id INTEGER NOT NULL, \
             PRIMARY KEY(stock, id)) WITHOUT ROWID;
             INSERT INTO t0_member(stock, id) VALUES (7, 1);",
        )
        .unwrap();
        let mut d = dp(1, 7, "A");
        d.tag = vec!["OLD".into()];
        c.execute(
            "INSERT INTO t0(id, stock, tags, doc) VALUES (1, 7, '[\"OLD\"]', ?1)",
            [serde_json::to_string(&d).unwrap()],
        )
        .unwrap();
        drop(c);
        let old = owned(&[(1, &["OLD"])]);
        // Read-only, the file is left as it is and read through t0.
        let r = SqliteArchive::open_read_only(path).unwrap();
        assert!(!r.member_tagsets);
        assert_eq!(tags_of(&r, 7), old);
        drop(r);
        let mut a = SqliteArchive::open(path).unwrap();
        assert_eq!(tags_of(&a, 7), old, "a NULL tagset reads t0");
        a.write(vec![tagged(2, 7, &["NEW"]), tagged(1, 7, &["MORE"])])
            .unwrap();
        assert_eq!(
            tags_of(&a, 7),
            owned(&[(1, &["OLD", "MORE"]), (2, &["NEW"])])
        );
    }

    #[test]
    fn an_archive_keyed_by_datapoint_id_still_stores_and_reads() {
        let (_dir, path) = temp_file();
        let path = path.as_str();
        // The layout of archives made before t0 had `seq`.
        Connection::open(path)
            .unwrap()
            .execute_batch(
                "CREATE TABLE t0(id INTEGER PRIMARY KEY, stock INTEGER NOT NULL, \
                 tags TEXT NOT NULL, doc TEXT NOT NULL);",
            )
            .unwrap();
        let mut a = SqliteArchive::open(path).unwrap();
        store(&mut a, &[(900, "A"), (-5, "A")]);
        store(&mut a, &[(900, "B")]);
        let docs = a.datapoints(7).unwrap();
        assert_eq!(docs.iter().map(|d| d.id).collect::<Vec<_>>(), [-5, 900]);
        assert_eq!(docs[1].channel, ["A", "B"]);
        assert_eq!(a.datapoint_tags(7).unwrap().len(), 2);
    }
}
