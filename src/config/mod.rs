//! Configuration: typed unit configs validated in stages (every problem
//! reported at once), and reading config arguments (JSON or `@file.yml`).

mod arg;
pub mod lax;
mod unit_config;

pub use arg::{load_config_arg, ConfigArgError};
pub use unit_config::{parse_unit_config, suggest, ConfigProblem, UnitConfigError, Validate};
