//! Kafka: producing archive alerts into a topic in the survey's wire format
//! (for replays and tests), consuming alerts for `ampel run`, and how far
//! a consumer group is from the end of its topics (catch-up runs).

pub mod assignment;
pub mod group;
mod log;
mod produce;
mod source;

pub use log::{KafkaLog, SummarizingContext};
pub use produce::{produce, ProduceSummary};
pub use source::{client_config, SourceHealth, ASSIGNOR};
