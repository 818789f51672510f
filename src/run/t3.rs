//! T3 processes: select a channel's stocks, project their documents to the
//! channel (no other channel's results or journal entries), run the units,
//! store a t3 document per unit and a journal entry per selected stock.

use super::now;
use super::react::{describe_selection, destination_id, plan};
use super::telemetry::{Event, Telemetry};
use crate::job::T3Filter;
use crate::store::{
    code, Archive, JournalEntry, MetaRecord, StockDoc, StockQuery, StoreError, T2Doc, T2Query,
    T3Doc, WriteOp,
};
use crate::survey::document::visible;
use crate::t3::react::Destination;
use crate::t3::{query, StockView, T3Context, T3Unit};
use serde_json::{json, Map, Value as Json};
use std::panic::{catch_unwind, AssertUnwindSafe};

pub struct T3Process {
    pub channel: String,
    pub access: Vec<String>,
    pub name: String,
    pub filter: T3Filter,
    pub run: Vec<(String, i64, Box<dyn T3Unit>)>,
    /// When a live runtime runs it (none: after new T2 results).
    pub schedule: Option<crate::job::Schedule>,
    /// Whether its units print their lines on stderr (see
    /// [`T3Context::echo`]).
    pub echo: bool,
}

impl T3Process {
    /// The reaction destinations of this process's units, by id.
    pub fn destinations(&self) -> Vec<(String, Destination)> {
        self.run
            .iter()
            .filter_map(|(name, confid, unit)| {
                let r = unit.reactor()?;
                (!unit.dry_run()).then(|| (destination_id(name, *confid), r.destination().clone()))
            })
            .collect()
    }
}

/// Latest body per unit among valid (code >= 0) results: the one computed
/// last (run, then time).
pub fn latest_results(t2: &[T2Doc]) -> Map<String, Json> {
    let mut best: std::collections::BTreeMap<&str, (i64, f64, &Json)> = Default::default();
    for d in t2.iter().filter(|d| d.code >= 0) {
        let Some(body) = d.latest_body() else {
            continue;
        };
        let (run, ts) = d.meta.last().map_or((0, 0.0), |m| (m.run, m.ts));
        let e = best.entry(&d.unit).or_insert((run, ts, body));
        if (run, ts) > (e.0, e.1) {
            *e = (run, ts, body);
        }
    }
    best.into_iter()
        .map(|(u, (_, _, b))| (u.to_string(), b.clone()))
        .collect()
}

fn project(
    p: &T3Process,
    archive: &dyn Archive,
    mut stock: StockDoc,
    t2: Vec<T2Doc>,
    results: Map<String, Json>,
) -> Result<StockView, StoreError> {
    let ch = &p.channel;
    stock.channel = vec![ch.clone()];
    stock
        .journal
        .retain(|j| j.channel.is_empty() || j.channel.contains(ch));
    stock.ts.retain(|k, _| k == ch);
    let datapoints = archive
        .datapoints(stock.stock)?
        .into_iter()
        .filter(|d| d.channel.contains(ch) && visible(&d.tag, &p.access))
        .map(|mut d| {
            d.channel = vec![ch.clone()];
            d.meta
                .retain(|m| m.channel.is_empty() || m.channel.contains(ch));
            d
        })
        .collect();
    let states = archive
        .states(stock.stock)?
        .into_iter()
        .filter(|s| s.channel.contains(ch))
        .map(|mut s| {
            s.channel = vec![ch.clone()];
            s
        })
        .collect();
    let t2 = t2
        .into_iter()
        .map(|mut d| {
            d.channel = vec![ch.clone()];
            d
        })
        .collect();
    Ok(StockView {
        stock,
        datapoints,
        states,
        t2,
        results,
    })
}

/// What a T3 process did: unit runs, and how many of them failed (their
/// output is missing; the run is then not OK).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct T3Runs {
    pub runs: u64,
    pub failed: u64,
}

/// Runs one T3 process.
pub fn run_process(
    p: &T3Process,
    archive: &mut dyn Archive,
    run: i64,
    telemetry: &dyn Telemetry,
) -> Result<T3Runs, StoreError> {
    let t = now();
    let process = format!("{}:{}", p.channel, p.name);
    let within = p.filter.updated_within_days.map(|d| t - d * 86400.0);
    let since = if p.filter.updated_since_last_run {
        archive.t3_last_selected(&process)?
    } else {
        None
    };
    let stocks = archive.stocks(&StockQuery {
        channel: Some(p.channel.clone()),
        updated_after: [within, since].into_iter().flatten().reduce(f64::max),
        updated_before: None,
        tags: p.filter.tags.clone(),
    })?;
    let mut selected = Vec::new();
    for s in stocks {
        let t2 = archive.t2(&T2Query {
            stock: Some(s.stock),
            channel: Some(p.channel.clone()),
            ..Default::default()
        })?;
        let results = latest_results(&t2);
        let ok = p.filter.t2.iter().all(|m| {
            results
                .get(&m.unit)
                .is_some_and(|b| query::matches(b, &m.condition))
        });
        if ok {
            selected.push(project(p, archive, s, t2, results)?);
        }
    }
    let ids: Vec<i64> = selected.iter().map(|v| v.stock.stock).collect();
    let why = describe_selection(&p.filter);
    let ctx = T3Context {
        channel: &p.channel,
        process: &p.name,
        run,
        why: &why,
        now: t,
        echo: p.echo,
    };
    let mut ops = Vec::new();
    let mut failed = 0;
    for (unit_name, confid, unit) in &p.run {
        let t0 = std::time::Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| match unit.reactor() {
            Some(r) => {
                let dest = destination_id(unit_name, *confid);
                let planned = plan(
                    r,
                    unit.dry_run(),
                    unit_name,
                    &dest,
                    &ctx,
                    &selected,
                    archive,
                )
                .map_err(|e| e.to_string())?;
                ops.extend(planned.ops);
                Ok(planned.body)
            }
            None => unit.process(&ctx, &selected),
        }));
        let (c, body) = match outcome {
            Ok(Ok(body)) => (code::OK, body),
            Ok(Err(e)) => (code::ERROR, json!({"error": e})),
            Err(_) => (
                code::EXCEPTION,
                json!({"error": format!("{unit_name} panicked")}),
            ),
        };
        telemetry.event(Event::T3Done {
            process: &process,
            unit: unit_name,
            code: c,
        });
        if c != code::OK {
            failed += 1;
            tracing::error!(process = %process, unit = %unit_name, code = %code::name(c),
                error = %body.get("error").map(ToString::to_string).unwrap_or_default(),
                "T3 unit failed: its output is missing");
        }
        let ts = now();
        ops.push(WriteOp::T3(T3Doc {
            run,
            process: process.clone(),
            unit: unit_name.clone(),
            confid: *confid,
            channel: p.channel.clone(),
            stock: ids.clone(),
            code: c,
            meta: MetaRecord {
                run,
                ts,
                tier: 3,
                process: process.clone(),
                action: "run".into(),
                channel: vec![p.channel.clone()],
                code: Some(c),
                duration: Some(t0.elapsed().as_secs_f64()),
                alert: None,
                // When the selection was made: the next run's window for
                // `updated_since_last_run` starts here (not at `ts`, which
                // would miss stocks updated while the units ran).
                extra: Some(json!({"selected_at": t})),
            },
            body,
        }));
        for id in &ids {
            ops.push(WriteOp::Journal {
                stock: *id,
                entry: JournalEntry {
                    run,
                    ts,
                    tier: 3,
                    process: process.clone(),
                    action: format!("{unit_name}: {}", code::name(c)),
                    channel: vec![p.channel.clone()],
                    alert: None,
                    extra: None,
                },
            });
        }
    }
    archive.write(ops)?;
    Ok(T3Runs {
        runs: p.run.len() as u64,
        failed,
    })
}
