//! T0 filter units: the per-channel decision on each incoming alert.

use super::UnitContext;
use crate::alert::Alert;
use crate::config::UnitConfigError;
use serde_json::Value as Json;
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
}

/// Builds a filter unit from its (unvalidated) config.
pub type BuildFilter = fn(&Json, &UnitContext) -> Result<Box<dyn AlertFilter>, UnitConfigError>;

/// A filter unit's registration: its AMPEL name and how to build it.
pub struct FilterUnit {
    pub name: &'static str,
    pub build: BuildFilter,
}

inventory::collect!(FilterUnit);

/// Names of all registered filter units, sorted.
pub fn filter_names() -> Vec<&'static str> {
    let mut v: Vec<_> = inventory::iter::<FilterUnit>
        .into_iter()
        .map(|u| u.name)
        .collect();
    v.sort_unstable();
    v
}

/// Builds the filter unit `name` from its config.
pub fn build_filter(
    name: &str,
    config: &Json,
    ctx: &UnitContext,
) -> Result<Box<dyn AlertFilter>, UnitConfigError> {
    match inventory::iter::<FilterUnit>
        .into_iter()
        .find(|u| u.name == name)
    {
        Some(unit) => (unit.build)(config, ctx),
        None => Err(UnitConfigError::unknown_unit(name, &filter_names())),
    }
}
