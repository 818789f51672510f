//! T0 filter units: `DecentFilter`, `SimpleDecentFilter`, `ExpressionFilter`, and
//! `FaultInjectionFilter` (panics on purpose, for fault tests).

mod decent;
mod decent_filter;
mod expr;
mod expression_filter;
mod fault_injection_filter;
mod simple_decent_filter;

pub use decent_filter::{DecentFilter, DecentFilterConfig};
pub use expr::{ExprError, Expression};
pub use expression_filter::{ExpressionFilter, ExpressionFilterConfig};
pub use simple_decent_filter::{SimpleDecentFilter, SimpleDecentFilterConfig};
