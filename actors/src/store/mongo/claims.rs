//! T2 claims in MongoDB: a batch of claimable documents, or given keys,
//! moved to RUNNING so that two workers never both run one. Atomicity
//! comes from the claimable condition being part of each update's filter.

use super::statements::t2_filter;
use super::sync::MongoSync;
use super::values::int;
use ampel::store::*;
use mongodb::bson::{doc, Bson, Document};
use mongodb::options::ReturnDocument;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

impl MongoSync {
    /// A batch in a round trip per unit plus two, whatever its size:
    /// choose up to `max` claimable documents (AMPEL's order, see
    /// [`Self::choose`]), take those still claimable with this claim's
    /// token (one `update`; the condition is in its filter, so of two
    /// workers that chose the same documents each takes only what the
    /// other has not), read back what carries the token. One
    /// find-and-modify per document made a drain cost a round trip, and on
    /// a server without a usable index a scan, per T2 run.
    pub(super) fn claim_batch(
        &mut self,
        now: f64,
        max: usize,
        units: &[String],
    ) -> Result<Vec<T2Doc>, StoreError> {
        let ids = self.choose(now, max, units)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let token = claim_token(now);
        let mut take = claimable(&[code::RERUN_REQUESTED, code::NEW], now);
        take.insert("_id", doc! {"$in": ids.clone()});
        self.coll("t2")
            .update_many(
                take,
                doc! {"$set": {"code": code::RUNNING, "claimed_at": now, "claim": &token}},
            )
            .run()
            .map_err(self.fail())?;
        // Handed on in the order chosen.
        let rank: HashMap<String, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.to_string(), i))
            .collect();
        let mut got: Vec<(usize, T2Doc)> = Vec::with_capacity(ids.len());
        let cursor = self
            .coll("t2")
            .find(doc! {"_id": {"$in": ids}, "claim": &token})
            .run()
            .map_err(self.fail())?;
        for d in cursor {
            let d = d.map_err(self.fail())?;
            let at = d.get("_id").and_then(|id| rank.get(&id.to_string()));
            got.push((at.copied().unwrap_or(usize::MAX), self.parse("t2", d)?));
        }
        got.sort_by_key(|(at, _)| *at);
        Ok(got.into_iter().map(|(_, d)| d).collect())
    }

    /// Up to `max` claimable ids in AMPEL's order: due reruns first, then
    /// the oldest tickets of any unit. AMPEL's T2 worker claims with an
    /// unsorted `find_one_and_update`, which walks the `code` index: by
    /// code, then in storing order. Here each unit's candidates are one
    /// range of the `{code, unit}` index (equality on both, ties in
    /// storing order, so the sort needs no sort stage and reads at most
    /// `max` entries), merged by code and `_id`: ObjectIds made by one
    /// server rise with time. Sorting by the document's key instead made
    /// MongoDB choose between sorting the whole backlog and walking the
    /// key index through every finished document.
    fn choose(&self, now: f64, max: usize, units: &[String]) -> Result<Vec<Bson>, StoreError> {
        let units: std::collections::BTreeSet<&String> = units.iter().collect();
        let mut chosen: Vec<(i64, Bson)> = Vec::new();
        for unit in units {
            let mut filter = claimable(&[code::RERUN_REQUESTED, code::NEW], now);
            filter.insert("unit", unit);
            let found = self
                .coll("t2")
                .find(filter)
                .projection(doc! {"_id": 1, "code": 1})
                .sort(doc! {"code": 1, "unit": 1})
                .limit(max as i64)
                .run()
                .map_err(self.fail())?;
            for d in found {
                let d = d.map_err(self.fail())?;
                if let Some(id) = d.get("_id") {
                    // The filter matched a claimable code, so one is there.
                    chosen.push((int(d.get("code")).unwrap_or(code::NEW), id.clone()));
                }
            }
        }
        chosen.sort_by(|(c1, a), (c2, b)| c1.cmp(c2).then_with(|| storing_order(a, b)));
        chosen.truncate(max);
        Ok(chosen.into_iter().map(|(_, id)| id).collect())
    }

    pub(super) fn claim_keys(
        &mut self,
        keys: &[T2Key],
        now: f64,
        steal_running: bool,
    ) -> Result<Vec<T2Doc>, StoreError> {
        let mut out = Vec::new();
        // A key given twice is claimed once (stealing would match twice).
        let keys: std::collections::BTreeSet<&T2Key> = keys.iter().collect();
        let codes: &[i64] = match steal_running {
            // A RUNNING document's retry_after, if any, has passed: it was
            // claimed after it.
            true => &[code::NEW, code::RERUN_REQUESTED, code::RUNNING],
            false => &[code::NEW, code::RERUN_REQUESTED],
        };
        let condition = claimable(codes, now);
        for k in keys {
            // One atomic find-and-modify per key: the condition is part of
            // the filter, so two workers never both claim a document.
            let mut filter = t2_filter(k);
            filter.extend(condition.clone());
            let d = self
                .coll("t2")
                .find_one_and_update(
                    filter,
                    doc! {"$set": {"code": code::RUNNING, "claimed_at": now}},
                )
                .return_document(ReturnDocument::After)
                .run()
                .map_err(self.fail())?;
            if let Some(d) = d {
                out.push(self.parse("t2", d)?);
            }
        }
        Ok(out)
    }
}

/// The claimable condition: one of `codes`, and no back-off pending
/// (`retry_after` null, absent or passed). Written without `$or`: a
/// top-level `$or` made SecantusDB scan the collection for every claim by
/// key (97 ms per claim at 1,624 T2 documents, 1.1 ms without; its
/// planner gives up the key's index), and MongoDB plans both alike.
fn claimable(codes: &[i64], now: f64) -> Document {
    doc! {
        "code": {"$in": codes.to_vec()},
        "retry_after": {"$not": {"$gt": now}},
    }
}

/// Storing order between two `_id`s: ObjectIds rise with the time and
/// counter of the server that made them. Any other kind of id keeps the
/// order its unit's walk gave (the sort is stable).
fn storing_order(a: &Bson, b: &Bson) -> std::cmp::Ordering {
    match (a, b) {
        (Bson::ObjectId(a), Bson::ObjectId(b)) => a.bytes().cmp(&b.bytes()),
        _ => std::cmp::Ordering::Equal,
    }
}

/// A token no other claim carries: host, process, a counter and the time.
fn claim_token(now: f64) -> String {
    static CLAIMS: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}:{}:{}:{now}",
        ampel::run::host_name(),
        std::process::id(),
        CLAIMS.fetch_add(1, Ordering::Relaxed)
    )
}
