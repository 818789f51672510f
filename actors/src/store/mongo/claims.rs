//! T2 claims in MongoDB: a batch of claimable documents, or given keys,
//! moved to RUNNING so that two workers never both run one. Atomicity
//! comes from the claimable condition being part of each update's filter.

use super::statements::t2_filter;
use super::sync::to_b;
use super::sync::MongoSync;
use ampel::store::*;
use mongodb::bson::{doc, Document};
use mongodb::options::ReturnDocument;
use std::sync::atomic::{AtomicU64, Ordering};

impl MongoSync {
    /// A batch in three round trips, whatever its size: choose up to
    /// `max` claimable documents, take those still claimable with this
    /// claim's token (one `update`; the condition is in its filter, so of
    /// two workers that chose the same documents each takes only what the
    /// other has not), read back what carries the token. One
    /// find-and-modify per document made a drain cost a round trip, and on
    /// a server without a usable index a scan, per T2 run.
    pub(super) fn claim_batch(
        &mut self,
        now: f64,
        max: usize,
        units: &[String],
    ) -> Result<Vec<T2Doc>, StoreError> {
        let mut claimable = claimable(&[code::NEW, code::RERUN_REQUESTED], now);
        claimable.insert("unit", doc! {"$in": to_b(&units)});
        let order = doc! {"stock": 1, "unit": 1, "config": 1, "link": 1};
        let chosen = self
            .coll("t2")
            .find(claimable.clone())
            .projection(doc! {"_id": 1})
            .sort(order.clone())
            .limit(max as i64)
            .run()
            .map_err(self.fail())?;
        let mut ids = Vec::new();
        for d in chosen {
            if let Some(id) = d.map_err(self.fail())?.get("_id") {
                ids.push(id.clone());
            }
        }
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let token = claim_token(now);
        let mut take = claimable;
        take.insert("_id", doc! {"$in": ids.clone()});
        self.coll("t2")
            .update_many(
                take,
                doc! {"$set": {"code": code::RUNNING, "claimed_at": now, "claim": &token}},
            )
            .run()
            .map_err(self.fail())?;
        self.find(
            "t2",
            doc! {"_id": {"$in": ids}, "claim": &token},
            order,
            None,
        )
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
