//! The writer-schema cache: each distinct schema is parsed once.

use super::{AvroError, SchemaJson};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// A parsed writer schema. Shared (`Arc`) by every alert decoded with it.
pub struct WriterSchema {
    /// Full name of the root type (`ztf.alert`, `lsst.v9_0.alert`).
    pub name: String,
    pub raw: Bytes,
    pub avro: serde_avro_fast::Schema,
    pub json: SchemaJson,
}

impl WriterSchema {
    pub fn parse(raw: Bytes) -> Result<Self, AvroError> {
        let text = std::str::from_utf8(&raw).map_err(|e| AvroError::Schema(e.to_string()))?;
        let avro: serde_avro_fast::Schema = text
            .parse()
            .map_err(|e: serde_avro_fast::schema::SchemaError| AvroError::Schema(e.to_string()))?;
        let json = SchemaJson::parse(&raw)?;
        Ok(WriterSchema {
            name: json.root_name(),
            raw,
            avro,
            json,
        })
    }
}

/// A cached schema with what a survey decoder derived from it (`L`, e.g. the
/// field-name tables of its records).
pub struct Cached<L> {
    pub schema: Arc<WriterSchema>,
    pub layout: L,
}

/// Thread-safe cache keyed by the xxh3 hash of the schema bytes; a hit is
/// confirmed by comparing the bytes, so a hash collision cannot mix schemas.
pub struct SchemaCache<L> {
    map: RwLock<HashMap<u64, Vec<Arc<Cached<L>>>>>,
    /// Distinct schemas kept at most; a stream that sends more (a broken
    /// producer) still decodes, just without caching beyond this.
    capacity: usize,
}

impl<L> Default for SchemaCache<L> {
    fn default() -> Self {
        SchemaCache {
            map: RwLock::new(HashMap::new()),
            capacity: 256,
        }
    }
}

impl<L> SchemaCache<L> {
    pub fn get_or_insert(
        &self,
        raw: &Bytes,
        build: impl FnOnce(Arc<WriterSchema>) -> Result<L, AvroError>,
    ) -> Result<Arc<Cached<L>>, AvroError> {
        let key = xxhash_rust::xxh3::xxh3_64(raw);
        {
            let map = self.map.read().unwrap_or_else(|p| p.into_inner());
            if let Some(hit) = map
                .get(&key)
                .and_then(|v| v.iter().find(|c| c.schema.raw == raw))
            {
                return Ok(hit.clone());
            }
        }
        let schema = Arc::new(WriterSchema::parse(raw.clone())?);
        let entry = Arc::new(Cached {
            schema: schema.clone(),
            layout: build(schema)?,
        });
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        if map.values().map(Vec::len).sum::<usize>() < self.capacity {
            map.entry(key).or_default().push(entry.clone());
        }
        Ok(entry)
    }

    /// Number of distinct schemas parsed and kept.
    pub fn len(&self) -> usize {
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        map.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
