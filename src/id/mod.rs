//! AMPEL identities that must match Python AMPEL bit for bit: T1 links and
//! config ids (ZTF stock and datapoint ids live with the ZTF shaper).

mod config_id;
mod link;
pub mod pyjson;

pub use config_id::{config_id, flatten, ConfigIdError};
pub use link::t1_link;
