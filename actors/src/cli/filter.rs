//! `ampel filter`: a T0 filter unit's verdict on each alert.

use super::input::print_json_lines;
use super::InputArgs;
use ampel::config::load_config_arg;
use ampel::units::{build_filter, AlertFilter, CatalogSpec, UnitContext};
use anyhow::Context;
use clap::Args;
use serde::Serialize;
use std::process::ExitCode;

/// Unit selection shared by `filter` and `bench t0`.
#[derive(Debug, Args)]
pub struct UnitArgs {
    /// Filter unit name (DecentFilter, SimpleDecentFilter, ExpressionFilter).
    #[arg(long)]
    pub unit: String,
    /// Unit config as JSON, or @FILE (YAML or JSON).
    #[arg(long, default_value = "{}")]
    pub config: String,
    /// Local catalogue NAME=PATH (e.g. GAIADR2=gaia.csv for DecentFilter's
    /// Gaia veto); repeatable.
    #[arg(long = "catalog", value_name = "NAME=PATH")]
    pub catalogs: Vec<CatalogSpec>,
}

impl UnitArgs {
    pub fn build(&self) -> anyhow::Result<Box<dyn AlertFilter>> {
        let config = load_config_arg(&self.config)?;
        let ctx = UnitContext::new().with_catalogs(&self.catalogs)?;
        build_filter(&self.unit, &config, &ctx).context("building the filter unit")
    }
}

#[derive(Debug, Args)]
pub struct FilterArgs {
    #[command(flatten)]
    unit: UnitArgs,
    #[command(flatten)]
    input: InputArgs,
}

#[derive(Serialize)]
struct Verdict<'a> {
    candid: i64,
    #[serde(rename = "objectId")]
    object_id: &'a str,
    accepted: bool,
    reason: Option<String>,
}

pub fn run(args: FilterArgs) -> anyhow::Result<ExitCode> {
    let filter = args.unit.build()?;
    print_json_lines(&args.input, |alert| {
        let v = filter.process(alert);
        serde_json::to_string(&Verdict {
            candid: alert.id,
            object_id: &alert.name,
            accepted: v.accepted(),
            reason: v.rejection().map(ToString::to_string),
        })
        .expect("plain data serialises")
    })
}
