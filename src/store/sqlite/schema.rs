//! The embedded archive's tables and indexes, and the SQLite settings
//! every connection opens with.
//!
//! `t0` keeps its rows in the order they were stored (`seq`), with the
//! datapoint id in a unique index of its own. Keyed by datapoint id, a
//! night's inserts landed all over the table: the history an alert brings
//! holds ids from weeks of earlier nights, so each new datapoint dirtied a
//! page of its own in the archive's largest B-tree, to be written to the
//! log and again by the checkpoint (69% of the log's pages in a 20k-alert
//! night). In storing order, new rows fill the table's last pages, and the
//! random inserts go to an index ~25 times smaller. Archives made before
//! keep `id` as their rowid; every statement works on both layouts.
//!
//! `t0_member` carries each datapoint's tags as a number (`tagset`, a row
//! of a table of the few distinct tag lists), so that T0's "which
//! datapoints, with which tags, does this stock hold" reads one range of
//! one index. Read from `t0`, it was a row of the archive's largest table
//! per datapoint, far apart since rows are in storing order: 84-95 us per
//! stock in a million-alert archive, against 20-22 us read from
//! `t0_member` (23.7 datapoints per stock, 256 MiB cache). Rows from
//! before the column (NULL) are read from `t0` as before.

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS counter(name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS conf(id INTEGER PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stock(stock INTEGER PRIMARY KEY, updated REAL NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS stock_updated ON stock(updated);
CREATE TABLE IF NOT EXISTS stock_name(name TEXT PRIMARY KEY, stock INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS stock_channel(stock INTEGER NOT NULL, channel TEXT NOT NULL, PRIMARY KEY(channel, stock));
CREATE TABLE IF NOT EXISTS t0(seq INTEGER PRIMARY KEY, id INTEGER NOT NULL UNIQUE, stock INTEGER NOT NULL, tags TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS t0_member(stock INTEGER NOT NULL, id INTEGER NOT NULL, tagset INTEGER, PRIMARY KEY(stock, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tagset(id INTEGER PRIMARY KEY, tags TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS t1(stock INTEGER NOT NULL, link INTEGER NOT NULL, doc TEXT NOT NULL, PRIMARY KEY(stock, link));
CREATE TABLE IF NOT EXISTS t2(stock INTEGER NOT NULL, unit TEXT NOT NULL, config INTEGER NOT NULL, link INTEGER NOT NULL,
    code INTEGER NOT NULL, doc TEXT NOT NULL, PRIMARY KEY(stock, unit, config, link));
DROP INDEX IF EXISTS t2_code;
CREATE INDEX IF NOT EXISTS t2_code_unit ON t2(code, unit, config);
DROP INDEX IF EXISTS t2_claimable;
CREATE INDEX IF NOT EXISTS t2_due ON t2(unit, code) WHERE code IN (-1, -6);
CREATE INDEX IF NOT EXISTS t2_unit ON t2(unit);
CREATE TABLE IF NOT EXISTS cutout(id INTEGER PRIMARY KEY, stock INTEGER NOT NULL, jd REAL NOT NULL,
    science BLOB, template BLOB, difference BLOB);
CREATE INDEX IF NOT EXISTS cutout_stock ON cutout(stock, jd);
CREATE TABLE IF NOT EXISTS t3(id INTEGER PRIMARY KEY, run INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS t3_process ON t3(json_extract(doc, '$.process'));
CREATE TABLE IF NOT EXISTS event(run INTEGER PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS log(id INTEGER PRIMARY KEY, run INTEGER NOT NULL, stock INTEGER, channel TEXT, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS log_run ON log(run);
CREATE INDEX IF NOT EXISTS log_stock ON log(stock);
CREATE TABLE IF NOT EXISTS trouble(id INTEGER PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reaction(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, destination TEXT NOT NULL,
  state TEXT NOT NULL, next_try REAL NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS reaction_due ON reaction(state, next_try);
CREATE TABLE IF NOT EXISTS reaction_item(destination TEXT NOT NULL, stock INTEGER NOT NULL, digest TEXT NOT NULL,
  reaction TEXT NOT NULL, PRIMARY KEY(destination, stock, digest));
";

/// Fills `t0_member` for an archive written before it existed (one row per
/// datapoint and its first stock). Run only when `t0_member` is empty and
/// `t0` is not ([`needs_member_backfill`]): as a statement in the schema,
/// its `NOT EXISTS` guard was evaluated per row, so every open scanned all
/// of `t0` (an index of every datapoint ever stored) to insert nothing.
pub(super) const MEMBER_BACKFILL: &str =
    "INSERT OR IGNORE INTO tagset(tags) SELECT DISTINCT tags FROM t0;
     INSERT OR IGNORE INTO t0_member(stock, id, tagset)
     SELECT t0.stock, t0.id, s.id FROM t0 JOIN tagset s ON s.tags = t0.tags;";

/// Gives `t0_member` of an archive made before it had the column its
/// `tagset` (NULL in the rows already there; see the module's doc).
pub(super) fn add_member_tagset(c: &rusqlite::Connection) -> rusqlite::Result<()> {
    if !has_member_tagset(c)? {
        c.execute_batch("ALTER TABLE t0_member ADD COLUMN tagset INTEGER")?;
    }
    Ok(())
}

/// Whether `t0_member` has its `tagset` column.
pub(super) fn has_member_tagset(c: &rusqlite::Connection) -> rusqlite::Result<bool> {
    c.query_row(
        "SELECT count(*) FROM pragma_table_info('t0_member') WHERE name = 'tagset'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n == 1)
}

/// Whether [`MEMBER_BACKFILL`] has work: two one-row probes.
pub(super) fn needs_member_backfill(c: &rusqlite::Connection) -> rusqlite::Result<bool> {
    c.query_row(
        "SELECT NOT EXISTS (SELECT 1 FROM t0_member) AND EXISTS (SELECT 1 FROM t0)",
        [],
        |r| r.get(0),
    )
}

/// Page cache and checkpoint size. SQLite's defaults (2 MiB of cache, a
/// checkpoint every 4 MiB of log) suit small files; a night's archive is
/// gigabytes, and with 2 MiB every index lookup of a batch became a read
/// from the OS and every checkpoint rewrote the same hot index pages.
/// 256 MiB per connection: the random-key indexes a night inserts into
/// (datapoint ids, stocks) outgrow 64 MiB within a million alerts, and the
/// 1M night then ran at 4,153 alerts/s instead of 5,020 (peak RSS 385 ->
/// 736 MiB). The cache is allocated as it fills, so a connection that
/// reads little holds little. `AMPEL_SQLITE_CACHE_MIB` and
/// `AMPEL_SQLITE_CHECKPOINT_PAGES` override them.
pub(super) fn tuning() -> String {
    format!(
        "PRAGMA cache_size=-{}; PRAGMA wal_autocheckpoint={};",
        var("AMPEL_SQLITE_CACHE_MIB", 256) * 1024,
        checkpoint_pages()
    )
}

/// The log size (pages) at which a checkpoint starts.
pub(super) fn checkpoint_pages() -> i64 {
    var("AMPEL_SQLITE_CHECKPOINT_PAGES", 1000)
}

/// Whether checkpoints run on a thread of their own (see `checkpoint.rs`);
/// `AMPEL_SQLITE_CHECKPOINT_THREAD=0` keeps SQLite's, in the commit, for
/// side-by-side measurements.
pub(super) fn checkpoint_thread() -> bool {
    var("AMPEL_SQLITE_CHECKPOINT_THREAD", 1) != 0
}

fn var(k: &str, d: i64) -> i64 {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(d)
}
