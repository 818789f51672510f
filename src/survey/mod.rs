//! Survey specifics: how each survey's packets decode and shape into the
//! survey-neutral [`Alert`](crate::alert::Alert). Nothing outside this module
//! (and the dispatch in [`crate::decode`]) names a survey's fields.
//! Reactions ask [`summary`] for links, positions and photometry.

pub mod document;
pub mod fields;
pub mod lightcurve;
pub mod lsst;
pub mod summary;
pub mod ztf;
