//! Kafka: producing archive alerts into a topic in the survey's wire format
//! (for replays and tests), and consuming alerts for `ampel run`.

mod produce;
mod source;

pub use produce::{produce, ProduceSummary};
pub use source::{client_config, SourceHealth};
