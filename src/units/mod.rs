//! Units: the algorithms, separated from the infrastructure that runs them.
//!
//! A unit has a typed config (`XConfig`, serde) that builds the runtime unit
//! (`X`) given a [`UnitContext`] of shared resources. Units register
//! themselves by their AMPEL name with `inventory::submit!`, so channel
//! files keep AMPEL's names and no central `match` grows with every unit.

mod context;
mod filter;
mod registry;

pub use context::{CatalogSpec, UnitContext};
pub use filter::{
    build_filter, filter_names, AlertFilter, BuildFilter, FilterUnit, FilterVerdict, Rejection,
};
pub use registry::no_config;
