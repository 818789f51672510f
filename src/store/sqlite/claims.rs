//! T2 claims on the embedded archive: NEW (or due RERUN_REQUESTED)
//! documents become RUNNING in one write transaction, so that two workers
//! (or the two threads of a replay) never run one document twice.

use super::write::{json, put_t2};
use super::{backend, immediate, parse_doc, SqliteArchive};
use crate::store::{code, merge, StoreError, T2Doc, T2Key};
use rusqlite::{params, OptionalExtension};

/// One unit's claimable T2 documents due at ?2, due reruns first, then
/// oldest first, at most ?3: walks the unit's part of the partial index of
/// NEW and RERUN_REQUESTED documents (`t2_due`), whose entries follow the
/// table's storing order, so its cost is that of what it claims.
///
/// The order of AMPEL's T2 worker, whose unsorted `find_one_and_update`
/// walks the `t2` collection's index on `code` (ampel-core's
/// `mongo/data.yaml`): by code, then in storing order. A claim takes
/// documents stored together, on the table's last pages, and marks them
/// RUNNING and then done while those pages are in the cache. In key
/// (stock) order, as before, a claim took the lowest stocks of the whole
/// backlog, each on a page of its own once the backlog outgrew a batch,
/// and a ticket could wait as long as lower stocks kept coming.
pub(super) const CLAIM_T2: &str =
    "SELECT code, rowid FROM t2 INDEXED BY t2_due WHERE unit = ?1 AND code IN (-1, -6)
     AND coalesce(json_extract(doc, '$.retry_after'), ?2) <= ?2
     ORDER BY code, rowid LIMIT ?3";

impl SqliteArchive {
    /// Claims up to `max` due documents of `units`, due reruns first, then
    /// oldest first across the units ([`CLAIM_T2`] per unit, merged).
    pub(super) fn claim_due(
        &mut self,
        now: f64,
        max: usize,
        units: &[String],
    ) -> Result<Vec<T2Doc>, StoreError> {
        let be = backend(&self.path);
        let tx = immediate(&mut self.conn, &self.gate, &self.path)?;
        let mut due: Vec<(i64, i64)> = Vec::new();
        {
            let mut st = tx.prepare_cached(CLAIM_T2).map_err(&be)?;
            for unit in units {
                let rows = st
                    .query_map(params![unit, now, max as i64], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .map_err(&be)?;
                for r in rows {
                    due.push(r.map_err(&be)?);
                }
            }
        }
        due.sort_unstable();
        due.dedup();
        due.truncate(max);
        let mut claimed = Vec::with_capacity(due.len());
        {
            let mut read = tx
                .prepare_cached("SELECT doc FROM t2 WHERE rowid = ?1")
                .map_err(&be)?;
            let mut write = tx
                .prepare_cached("UPDATE t2 SET code = ?2, doc = ?3 WHERE rowid = ?1")
                .map_err(&be)?;
            // Claimable by the walk's own filter, in this transaction.
            for (_, rowid) in due {
                let text: String = read.query_row([rowid], |r| r.get(0)).map_err(&be)?;
                let mut d: T2Doc = parse_doc(&self.path, "t2", &text)?;
                merge::claim_t2(&mut d, now);
                write
                    .execute(params![rowid, d.code, json(&d)])
                    .map_err(&be)?;
                claimed.push(d);
            }
        }
        tx.commit().map_err(&be)?;
        Ok(claimed)
    }

    /// The documents of `keys` that are claimable (or running, with
    /// `steal_running`), in one transaction.
    pub(super) fn claim_keys(
        &mut self,
        keys: &[T2Key],
        now: f64,
        steal_running: bool,
    ) -> Result<Vec<T2Doc>, StoreError> {
        let be = backend(&self.path);
        let tx = immediate(&mut self.conn, &self.gate, &self.path)?;
        let mut claimed = Vec::new();
        {
            let mut st = tx
                .prepare_cached(
                    "SELECT doc FROM t2 WHERE stock = ?1 AND unit = ?2 AND config = ?3 AND link = ?4",
                )
                .map_err(&be)?;
            for k in keys {
                let doc: Option<String> = st
                    .query_row(params![k.stock, k.unit, k.config, k.link], |r| r.get(0))
                    .optional()
                    .map_err(&be)?;
                let Some(text) = doc else { continue };
                let d = parse_doc(&self.path, "t2", &text)?;
                if merge::claimable(&d, now) || (steal_running && d.code == code::RUNNING) {
                    let mut d = d;
                    merge::claim_t2(&mut d, now);
                    // Written at once: a key given twice is claimed once.
                    put_t2(&tx, &d).map_err(&be)?;
                    claimed.push(d);
                }
            }
        }
        tx.commit().map_err(&be)?;
        Ok(claimed)
    }
}
