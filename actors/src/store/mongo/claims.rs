//! T2 claims in MongoDB: a batch of claimable documents, or given keys,
//! moved to RUNNING so that two workers never both run one. Atomicity
//! comes from the claimable condition being part of each update's filter.

use super::statements::t2_filter;
use super::sync::to_b;
use super::sync::MongoSync;
use ampel::store::*;
use mongodb::bson::{doc, Bson};
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
        let claimable = doc! {
            "code": {"$in": [code::NEW, code::RERUN_REQUESTED]},
            "unit": {"$in": to_b(&units)},
            "$or": [{"retry_after": Bson::Null}, {"retry_after": {"$lte": now}}],
        };
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
        for k in keys {
            // One atomic find-and-modify per key: the condition is part of
            // the filter, so two workers never both claim a document.
            let mut claimable = vec![doc! {
                "code": {"$in": [code::NEW, code::RERUN_REQUESTED]},
                "$or": [{"retry_after": Bson::Null}, {"retry_after": {"$lte": now}}],
            }];
            if steal_running {
                claimable.push(doc! {"code": code::RUNNING});
            }
            let mut filter = t2_filter(k);
            filter.insert("$or", claimable);
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
