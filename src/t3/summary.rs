//! Reporting T3 units: `T3LogSummary` (a readable line per selected stock,
//! also kept in the t3 document) and `T3ChannelSummary` (one JSON line per
//! selected stock appended to a file).

use super::{StockView, T3Context, T3Unit, T3UnitRegistration};
use crate::config::{parse_unit_config, UnitConfigError, Validate};
use crate::units::UnitContext;
use serde::Deserialize;
use serde_json::{json, Value as Json};
use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

#[derive(Debug, Clone, Deserialize, Default, schemars::JsonSchema)]
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
            if ctx.echo {
                eprintln!("[T3 {} {}] {line}", ctx.channel, ctx.process);
            }
            lines.push(line);
        }
        Ok(json!({"selected": stocks.len(), "lines": lines}))
    }
}

fn build_log(config: &Json, _: &UnitContext) -> Result<Box<dyn T3Unit>, UnitConfigError> {
    let cfg: T3LogSummaryConfig = parse_unit_config("T3LogSummary", config)?;
    Ok(Box::new(T3LogSummary { cfg }))
}

inventory::submit! {
    T3UnitRegistration {
        name: "T3LogSummary",
        build: build_log,
        schema: || schemars::schema_for!(T3LogSummaryConfig),
    }
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct T3ChannelSummaryConfig {
    /// JSON-lines file, appended to; a relative path is relative to the
    /// job's `output_dir` (default: the working directory).
    pub path: PathBuf,
}

impl Validate for T3ChannelSummaryConfig {}

/// One JSON line per selected stock, appended to a file. A line the file
/// already holds (same channel, process, stock, datapoints and results; the
/// run aside) is not written again, so a re-run of the same night adds
/// nothing and a stock whose results changed adds a line.
#[derive(Debug)]
pub struct T3ChannelSummary {
    path: PathBuf,
    /// The keys of the file's lines and the file's length when they were
    /// taken: a live job's scheduled runs reuse them instead of reading
    /// the whole file again, unless someone else changed it.
    seen: Mutex<Option<(u64, HashSet<String>)>>,
}

/// What makes two summary lines the same: everything but the run.
fn line_key(line: &Json) -> String {
    let mut l = line.clone();
    if let Some(o) = l.as_object_mut() {
        o.remove("run");
    }
    l.to_string()
}

impl T3ChannelSummary {
    /// Keys of the lines already in the file (none if it does not
    /// exist): those kept from the last run if the file still has the
    /// length that run left, else read.
    fn written(&self, cached: Option<(u64, HashSet<String>)>) -> Result<HashSet<String>, String> {
        let len = std::fs::metadata(&self.path).map(|m| m.len()).ok();
        if let Some((_, keys)) = cached.filter(|(was, _)| Some(*was) == len) {
            return Ok(keys);
        }
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashSet::new()),
            Err(e) => return Err(format!("{}: {e}", self.path.display())),
        };
        Ok(text
            .lines()
            .filter_map(|l| serde_json::from_str::<Json>(l).ok())
            .map(|l| line_key(&l))
            .collect())
    }
}

impl T3Unit for T3ChannelSummary {
    fn process(&self, ctx: &T3Context, stocks: &[StockView]) -> Result<Json, String> {
        let fail = |e: std::io::Error| format!("{}: {e}", self.path.display());
        let mut cache = self
            .seen
            .lock()
            .map_err(|_| "a previous run panicked".to_string())?;
        let mut seen = self.written(cache.take())?;
        let mut out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(fail)?;
        let mut names = Vec::new();
        let mut already = 0;
        for v in stocks {
            let line = json!({
                "channel": ctx.channel, "process": ctx.process, "run": ctx.run,
                "stock": v.stock.stock, "name": v.name(),
                "ndp": v.datapoints.len(), "results": v.results,
            });
            if !seen.insert(line_key(&line)) {
                already += 1;
                continue;
            }
            writeln!(out, "{line}").map_err(fail)?;
            names.push(v.name());
        }
        out.flush().map_err(fail)?;
        if let Ok(m) = out.metadata() {
            *cache = Some((m.len(), seen));
        }
        let path = std::path::absolute(&self.path).unwrap_or_else(|_| self.path.clone());
        if ctx.echo {
            eprintln!(
                "[T3 {} {}] T3ChannelSummary: {} new line(s) in {} ({already} already there)",
                ctx.channel,
                ctx.process,
                names.len(),
                path.display()
            );
        }
        Ok(json!({
            "path": path.display().to_string(), "written": names.len(),
            "already_written": already, "names": names,
        }))
    }
}

fn build_summary(config: &Json, ctx: &UnitContext) -> Result<Box<dyn T3Unit>, UnitConfigError> {
    let cfg: T3ChannelSummaryConfig = parse_unit_config("T3ChannelSummary", config)?;
    Ok(Box::new(T3ChannelSummary {
        path: ctx.resolve_output(&cfg.path),
        seen: Mutex::new(None),
    }))
}

inventory::submit! {
    T3UnitRegistration {
        name: "T3ChannelSummary",
        build: build_summary,
        schema: || schemars::schema_for!(T3ChannelSummaryConfig),
    }
}
