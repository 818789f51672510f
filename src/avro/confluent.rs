//! The Confluent wire format (Rubin's stream): `0x00`, a 4-byte big-endian
//! schema id, then one bare Avro datum. Schemas come from a local registry
//! directory instead of a registry server.
//!
//! Registry layout: `<dir>/registry.json` maps ids to schema files relative
//! to `<dir>`, e.g. `{"900": "lsst/lsst.v9_0.alert.avsc"}`.

use super::AvroError;
use bytes::Bytes;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const CONFLUENT_MAGIC: u8 = 0;

/// Splits a Confluent frame into schema id and datum.
pub fn split_confluent(bytes: &Bytes) -> Result<(u32, Bytes), AvroError> {
    if bytes.first() != Some(&CONFLUENT_MAGIC) {
        return Err(AvroError::UnknownFraming(
            bytes.iter().take(4).copied().collect(),
        ));
    }
    if bytes.len() < 5 {
        return Err(AvroError::Truncated {
            what: "Confluent schema id",
            offset: 1,
        });
    }
    let id = u32::from_be_bytes(bytes[1..5].try_into().expect("4 bytes"));
    Ok((id, bytes.slice(5..)))
}

/// Schemas by id, read from a directory once.
#[derive(Debug, Default, Clone)]
pub struct SchemaRegistry {
    dir: PathBuf,
    by_id: HashMap<u32, Bytes>,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Format { path: PathBuf, reason: String },
}

impl SchemaRegistry {
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self, RegistryError> {
        let dir = dir.as_ref().to_path_buf();
        let index_path = dir.join("registry.json");
        let text = std::fs::read(&index_path).map_err(|source| RegistryError::Io {
            path: index_path.clone(),
            source,
        })?;
        let index: HashMap<String, String> =
            serde_json::from_slice(&text).map_err(|e| RegistryError::Format {
                path: index_path.clone(),
                reason: e.to_string(),
            })?;
        let mut by_id = HashMap::new();
        for (id, file) in index {
            let id: u32 = id.parse().map_err(|_| RegistryError::Format {
                path: index_path.clone(),
                reason: format!("schema id {id:?} is not an unsigned 32-bit integer"),
            })?;
            let path = dir.join(&file);
            let raw = std::fs::read(&path).map_err(|source| RegistryError::Io {
                path: path.clone(),
                source,
            })?;
            by_id.insert(id, Bytes::from(raw));
        }
        Ok(SchemaRegistry { dir, by_id })
    }

    pub fn get(&self, id: u32) -> Result<&Bytes, AvroError> {
        self.by_id
            .get(&id)
            .ok_or_else(|| AvroError::UnknownSchemaId {
                id,
                dir: self.dir.display().to_string(),
            })
    }

    pub fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.by_id.keys().copied()
    }

    /// The id registered for a schema with this root name (e.g.
    /// `lsst.v9_0.alert` -> 900), for writing Confluent frames.
    pub fn id_for_name(&self, name: &str) -> Option<u32> {
        let mut ids: Vec<u32> = self
            .by_id
            .iter()
            .filter(|(_, raw)| super::SchemaJson::parse(raw).is_ok_and(|j| j.root_name() == name))
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids.pop()
    }
}

impl SchemaRegistry {
    /// The schemas shipped in the repository's `schemas/` directory, built
    /// into the binary so that Rubin frames decode from any working directory.
    pub fn builtin() -> Self {
        let mut by_id = HashMap::new();
        by_id.insert(
            900,
            Bytes::from_static(include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/schemas/lsst/lsst.v9_0.alert.avsc"
            ))),
        );
        SchemaRegistry {
            dir: PathBuf::from("(built-in schemas)"),
            by_id,
        }
    }
}
