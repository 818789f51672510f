//! Avro: Object Container Files, Confluent wire framing, and the writer-schema
//! cache that makes decoding fast.
//!
//! Every ZTF packet is a whole OCF file that embeds its ~40 kB writer schema;
//! parsing that JSON for each alert would cost more than decoding the alert.
//! [`SchemaCache`] parses each distinct writer schema once (keyed by a hash of
//! its bytes, confirmed by comparing them) and keeps what the survey decoders
//! derive from it.

mod cache;
mod confluent;
mod error;
mod ocf;
mod schema_json;

pub use cache::{Cached, SchemaCache, WriterSchema};
pub use confluent::{split_confluent, SchemaRegistry, CONFLUENT_MAGIC};
pub use error::AvroError;
pub use ocf::{Codec, OcfFile, OCF_MAGIC};
pub use schema_json::SchemaJson;
