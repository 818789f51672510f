//! A datapoint read for a reader that needs only part of it, as a MongoDB
//! projection reads it: the body's named fields and no meta.
//!
//! Why: T2 reads a stock's datapoints for every state it runs on, and a
//! ZTF photopoint's body has 56 fields while the light curve units read
//! about ten; parsing the rest into a JSON tree was a third of the T2
//! thread in a replay. A projected read skips what it does not keep while
//! scanning (no allocation, no number conversion), so its cost follows
//! what the reader asks for.

use super::doc::{one_or_many, DataPointDoc};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value as Json};
use std::fmt;

/// What a projected datapoint keeps: id, stock, channel, tag, and of the
/// body only `body` (in stored order); meta is left empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataPointProjection {
    body: Vec<String>,
    /// [`sieve_bit`] of each kept field: most body keys a read meets are
    /// not kept, and are turned away here without a string comparison.
    sieve: [u64; 4],
}

/// A key's place in [`DataPointProjection::sieve`], from its length and
/// first and last bytes.
fn sieve_bit(field: &str) -> usize {
    let b = field.as_bytes();
    let (first, last) = (b.first().copied(), b.last().copied());
    (b.len() * 31 + usize::from(first.unwrap_or(0)) + 7 * usize::from(last.unwrap_or(0))) & 255
}

impl DataPointProjection {
    /// The body fields to keep, each once.
    pub fn body<I, S>(fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut body: Vec<String> = fields.into_iter().map(Into::into).collect();
        body.sort();
        body.dedup();
        let mut sieve = [0u64; 4];
        for f in &body {
            let bit = sieve_bit(f);
            sieve[bit / 64] |= 1 << (bit % 64);
        }
        DataPointProjection { body, sieve }
    }

    /// The body fields kept, sorted.
    pub fn body_fields(&self) -> &[String] {
        &self.body
    }

    /// Asked for every body key of every datapoint read (a tenth of the T2
    /// thread in an accept-all replay while it was a search alone): the
    /// sieve turns most keys away, the sorted fields decide the rest.
    fn keeps(&self, field: &str) -> bool {
        let bit = sieve_bit(field);
        self.sieve[bit / 64] & (1 << (bit % 64)) != 0
            && self
                .body
                .binary_search_by(|f| f.as_str().cmp(field))
                .is_ok()
    }

    /// A whole datapoint cut down to what the projection keeps: what a
    /// projected read of the same stored document returns.
    pub fn apply(&self, mut dp: DataPointDoc) -> DataPointDoc {
        dp.meta.clear();
        let mut body = std::mem::replace(&mut dp.body, Json::Null.into()).into_json();
        if let Json::Object(b) = &mut body {
            b.retain(|k, _| self.keeps(k));
        }
        dp.body = body.into();
        dp
    }

    /// Whole datapoints cut down: what a backend that cannot project
    /// while reading returns.
    pub fn apply_all(&self, dps: Vec<DataPointDoc>) -> Vec<DataPointDoc> {
        dps.into_iter().map(|d| self.apply(d)).collect()
    }

    /// Parses one stored datapoint (JSON text) keeping only what the
    /// projection names.
    pub fn parse(&self, text: &str) -> serde_json::Result<DataPointDoc> {
        let mut de = serde_json::Deserializer::from_str(text);
        let dp = self.deserialize(&mut de)?;
        de.end()?;
        Ok(dp)
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum Field {
    Id,
    Stock,
    Channel,
    Tag,
    Meta,
    Body,
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct Stocks(#[serde(deserialize_with = "one_or_many")] Vec<i64>);

impl<'de> DeserializeSeed<'de> for &DataPointProjection {
    type Value = DataPointDoc;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<DataPointDoc, D::Error> {
        d.deserialize_map(DocVisitor(self))
    }
}

struct DocVisitor<'p>(&'p DataPointProjection);

impl<'de> Visitor<'de> for DocVisitor<'_> {
    type Value = DataPointDoc;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a datapoint document")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<DataPointDoc, A::Error> {
        use serde::de::Error;
        let (mut id, mut stock, mut channel, mut body) = (None, None, None, None);
        let mut tag = Vec::new();
        while let Some(k) = m.next_key::<Field>()? {
            match k {
                Field::Id => id = Some(m.next_value()?),
                Field::Stock => stock = Some(m.next_value::<Stocks>()?.0),
                Field::Channel => channel = Some(m.next_value()?),
                Field::Tag => tag = m.next_value()?,
                Field::Body => body = Some(m.next_value_seed(BodySeed(self.0))?),
                Field::Meta | Field::Other => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(DataPointDoc {
            id: id.ok_or_else(|| A::Error::missing_field("id"))?,
            stock: stock.ok_or_else(|| A::Error::missing_field("stock"))?,
            channel: channel.ok_or_else(|| A::Error::missing_field("channel"))?,
            tag,
            meta: Vec::new(),
            body: body.ok_or_else(|| A::Error::missing_field("body"))?.into(),
        })
    }
}

struct BodySeed<'p>(&'p DataPointProjection);

impl<'de> DeserializeSeed<'de> for BodySeed<'_> {
    type Value = Json;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for BodySeed<'_> {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a datapoint body (an object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Json, A::Error> {
        let mut out = Map::with_capacity(self.0.body.len());
        while let Some(key) = m.next_key_seed(KeySeed(self.0))? {
            match key {
                Some(k) => {
                    out.insert(k, m.next_value()?);
                }
                None => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Json::Object(out))
    }
}

/// A body key: `Some` (owned) when kept, `None` (never copied) otherwise.
struct KeySeed<'p>(&'p DataPointProjection);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<String>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E>(self, k: &str) -> Result<Option<String>, E> {
        Ok(self.0.keeps(k).then(|| k.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stored() -> Json {
        json!({
            "id": 7, "stock": 42, "channel": ["A", "B"], "tag": ["ZTF"],
            "meta": [{"run": 1, "ts": 1.5, "tier": 0, "process": "p", "action": "ingest"}],
            "body": {"jd": 2460000.5, "fid": 1, "magpsf": 18.25, "name": "x\"y",
                     "nested": {"a": [1, 2.5e-7, null]}, "sigmapsf": 0.1},
            "extra": {"ignored": true}
        })
    }

    #[test]
    fn a_projected_read_keeps_the_named_fields_in_stored_order() {
        let p = DataPointProjection::body(["sigmapsf", "jd", "nested", "absent"]);
        let dp = p.parse(&stored().to_string()).unwrap();
        assert_eq!(
            (dp.id, dp.stock.clone(), dp.tag.clone()),
            (7, vec![42], vec!["ZTF".into()])
        );
        assert_eq!(dp.channel, ["A", "B"]);
        assert!(dp.meta.is_empty());
        assert_eq!(
            dp.body,
            json!({"jd": 2460000.5, "nested": {"a": [1, 2.5e-7, null]}, "sigmapsf": 0.1})
        );
        let keys: Vec<&String> = dp.body.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["jd", "nested", "sigmapsf"]);
    }

    #[test]
    fn a_projected_read_equals_the_whole_document_cut_down() {
        let p = DataPointProjection::body(["fid", "name", "magpsf"]);
        let text = stored().to_string();
        let whole: DataPointDoc = serde_json::from_str(&text).unwrap();
        assert_eq!(p.parse(&text).unwrap(), p.apply(whole));
    }

    #[test]
    fn a_stock_list_and_a_missing_field_are_read_as_the_whole_document_reads_them() {
        let p = DataPointProjection::body(["jd"]);
        let many = r#"{"id":-3,"stock":[1,2],"channel":["A"],"body":{"jd":1}}"#;
        assert_eq!(p.parse(many).unwrap().stock, [1, 2]);
        let err = p.parse(r#"{"id":1,"stock":1,"channel":[]}"#).unwrap_err();
        assert!(err.to_string().contains("missing field `body`"), "{err}");
        assert!(p
            .parse(r#"{"id":1,"stock":1,"channel":[],"body":{}} x"#)
            .is_err());
    }
}
