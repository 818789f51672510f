//! `ampel reactions list|retry`: the outbox of T3 reactions. What was
//! decided, where it went, how its delivery went, and re-arming failed or
//! uncertain ones by hand.

use super::inspect::StoreArg;
use ampel::run::now;
use ampel::store::{ReactionQuery, ReactionState, WriteOp};
use anyhow::bail;
use clap::Args;
use std::io::Write;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Only reactions in this state (pending, sending, delivered, failed, uncertain).
    #[arg(long, value_parser = parse_state)]
    state: Vec<ReactionState>,
    /// Only this destination (`<unit>:<config id>`).
    #[arg(long)]
    destination: Option<String>,
    /// Print the payloads too (JSON output always has them).
    #[arg(long)]
    payload: bool,
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Only this destination.
    #[arg(long)]
    destination: Option<String>,
    /// Also re-send reactions interrupted between send and record (they may
    /// have arrived: check the destination first).
    #[arg(long)]
    uncertain: bool,
}

fn parse_state(s: &str) -> Result<ReactionState, String> {
    ReactionState::ALL
        .into_iter()
        .find(|x| x.name() == s)
        .ok_or_else(|| {
            let names: Vec<&str> = ReactionState::ALL.iter().map(|s| s.name()).collect();
            format!("unknown state {s:?}; known: {}", names.join(", "))
        })
}

pub fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let a = args.store.open()?;
    let rs = a.reactions(&ReactionQuery {
        destination: args.destination.clone(),
        states: args.state.clone(),
        due_by: None,
        limit: None,
    })?;
    let mut out = std::io::stdout().lock();
    if args.store.json {
        for r in &rs {
            writeln!(out, "{}", serde_json::to_string(r)?)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{:<34} {:<28} {:<10} {:>8} {:<24} error",
        "reaction", "destination", "state", "attempts", "stocks"
    )?;
    for r in &rs {
        let stocks: Vec<String> = r.stocks().iter().map(i64::to_string).collect();
        let mut s = stocks.join(",");
        if s.len() > 24 {
            s = format!("{}… ({})", &s[..20], stocks.len());
        }
        writeln!(
            out,
            "{:<34} {:<28} {:<10} {:>8} {:<24} {}",
            r.id,
            r.destination,
            r.state.name(),
            r.attempts,
            s,
            r.error.as_deref().unwrap_or("")
        )?;
        if args.payload {
            writeln!(out, "  {}", r.payload)?;
        }
    }
    let mut counts = std::collections::BTreeMap::new();
    for r in &rs {
        *counts.entry(r.state.name()).or_insert(0) += 1;
    }
    eprintln!("{} reaction(s): {counts:?}", rs.len());
    Ok(ExitCode::SUCCESS)
}

pub fn retry(args: RetryArgs) -> anyhow::Result<ExitCode> {
    let mut a = args.store.open_writable()?;
    let mut states = vec![ReactionState::Failed];
    if args.uncertain {
        states.push(ReactionState::Uncertain);
    }
    let n = a
        .reactions(&ReactionQuery {
            destination: args.destination.clone(),
            states,
            due_by: None,
            limit: None,
        })?
        .len();
    if n == 0 {
        bail!(
            "no failed{} reaction to retry",
            if args.uncertain { " or uncertain" } else { "" }
        );
    }
    a.write(vec![WriteOp::RearmReactions {
        destination: args.destination,
        uncertain: args.uncertain,
        ts: now(),
    }])?;
    println!("{n} reaction(s) pending again: the next `ampel run` of the job delivers them");
    Ok(ExitCode::SUCCESS)
}
