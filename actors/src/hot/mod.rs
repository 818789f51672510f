//! Hot state backends: Redis (shared by all processes of a consumer group)
//! and opening one from an address (`memory` or `redis://HOST:PORT[/DB]`).

mod redis_state;
mod t2_stream;

pub use redis_state::RedisHotState;
pub use t2_stream::RedisT2Queue;

use ampel::hot::{HotError, HotState, InProcessHotState};

/// Whether a hot-state address is a Redis server (shared between
/// processes) rather than this process's memory.
pub fn is_redis(address: &str) -> bool {
    address.starts_with("redis://") || address.starts_with("rediss://")
}

/// The Redis key namespace of a job's hot state: the job's name and its
/// archive's id ([`ampel::store::Archive::archive_id`]). A job name reused
/// with a fresh archive thus starts from nothing, instead of skipping every
/// alert another archive has seen (it stored 0 of 5,160).
pub fn namespace(job: &str, archive_id: i64) -> String {
    format!("{job}@{:016x}", archive_id as u64)
}

/// Opens the hot state at `address`; `namespace` ([`namespace`]) separates
/// jobs and archives sharing one Redis.
pub fn open_hot(address: &str, namespace: &str) -> Result<Box<dyn HotState>, HotError> {
    if address == "memory" {
        Ok(Box::new(InProcessHotState::default()))
    } else if is_redis(address) {
        Ok(Box::new(RedisHotState::connect(address, namespace)?))
    } else {
        Err(HotError {
            location: address.to_string(),
            reason: "expected `memory` or redis://HOST:PORT".into(),
        })
    }
}
