//! Hot state backends: Redis (shared by all processes of a consumer group)
//! and opening one from an address (`memory` or `redis://HOST:PORT[/DB]`).

mod redis_state;
mod t2_stream;

pub use redis_state::RedisHotState;
pub use t2_stream::RedisT2Queue;

use ampel::hot::{HotError, HotState, InProcessHotState};

/// Opens the hot state at `address`; `namespace` (the job name) separates
/// jobs sharing one Redis.
pub fn open_hot(address: &str, namespace: &str) -> Result<Box<dyn HotState>, HotError> {
    if address == "memory" {
        Ok(Box::new(InProcessHotState::default()))
    } else if address.starts_with("redis://") || address.starts_with("rediss://") {
        Ok(Box::new(RedisHotState::connect(address, namespace)?))
    } else {
        Err(HotError {
            location: address.to_string(),
            reason: "expected `memory` or redis://HOST:PORT".into(),
        })
    }
}
