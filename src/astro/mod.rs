//! Sky geometry: ICRS -> Galactic, angular separations.

mod coords;

pub use coords::{angular_separation_deg, icrs_to_galactic};
