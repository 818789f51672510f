//! A datapoint's body: JSON as the archive gives it back, or, for a
//! datapoint T0 is about to store, the alert's decoded row with the fields
//! shaping keeps, serialised straight from the row.
//!
//! Why: T0 used to build a JSON map of every new datapoint (56 fields of a
//! ZTF photopoint, each name a fresh string, each value converted) only to
//! serialise it once: a sixth of T0's thread in an accept-all replay. A
//! row body writes the same JSON, and the same BSON, from the row itself.
//! Readers see JSON either way ([`std::ops::Deref`]); a row body builds it
//! on first use, which the write path never asks for.

use crate::alert::{Body, Value};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value as Json;
use std::sync::OnceLock;

/// A datapoint body.
#[derive(Debug, Clone)]
pub enum DataPointBody {
    Json(Json),
    Row(RowBody),
}

/// An alert's row and which of its fields the stored body holds. The
/// survey decides the fields (AMPEL's datapoint shapers); this type only
/// writes them.
#[derive(Debug, Clone)]
pub struct RowBody {
    row: Body,
    fields: RowFields,
    json: OnceLock<Json>,
}

/// Which fields of a row a body holds, in the order written.
#[derive(Debug, Clone, Copy)]
pub enum RowFields {
    /// Every field, in the row's order.
    All,
    /// Every field but these, in the row's order.
    Except(&'static [&'static str]),
    /// These, in this order; a field the row lacks is written as null.
    Only(&'static [&'static str]),
}

impl RowBody {
    pub fn new(row: Body, fields: RowFields) -> Self {
        RowBody {
            row,
            fields,
            json: OnceLock::new(),
        }
    }

    /// Calls `f` with the body's fields and values, in the order written
    /// (no boxed iterator: this runs for every datapoint T0 stores).
    fn each<E>(&self, mut f: impl FnMut(&str, &Value) -> Result<(), E>) -> Result<(), E> {
        match self.fields {
            RowFields::All => self.row.iter().try_for_each(|(k, v)| f(k, v)),
            RowFields::Except(out) => self
                .row
                .iter()
                .filter(|(k, _)| !out.contains(k))
                .try_for_each(|(k, v)| f(k, v)),
            RowFields::Only(only) => only
                .iter()
                .try_for_each(|k| f(k, self.row.get(k).unwrap_or(&Value::Null))),
        }
    }

    /// The JSON the row body serialises to.
    fn to_json(&self) -> Json {
        serde_json::to_value(self).expect("a row body has string keys")
    }
}

/// One row value serialised as T0 always stored it: bytes as a list of
/// numbers, a non-finite float as null, in JSON and in BSON alike.
struct Cell<'a>(&'a Value);

impl Serialize for Cell<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Bytes(b) => {
                let mut seq = s.serialize_seq(Some(b.len()))?;
                // As JSON numbers (i64), not bytes: BSON would make them Int32.
                for x in b.iter() {
                    seq.serialize_element(&i64::from(*x))?;
                }
                seq.end()
            }
            Value::Float(f) if !f.is_finite() => s.serialize_none(),
            v => v.serialize(s),
        }
    }
}

impl Serialize for RowBody {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        self.each(|k, v| m.serialize_entry(k, &Cell(v)))?;
        m.end()
    }
}

impl DataPointBody {
    /// The body as JSON, built once for a row body.
    pub fn json(&self) -> &Json {
        match self {
            DataPointBody::Json(j) => j,
            DataPointBody::Row(r) => r.json.get_or_init(|| r.to_json()),
        }
    }

    /// The body as JSON, owned (for changing it).
    pub fn into_json(self) -> Json {
        match self {
            DataPointBody::Json(j) => j,
            DataPointBody::Row(mut r) => r.json.take().unwrap_or_else(|| r.to_json()),
        }
    }
}

impl std::ops::Deref for DataPointBody {
    type Target = Json;

    fn deref(&self) -> &Json {
        self.json()
    }
}

impl From<Json> for DataPointBody {
    fn from(j: Json) -> Self {
        DataPointBody::Json(j)
    }
}

impl From<RowBody> for DataPointBody {
    fn from(r: RowBody) -> Self {
        DataPointBody::Row(r)
    }
}

impl PartialEq for DataPointBody {
    fn eq(&self, other: &Self) -> bool {
        self.json() == other.json()
    }
}

impl PartialEq<Json> for DataPointBody {
    fn eq(&self, other: &Json) -> bool {
        self.json() == other
    }
}

impl Serialize for DataPointBody {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            DataPointBody::Json(j) => j.serialize(s),
            DataPointBody::Row(r) => r.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for DataPointBody {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Json::deserialize(d).map(DataPointBody::Json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{FieldNames, Row};

    fn row() -> Body {
        let names = FieldNames::new(["jd", "candid", "name", "flux", "bad", "raw", "none"]);
        Body::new(
            names,
            Row(vec![
                Value::Float(2460000.5),
                Value::Int(7),
                Value::Str("a\"b".into()),
                Value::Float(-1.25e-7),
                Value::Float(f64::NAN),
                Value::Bytes(vec![1, 2].into()),
                Value::Null,
            ]),
        )
    }

    /// Written straight from the row, a body is the JSON its map would be,
    /// byte for byte, for each way of choosing fields.
    #[test]
    fn a_row_body_writes_what_its_json_map_writes() {
        for fields in [
            RowFields::All,
            RowFields::Except(&["candid", "raw"]),
            RowFields::Only(&["name", "jd", "missing"]),
        ] {
            let body = RowBody::new(row(), fields);
            let map = body.to_json();
            assert_eq!(
                serde_json::to_string(&body).unwrap(),
                serde_json::to_string(&map).unwrap(),
                "{fields:?}"
            );
            assert_eq!(DataPointBody::from(body), map);
        }
        let only = RowBody::new(row(), RowFields::Only(&["name", "missing"]));
        assert_eq!(
            serde_json::to_string(&only).unwrap(),
            r#"{"name":"a\"b","missing":null}"#
        );
        let except = RowBody::new(row(), RowFields::Except(&["candid", "name"]));
        assert_eq!(
            serde_json::to_string(&except).unwrap(),
            r#"{"jd":2460000.5,"flux":-1.25e-7,"bad":null,"raw":[1,2],"none":null}"#
        );
    }

    #[test]
    fn a_body_reads_back_as_json() {
        let body = DataPointBody::from(RowBody::new(row(), RowFields::Except(&["candid"])));
        let text = serde_json::to_string(&body).unwrap();
        let back: DataPointBody = serde_json::from_str(&text).unwrap();
        assert!(matches!(back, DataPointBody::Json(_)));
        assert_eq!(back, body);
        assert_eq!(body.get("jd").and_then(Json::as_f64), Some(2460000.5));
    }
}
