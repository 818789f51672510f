//! `ampel alert show`: the AMPEL identities of each alert, one JSON per line.

use super::input::print_json_lines;
use super::InputArgs;
use ampel::alert::{Alert, Survey};
use ampel::id::t1_link;
use clap::Args;
use serde::Serialize;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Channel access; without ZTF_PRIV, programid 2 points are left out of
    /// the link (as for a public channel).
    #[arg(long, value_name = "ACCESS", value_parser = ["ZTF", "ZTF_PUB", "ZTF_PRIV"])]
    access: Vec<String>,
    #[command(flatten)]
    input: InputArgs,
}

#[derive(Serialize)]
struct Shown<'a> {
    candid: i64,
    #[serde(rename = "objectId")]
    object_id: serde_json::Value,
    stock: i64,
    datapoints: Vec<i64>,
    link: i32,
    schema: &'a str,
}

pub fn shown(alert: &Alert, private: bool) -> String {
    let ids = alert.datapoint_ids(true);
    let link_ids = alert.datapoint_ids(private);
    let object_id = match alert.survey {
        Survey::Ztf => serde_json::Value::from(alert.name.clone()),
        Survey::Lsst => serde_json::Value::from(alert.stock),
    };
    serde_json::to_string(&Shown {
        candid: alert.id,
        object_id,
        stock: alert.stock,
        datapoints: ids,
        link: t1_link(&link_ids),
        schema: &alert.schema_version,
    })
    .expect("plain data serialises")
}

pub fn run(args: ShowArgs) -> anyhow::Result<ExitCode> {
    let private = args.access.iter().any(|a| a == "ZTF_PRIV");
    print_json_lines(&args.input, |alert| shown(alert, private))
}
