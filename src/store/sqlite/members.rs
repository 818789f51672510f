//! A stock's members: which datapoints it holds, and their tags, read
//! from `t0_member` alone (see `schema.rs` for why the tags are there).

use super::*;

/// The ids and tags of a stock's datapoints, by id: the tags by their
/// `tagset` number, read from `t0` only for rows stored before it.
pub(super) const STOCK_DATAPOINT_TAGS: &str = "SELECT m.id, m.tagset, CASE WHEN m.tagset IS NULL
     THEN (SELECT tags FROM t0 WHERE t0.id = m.id)
     ELSE (SELECT tags FROM tagset s WHERE s.id = m.tagset) END
     FROM t0_member m WHERE m.stock = ?1 ORDER BY m.id";

/// [`STOCK_DATAPOINT_TAGS`] on an archive whose `t0_member` has no tags.
const STOCK_DATAPOINT_TAGS_FROM_T0: &str = "SELECT t0.id, NULL, t0.tags
     FROM t0_member m JOIN t0 ON t0.id = m.id WHERE m.stock = ?1 ORDER BY m.id";

impl SqliteArchive {
    /// [`Archive::datapoint_tags`]: one range of `t0_member`.
    pub(super) fn member_tags(&self, stock: i64) -> Result<Vec<(i64, Vec<String>)>, StoreError> {
        let sql = if self.member_tagsets {
            STOCK_DATAPOINT_TAGS
        } else {
            STOCK_DATAPOINT_TAGS_FROM_T0
        };
        let mut st = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map([stock], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        // A stock's datapoints share a few tag lists: each parsed once.
        let mut parsed: Vec<(i64, Vec<String>)> = Vec::new();
        let mut out = Vec::new();
        for r in rows {
            let (id, tagset, tags) = r.map_err(|e| self.err(e))?;
            // A member without its `t0` row (none is ever deleted) is
            // skipped, as the join over `t0` did.
            let Some(tags) = tags else { continue };
            let tags = match tagset.and_then(|n| parsed.iter().find(|p| p.0 == n)) {
                Some((_, known)) => known.clone(),
                None => {
                    let t: Vec<String> = self.parse("t0", &tags)?;
                    if let Some(n) = tagset {
                        parsed.push((n, t.clone()));
                    }
                    t
                }
            };
            out.push((id, tags));
        }
        Ok(out)
    }
}
