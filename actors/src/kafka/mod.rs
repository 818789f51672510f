//! Kafka: producing archive alerts into a topic in the survey's wire format
//! (for replays and tests), and consuming alerts for `ampel run`.

mod produce;

pub use produce::{produce, ProduceSummary};
