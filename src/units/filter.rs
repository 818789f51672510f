//! T0 filter units: the per-channel decision on each incoming alert.

use crate::alert::Alert;
use std::fmt;

/// Why an alert was rejected: the cut that failed and the value that failed it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub cut: &'static str,
    pub detail: String,
}

impl Rejection {
    pub fn new(cut: &'static str, detail: impl Into<String>) -> Self {
        Rejection {
            cut,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.cut, self.detail)
    }
}

/// A filter's answer (AMPEL: None / True / a group number).
#[derive(Debug, Clone, PartialEq)]
pub enum FilterVerdict {
    Accept,
    /// Accept and route to a T2 group.
    AcceptGroup(i32),
    Reject(Rejection),
}

impl FilterVerdict {
    pub fn accepted(&self) -> bool {
        !matches!(self, FilterVerdict::Reject(_))
    }

    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            FilterVerdict::Reject(r) => Some(r),
            _ => None,
        }
    }
}

/// A T0 filter. Pure: no I/O in `process` (catalogues are loaded at build).
pub trait AlertFilter: Send + Sync {
    fn process(&self, alert: &Alert) -> FilterVerdict;

    /// Fields of the latest datapoint this filter reads by name. A job is
    /// refused when its channel's survey lacks one (a missing field reads
    /// as null and would fail a cut for every alert, blaming the alert).
    fn fields_read(&self) -> Vec<String> {
        Vec::new()
    }
}

crate::unit_registry!(
    FilterUnit,
    BuildFilter,
    dyn AlertFilter,
    filter_names,
    build_filter,
    "filter"
);
