//! `ampel config check --job FILE`: loads a job and builds every unit of
//! it (filters, T2 and T3 units, catalogues, reaction destinations) the
//! way `ampel run` does, without connecting to anything or reading a
//! secret, and prints what it found as one JSON object. For operators
//! before a deploy, and for the test that checks the Kubernetes
//! manifests' ConfigMap against the binary. Problems go to stderr, all of
//! them, each with its file and key path; exit 2.

use ampel::run::Pipeline;
use serde_json::json;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;

pub fn run(job: &Path) -> anyhow::Result<ExitCode> {
    let pipeline = super::run::pipeline(job)?;
    let t3 = pipeline.t3_processes();
    let destinations: BTreeSet<String> = t3
        .iter()
        .flat_map(|p| p.destinations())
        .map(|(id, _)| id)
        .collect();
    let t3_names: Vec<&str> = t3.iter().map(|p| p.name.as_str()).collect();
    let j = &pipeline.job;
    let source = match &j.source.kafka {
        Some(k) => json!({"kafka": {"topics": k.topics, "group": k.group}}),
        None => json!({"paths": j.source.paths.len()}),
    };
    println!(
        "{}",
        json!({
            "job": j.name,
            "file": j.file.display().to_string(),
            "source": source,
            "channels": j.channels.iter().map(|(_, c)| c.channel.as_str()).collect::<Vec<_>>(),
            "t2_units": t2_units(&pipeline),
            "t3_processes": t3_names,
            "reaction_destinations": destinations,
        })
    );
    Ok(ExitCode::SUCCESS)
}

fn t2_units(p: &Pipeline) -> BTreeSet<&str> {
    p.job
        .channels
        .iter()
        .flat_map(|(_, c)| c.t2_compute.iter().map(|u| u.unit.as_str()))
        .collect()
}
