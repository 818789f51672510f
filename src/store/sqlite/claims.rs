//! T2 claims on the embedded archive: NEW (or due RERUN_REQUESTED)
//! documents become RUNNING in one write transaction, so that two workers
//! (or the two threads of a replay) never run one document twice.

use super::write::{json, put_t2};
use super::{backend, immediate, parse_doc, SqliteArchive};
use crate::store::{code, merge, StoreError, T2Doc, T2Key};
use rusqlite::{params, OptionalExtension};

/// The claimable T2 documents of some units (a JSON list, ?1) due at ?2,
/// in key order, at most ?3: walks the partial index of NEW and
/// RERUN_REQUESTED documents, so its cost is that of what it claims.
pub(super) const CLAIM_T2: &str =
    "SELECT doc FROM t2 INDEXED BY t2_claimable WHERE code IN (-1, -6)
     AND unit IN (SELECT value FROM json_each(?1))
     AND coalesce(json_extract(doc, '$.retry_after'), ?2) <= ?2
     ORDER BY stock, unit, config, link LIMIT ?3";

impl SqliteArchive {
    /// Walks the partial index of claimable documents (NEW and
    /// RERUN_REQUESTED only) in key order and stops at `max`: the cost is
    /// that of the documents claimed (plus any still in back-off ahead of
    /// them), not of every T2 document the archive holds.
    pub(super) fn claim_due(
        &mut self,
        now: f64,
        max: usize,
        units: &[String],
    ) -> Result<Vec<T2Doc>, StoreError> {
        let be = backend(&self.path);
        let tx = immediate(&mut self.conn, &self.gate, &self.path)?;
        let mut claimed = Vec::new();
        let names = json(&units);
        {
            let mut st = tx.prepare_cached(CLAIM_T2).map_err(&be)?;
            let rows = st
                .query_map(params![names, now, max as i64], |r| r.get::<_, String>(0))
                .map_err(&be)?;
            for r in rows {
                let d = parse_doc(&self.path, "t2", &r.map_err(&be)?)?;
                if merge::claimable(&d, now) && units.contains(&d.unit) {
                    claimed.push(d);
                    if claimed.len() == max {
                        break;
                    }
                }
            }
        }
        for d in &mut claimed {
            d.code = code::RUNNING;
            d.claimed_at = Some(now);
            put_t2(&tx, d).map_err(&be)?;
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
                    d.code = code::RUNNING;
                    d.claimed_at = Some(now);
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
