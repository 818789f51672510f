//! T0 and T1 of one alert: each channel's filter (with on_stock_match), then
//! for accepting channels the datapoints, the stock, the channel's state
//! and its T2 tickets, all queued in a [`Batch`] written in one transaction.

use super::now;
use super::pipeline::RunSummary;
use super::t2::T2Spec;
use super::telemetry::{Event, Telemetry};
use crate::alert::Alert;
use crate::hot::StockMemo;
use crate::id::t1_link;
use crate::job::OnStockMatch;
use crate::store::{
    code, Archive, DataPointDoc, JournalEntry, LogDoc, MetaRecord, StoreError, T1Doc, T2Doc, T2Key,
    WriteOp,
};
use crate::survey::document::{datapoint_body, stock_tags, visible};
use crate::t2::T2Kind;
use crate::units::{AlertFilter, FilterVerdict};
use serde_json::json;
use std::collections::HashMap;

/// A channel, ready to run.
pub struct ChannelRt {
    pub name: String,
    pub access: Vec<String>,
    pub filter: Box<dyn AlertFilter>,
    pub on_stock_match: Option<OnStockMatch>,
    pub t2: Vec<T2Spec>,
}

pub struct T0 {
    channels: Vec<ChannelRt>,
    process: String,
}

/// Writes queued for one transaction, and what they add per stock, so that
/// later alerts of the same stock in the batch see them without a flush.
pub struct Batch {
    run: i64,
    process: String,
    ops: Vec<WriteOp>,
    pending: HashMap<i64, Pending>,
    /// What was stored of each stock before this batch: from the hot
    /// state's memos ([`Batch::know`]) or read from the archive once.
    stored: HashMap<i64, StockMemo>,
}

/// What a batch added to one stock.
#[derive(Default)]
struct Pending {
    channels: Vec<String>,
    datapoints: Vec<(i64, Vec<String>)>,
}

impl Batch {
    /// Records a message that could not be read or decoded as a dead letter
    /// (the `trouble` collection, with the message itself, base64, when
    /// there is one) and logs it; the run goes on.
    pub fn fail(&mut self, origin: &str, error: &str, payload: Option<&[u8]>) {
        use base64::Engine;
        let ts = now();
        self.ops.push(WriteOp::Trouble(json!({
            "kind": "dead_letter",
            "run": self.run, "ts": ts, "tier": 0, "process": self.process,
            "origin": origin, "error": error,
            "bytes": payload.map(<[u8]>::len),
            "payload_base64": payload.map(|p| base64::engine::general_purpose::STANDARD.encode(p)),
        })));
        self.ops.push(WriteOp::Log(LogDoc {
            run: self.run,
            ts,
            level: "error".into(),
            tier: Some(0),
            stock: None,
            channel: None,
            alert: None,
            msg: format!("{origin}: {error}"),
            extra: None,
        }));
    }

    /// What is stored of `stock` (channels, datapoints): from `memo` (the
    /// hot state) or else the archive, once per batch.
    fn stored(
        &mut self,
        archive: &dyn Archive,
        memo: &mut dyn FnMut(i64) -> Option<StockMemo>,
        stock: i64,
    ) -> Result<&StockMemo, StoreError> {
        use std::collections::hash_map::Entry;
        Ok(match self.stored.entry(stock) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(match memo(stock) {
                Some(m) => m,
                None => StockMemo {
                    channels: archive.stock(stock)?.map(|s| s.channel).unwrap_or_default(),
                    datapoints: archive.datapoint_tags(stock)?,
                },
            }),
        })
    }

    /// What will be stored of each stock this batch changed once it is
    /// written (the known state plus the batch's additions): memos for the
    /// hot state.
    pub fn memos(&self) -> Vec<(i64, StockMemo)> {
        self.pending
            .iter()
            .filter_map(|(stock, p)| {
                let base = self.stored.get(stock)?;
                let mut m = base.clone();
                m.channels.extend(p.channels.iter().cloned());
                m.channels.sort();
                m.channels.dedup();
                m.datapoints.extend(p.datapoints.iter().cloned());
                m.datapoints.sort();
                m.datapoints.dedup_by_key(|d| d.0);
                Some((*stock, m))
            })
            .collect()
    }

    /// Ops queued.
    pub(crate) fn pending_ops(&self) -> usize {
        self.ops.len()
    }

    /// Writes the queued ops in one transaction. Returns the keys of the
    /// T2 documents ticketed (new or not: a claim tells which need a run),
    /// for a live runtime's T2 queue.
    pub fn flush(&mut self, archive: &mut dyn Archive) -> Result<Vec<T2Key>, StoreError> {
        let ops = std::mem::take(&mut self.ops);
        self.pending.clear();
        self.stored.clear();
        let mut keys: Vec<T2Key> = ops
            .iter()
            .filter_map(|op| match op {
                WriteOp::T2Ticket(d) => Some(d.key()),
                _ => None,
            })
            .collect();
        archive.write(ops)?;
        keys.sort_unstable();
        keys.dedup();
        Ok(keys)
    }
}

impl T0 {
    pub fn new(channels: Vec<ChannelRt>, process: String) -> Self {
        T0 { channels, process }
    }

    pub fn batch(&self, run: i64) -> Batch {
        Batch {
            run,
            process: self.process.clone(),
            ops: Vec::new(),
            pending: HashMap::new(),
            stored: HashMap::new(),
        }
    }

    /// The channels, in job order (the live runtime runs each channel's
    /// filter in its own actor).
    pub fn channels(&self) -> &[ChannelRt] {
        &self.channels
    }

    /// T0 and T1 of one alert whose filter verdicts come from `verdict`
    /// (channel index -> verdict; `None` when the filter failed, which
    /// rejects). It is asked only for channels that need one, so a
    /// bypassing channel's filter does not run here. `memo` may know what
    /// the archive holds of the stock (see [`crate::hot::StockMemo`]); it
    /// is asked only when that is needed.
    #[allow(clippy::too_many_arguments)]
    pub fn ingest_decided(
        &self,
        alert: &Alert,
        verdict: &mut dyn FnMut(usize) -> Option<FilterVerdict>,
        memo: &mut dyn FnMut(i64) -> Option<StockMemo>,
        archive: &mut dyn Archive,
        batch: &mut Batch,
        summary: &mut RunSummary,
        telemetry: &dyn Telemetry,
    ) -> Result<(), StoreError> {
        let ts = now();
        let run = batch.run;
        let mut accepted: Vec<(&ChannelRt, &'static str)> = Vec::new();
        let mut known: Option<Vec<String>> = None;
        for (i, ch) in self.channels.iter().enumerate() {
            let holds = match ch.on_stock_match {
                None => false,
                Some(_) => {
                    if known.is_none() {
                        let mut k = batch.stored(archive, memo, alert.stock)?.channels.clone();
                        if let Some(p) = batch.pending.get(&alert.stock) {
                            k.extend(p.channels.iter().cloned());
                        }
                        known = Some(k);
                    }
                    known.as_ref().is_some_and(|k| k.contains(&ch.name))
                }
            };
            let (take, action, log) = match (holds, ch.on_stock_match) {
                (true, Some(OnStockMatch::Bypass)) => (true, "bypass", None),
                (true, Some(m)) => match verdict(i) {
                    Some(FilterVerdict::Reject(r)) if m == OnStockMatch::Overrule => {
                        (true, "overrule", Some(("overruled", r)))
                    }
                    _ => (true, "accept", None),
                },
                _ => match verdict(i) {
                    Some(FilterVerdict::Reject(r)) => (false, "reject", Some(("rejected", r))),
                    Some(_) => (true, "accept", None),
                    None => (false, "reject", None),
                },
            };
            if let Some((msg, r)) = log {
                batch.ops.push(WriteOp::Log(LogDoc {
                    run,
                    ts,
                    level: "info".into(),
                    tier: Some(0),
                    stock: Some(alert.stock),
                    channel: Some(ch.name.clone()),
                    alert: Some(alert.id),
                    msg: msg.into(),
                    extra: Some(json!({"cut": r.cut, "reason": r.to_string()})),
                }));
            }
            telemetry.event(Event::Filtered {
                channel: &ch.name,
                accepted: take,
            });
            if take {
                *summary.accepted.entry(ch.name.clone()).or_default() += 1;
                accepted.push((ch, action));
            } else {
                *summary.rejected.entry(ch.name.clone()).or_default() += 1;
            }
        }
        if accepted.is_empty() {
            return Ok(());
        }

        let mut stored = batch.stored(archive, memo, alert.stock)?.datapoints.clone();
        if let Some(p) = batch.pending.get(&alert.stock) {
            stored.extend(p.datapoints.iter().cloned());
        }
        let names: Vec<String> = accepted.iter().map(|(c, _)| c.name.clone()).collect();
        let meta = |action: &str, channel: Vec<String>| MetaRecord {
            run,
            ts,
            tier: 0,
            process: self.process.clone(),
            action: action.into(),
            channel,
            code: None,
            duration: None,
            alert: Some(alert.id),
            extra: None,
        };
        let mut alert_points: Vec<(i64, Vec<String>)> = Vec::with_capacity(alert.datapoints.len());
        for dp in &alert.datapoints {
            let tags: Vec<String> = dp.tags.iter().map(|t| t.to_string()).collect();
            alert_points.push((dp.id, tags.clone()));
            batch.ops.push(WriteOp::DataPoint(DataPointDoc {
                id: dp.id,
                stock: vec![alert.stock],
                channel: names.clone(),
                tag: tags,
                meta: vec![meta("ingest", names.clone())],
                body: datapoint_body(alert, dp),
            }));
        }
        for (ch, action) in accepted {
            let chan = vec![ch.name.clone()];
            batch.ops.push(WriteOp::Stock {
                stock: alert.stock,
                channel: ch.name.clone(),
                names: vec![alert.name.clone()],
                tags: stock_tags(alert),
                journal: JournalEntry {
                    run,
                    ts,
                    tier: 0,
                    process: self.process.clone(),
                    action: action.into(),
                    channel: chan.clone(),
                    alert: Some(alert.id),
                    extra: None,
                },
            });
            // T1: everything of the stock this channel may see.
            let mut ids: Vec<i64> = stored
                .iter()
                .chain(alert_points.iter())
                .filter(|(_, tags)| visible(tags, &ch.access))
                .map(|(id, _)| *id)
                .collect();
            ids.sort_unstable();
            ids.dedup();
            if ids.is_empty() {
                continue;
            }
            let link = i64::from(t1_link(&ids));
            batch.ops.push(WriteOp::State(T1Doc {
                stock: alert.stock,
                link,
                dps: ids,
                channel: chan.clone(),
                tag: stock_tags(alert),
                code: code::OK,
                meta: vec![meta("t1", chan.clone())],
            }));
            for spec in &ch.t2 {
                let (link, col) = match spec.kind {
                    T2Kind::State => (link, None),
                    T2Kind::Point => (alert.latest().id, Some("t0".to_string())),
                    T2Kind::Stock => (alert.stock, Some("stock".to_string())),
                };
                batch.ops.push(WriteOp::T2Ticket(T2Doc {
                    stock: alert.stock,
                    unit: spec.unit.clone(),
                    config: spec.config,
                    link,
                    col,
                    channel: chan.clone(),
                    tag: stock_tags(alert),
                    code: code::NEW,
                    meta: vec![meta("ticket", chan.clone())],
                    body: Vec::new(),
                    trials: 0,
                    retry_after: None,
                    claimed_at: None,
                }));
            }
        }
        let entry = batch.pending.entry(alert.stock).or_default();
        entry.channels.extend(names);
        entry.datapoints.extend(alert_points);
        Ok(())
    }
}
