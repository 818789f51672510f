//! Errors of the Avro layer. All of them are *permanent*: the same bytes give
//! the same error, so a record that fails here belongs in a dead letter, not
//! in a retry loop.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum AvroError {
    #[error("not an Avro container or Confluent frame (first bytes {0:02x?})")]
    UnknownFraming(Vec<u8>),
    #[error("truncated {what} at byte {offset}")]
    Truncated { what: &'static str, offset: usize },
    #[error("invalid {what} at byte {offset}: {reason}")]
    Invalid {
        what: &'static str,
        offset: usize,
        reason: String,
    },
    #[error("container header has no avro.schema")]
    MissingSchema,
    #[error("unsupported codec {0:?} (supported: null, deflate, snappy)")]
    UnsupportedCodec(String),
    #[error("{codec} block {block} does not decompress: {reason}")]
    Decompress {
        codec: &'static str,
        block: usize,
        reason: String,
    },
    #[error("block {block}: sync marker mismatch (file corrupt or truncated)")]
    SyncMismatch { block: usize },
    #[error("writer schema does not parse: {0}")]
    Schema(String),
    #[error("unknown writer schema {name:?}: no survey decoder for it")]
    UnknownSchemaName { name: String },
    #[error("schema id {id} not found in the schema registry ({dir})")]
    UnknownSchemaId { id: u32, dir: String },
    #[error("record {index}: datum does not match its writer schema: {reason}")]
    Datum { index: usize, reason: String },
    #[error("record {index}: {trailing} trailing bytes after the datum")]
    TrailingBytes { index: usize, trailing: usize },
    #[error("record {index}: {reason}")]
    Shape { index: usize, reason: String },
}
