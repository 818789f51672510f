//! Cutout stamps made viewable: the primary image of a (gzipped) FITS
//! stamp (`fits`), IRAF's zscale limits as astropy computes them
//! (`zscale`), and an 8-bit PNG between those limits (`png`).
//!
//! **Invariant:** knows no survey; the stamps come from `alert::Cutouts`
//! or from the archive's `cutout` documents.

pub mod fits;
pub mod png;
pub mod zscale;

pub use fits::{FitsError, Image};
pub use png::{to_png, PngError};
pub use zscale::zscale;
