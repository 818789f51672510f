//! Reporting T3 units: `T3LogSummary` (a readable line per selected stock,
//! also kept in the t3 document) and `T3ChannelSummary` (one JSON line per
//! selected stock appended to a file).

use super::{StockView, T3Context, T3Unit, T3UnitRegistration};
use crate::config::{parse_unit_config, UnitConfigError, Validate};
use crate::units::UnitContext;
use serde::Deserialize;
use serde_json::{json, Value as Json};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct T3LogSummaryConfig {
    /// T2 units whose latest results are shown (all when empty).
    #[serde(default)]
    pub t2info_from: Vec<String>,
}

impl Validate for T3LogSummaryConfig {}

/// Lines like `ZTF23abcdefg stock=123 T2TemplateMatch={...}`, printed on
/// stderr and returned as the body.
#[derive(Debug)]
pub struct T3LogSummary {
    cfg: T3LogSummaryConfig,
}

impl T3Unit for T3LogSummary {
    fn process(&self, ctx: &T3Context, stocks: &[StockView]) -> Result<Json, String> {
        let mut lines = Vec::new();
        for v in stocks {
            let mut line = format!("{} stock={}", v.name(), v.stock.stock);
            for (unit, body) in &v.results {
                if self.cfg.t2info_from.is_empty() || self.cfg.t2info_from.contains(unit) {
                    line.push_str(&format!(" {unit}={body}"));
                }
            }
            eprintln!("[T3 {} {}] {line}", ctx.channel, ctx.process);
            lines.push(line);
        }
        Ok(json!({"selected": stocks.len(), "lines": lines}))
    }
}

fn build_log(config: &Json, _: &UnitContext) -> Result<Box<dyn T3Unit>, UnitConfigError> {
    let cfg: T3LogSummaryConfig = parse_unit_config("T3LogSummary", config)?;
    Ok(Box::new(T3LogSummary { cfg }))
}

inventory::submit! { T3UnitRegistration { name: "T3LogSummary", build: build_log } }

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct T3ChannelSummaryConfig {
    /// JSON-lines file, appended to (relative to the job file).
    pub path: PathBuf,
}

impl Validate for T3ChannelSummaryConfig {}

#[derive(Debug)]
pub struct T3ChannelSummary {
    path: PathBuf,
}

impl T3Unit for T3ChannelSummary {
    fn process(&self, ctx: &T3Context, stocks: &[StockView]) -> Result<Json, String> {
        let mut out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        let mut names = Vec::new();
        for v in stocks {
            let line = json!({
                "channel": ctx.channel, "process": ctx.process, "run": ctx.run,
                "stock": v.stock.stock, "name": v.name(),
                "ndp": v.datapoints.len(), "results": v.results,
            });
            writeln!(out, "{line}").map_err(|e| format!("{}: {e}", self.path.display()))?;
            names.push(v.name());
        }
        out.flush()
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        Ok(
            json!({"path": self.path.display().to_string(), "written": stocks.len(), "names": names}),
        )
    }
}

fn build_summary(config: &Json, ctx: &UnitContext) -> Result<Box<dyn T3Unit>, UnitConfigError> {
    let cfg: T3ChannelSummaryConfig = parse_unit_config("T3ChannelSummary", config)?;
    Ok(Box::new(T3ChannelSummary {
        path: ctx.resolve(&cfg.path),
    }))
}

inventory::submit! { T3UnitRegistration { name: "T3ChannelSummary", build: build_summary } }
