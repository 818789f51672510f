//! Counts a viewer asks for, computed by the server (aggregations): stocks
//! per channel, T2 documents per (unit, code).

use super::sync::MongoSync;
use super::values::int;
use ampel::store::StoreError;
use mongodb::bson::doc;
use std::collections::BTreeMap;

impl MongoSync {
    pub(super) fn count_channels(&self) -> Result<BTreeMap<String, u64>, StoreError> {
        let pipeline = [
            doc! {"$unwind": "$channel"},
            doc! {"$group": {"_id": "$channel", "n": {"$sum": 1}}},
        ];
        let cursor = self
            .coll("stock")
            .aggregate(pipeline)
            .run()
            .map_err(self.fail())?;
        let mut out = BTreeMap::new();
        for d in cursor {
            let d = d.map_err(self.fail())?;
            let Some(n) = int(d.get("n")) else { continue };
            if let Ok(c) = d.get_str("_id") {
                out.insert(c.to_string(), n as u64);
            }
        }
        Ok(out)
    }

    pub(super) fn count_t2_outcomes(&self) -> Result<BTreeMap<(String, i64), u64>, StoreError> {
        let group = doc! {"$group": {"_id": {"unit": "$unit", "code": "$code"}, "n": {"$sum": 1}}};
        let cursor = self
            .coll("t2")
            .aggregate([group])
            .run()
            .map_err(self.fail())?;
        let mut out = BTreeMap::new();
        for d in cursor {
            let d = d.map_err(self.fail())?;
            let key = d.get_document("_id").ok();
            let unit = key.and_then(|k| k.get_str("unit").ok());
            if let (Some(u), Some(c), Some(n)) =
                (unit, int(key.and_then(|k| k.get("code"))), int(d.get("n")))
            {
                out.insert((u.to_string(), c), n as u64);
            }
        }
        Ok(out)
    }
}
