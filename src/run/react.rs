//! The T3 side of reactions: a reaction unit's run plans messages into the
//! outbox ([`crate::t3::react`]). Stocks whose digest the destination
//! already has are left out, failed reactions of the destination are
//! re-armed, and the new messages are queued in the same archive write as
//! the t3 document. Sending is the runtime couriers' job.

use crate::job::T3Filter;
use crate::store::{Archive, ReactionDoc, ReactionState, StoreError, WriteOp};
use crate::t3::react::{reaction_id, Reactor};
use crate::t3::{StockView, T3Context};
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, HashSet};

/// A destination's name: its unit and config id, so processes and
/// channels sharing a configuration share its rate limit and history.
pub fn destination_id(unit: &str, confid: i64) -> String {
    format!("{unit}:{confid}")
}

/// The config id in a destination's name.
pub fn destination_confid(destination: &str) -> i64 {
    destination
        .rsplit(':')
        .next()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// The process's selection in words, for messages ("why it was selected").
pub fn describe_selection(f: &T3Filter) -> String {
    let mut parts: Vec<String> =
        f.t2.iter()
            .map(|m| format!("{} matches {}", m.unit, m.condition))
            .collect();
    if !f.tags.is_empty() {
        parts.push(format!("tagged {}", f.tags.join(", ")));
    }
    if let Some(d) = f.updated_within_days {
        parts.push(format!("updated within {d} days"));
    }
    if f.updated_since_last_run {
        parts.push("updated since the process last ran".into());
    }
    if parts.is_empty() {
        "it belongs to the channel".into()
    } else {
        parts.join(" and ")
    }
}

/// What one reaction unit's run decided: the t3 body and the ops to write.
pub struct Planned {
    pub body: Json,
    pub ops: Vec<WriteOp>,
}

/// Plans a reaction unit's messages for the selected stocks.
pub fn plan(
    reactor: &dyn Reactor,
    dry_run: bool,
    unit: &str,
    destination: &str,
    ctx: &T3Context,
    selected: &[StockView],
    archive: &dyn Archive,
) -> Result<Planned, StoreError> {
    let ids: Vec<i64> = selected.iter().map(|v| v.stock.stock).collect();
    let known = archive.reaction_items(destination, &ids)?;
    let mut sent: BTreeMap<i64, usize> = BTreeMap::new();
    for (s, _) in &known {
        *sent.entry(*s).or_default() += 1;
    }
    let known: HashSet<(i64, String)> = known.into_iter().collect();
    let fresh: Vec<(&StockView, String)> = selected
        .iter()
        .map(|v| (v, reactor.digest(ctx, v)))
        .filter(|(v, d)| !known.contains(&(v.stock.stock, d.clone())))
        .collect();
    let messages = reactor.render(ctx, &fresh, &|s| sent.get(&s).copied().unwrap_or(0));
    let unchanged = selected.len() - fresh.len();
    if dry_run {
        let payloads: Vec<&Json> = messages.iter().map(|m| &m.payload).collect();
        return Ok(Planned {
            body: json!({"dry_run": true, "destination": destination, "messages": payloads,
                "unchanged": unchanged}),
            ops: vec![],
        });
    }
    let mut ops = vec![WriteOp::RearmReactions {
        destination: Some(destination.to_string()),
        uncertain: false,
        ts: ctx.now,
    }];
    let mut queued = Vec::new();
    for m in messages {
        let id = reaction_id(destination, &m.items);
        queued.push(id.clone());
        ops.push(WriteOp::Reaction(ReactionDoc {
            id,
            destination: destination.to_string(),
            channel: ctx.channel.to_string(),
            process: ctx.process.to_string(),
            unit: unit.to_string(),
            run: ctx.run,
            items: m.items,
            key: m.key,
            payload: m.payload,
            state: ReactionState::Pending,
            attempts: 0,
            next_try: ctx.now,
            error: None,
            created: ctx.now,
            updated: ctx.now,
        }));
    }
    Ok(Planned {
        body: json!({"destination": destination, "queued": queued, "stocks": fresh.len(),
            "unchanged": unchanged}),
        ops,
    })
}
