//! # ampel: the domain core of AMPEL in Rust
//!
//! Everything here is plain data and algorithms: no network I/O, no actors,
//! no Kafka/Redis/Prometheus. The live runtime (`ampel-actors`) and the CLI
//! drive these types.
//!
//! Layout (one concept per module):
//! - [`alert`]: the survey-neutral alert model (alert, datapoint, body, value).
//! - [`avro`]: Object Container Files, Confluent framing, writer-schema cache.
//! - [`survey`]: ZTF and LSST packet decoding and shaping, ZTF stock ids.
//! - [`decode`]: the decoder entry point, one message in, shaped alerts out.
//! - [`source`]: alerts on disk (file, directory, tar, tar.gz), streamed.
//! - [`id`]: AMPEL identities (T1 link, config id, Python-compatible JSON).
//! - [`config`]: typed unit configs validated in stages; config arguments.
//! - [`units`]: the unit traits, registry and build context.
//! - [`t0`]: T0 filter units.
//! - [`catalog`]: local catalogues with an indexed cone search.
//! - [`astro`]: sky geometry.
//! - [`hot`]: hot state (alert de-duplication), losable by design.
//! - [`store`]: the archive (AMPEL's collections) and its embedded SQLite implementation.

pub mod alert;
pub mod astro;
pub mod avro;
pub mod catalog;
pub mod config;
pub mod cutout;
pub mod decode;
pub mod hot;
pub mod id;
pub mod job;
pub mod run;
pub mod source;
pub mod store;
pub mod survey;
pub mod t0;
pub mod t2;
pub mod t3;
pub mod units;

pub use decode::AlertDecoder;
