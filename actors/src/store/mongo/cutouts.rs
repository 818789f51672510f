//! The `cutout` collection in MongoDB: an alert's stamps as BSON binaries
//! under `_id` = the alert's id, read back by id or as a stock's newest.

use super::sync::MongoSync;
use ampel::store::{CutoutDoc, StoreError};
use mongodb::bson::{doc, spec::BinarySubtype, Binary, Bson, Document};

/// The stored shape of a cutout (inserted once: `$setOnInsert`).
pub(super) fn to_bson(c: &CutoutDoc) -> Document {
    let bin = |b: &Option<Vec<u8>>| match b {
        Some(bytes) => Bson::Binary(Binary {
            subtype: BinarySubtype::Generic,
            bytes: bytes.clone(),
        }),
        None => Bson::Null,
    };
    doc! {
        "stock": c.stock, "jd": c.jd,
        "science": bin(&c.science), "template": bin(&c.template), "difference": bin(&c.difference),
    }
}

fn from_bson(d: &Document) -> Option<CutoutDoc> {
    let bin = |k: &str| match d.get(k) {
        Some(Bson::Binary(b)) => Some(b.bytes.clone()),
        _ => None,
    };
    Some(CutoutDoc {
        id: d.get_i64("_id").ok()?,
        stock: d.get_i64("stock").ok()?,
        jd: d.get_f64("jd").ok()?,
        science: bin("science"),
        template: bin("template"),
        difference: bin("difference"),
    })
}

impl MongoSync {
    /// The first cutout matching `filter` in `sort` order.
    pub(super) fn one_cutout(
        &self,
        filter: Document,
        sort: Document,
    ) -> Result<Option<CutoutDoc>, StoreError> {
        let found = self
            .coll("cutout")
            .find_one(filter)
            .sort(sort)
            .run()
            .map_err(self.fail())?;
        match found {
            None => Ok(None),
            Some(d) => from_bson(&d).map(Some).ok_or_else(|| StoreError::Corrupt {
                location: self.location.clone(),
                collection: "cutout",
                reason: format!(
                    "cutout document without _id, stock or jd: {:?}",
                    d.get("_id")
                ),
            }),
        }
    }
}
