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

/// Opens the hot state at `address`; `namespace` (the job name) separates
/// jobs sharing one Redis.
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
