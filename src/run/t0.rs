//! T0 and T1 of one alert: each channel's filter (with on_stock_match), then
//! for accepting channels the datapoints, the stock, the channel's state
//! and its T2 tickets, all queued in a [`Batch`] written in one transaction.

use super::now;
use super::summary::RunSummary;
use super::t2::T2Spec;
use super::telemetry::{Event, Telemetry};
use crate::alert::Alert;
use crate::hot::StockMemo;
use crate::id::t1_link;
use crate::job::{CutoutPolicy, OnStockMatch};
use crate::store::{
    code, Archive, CutoutDoc, DataPointDoc, JournalEntry, LogDoc, MetaRecord, StoreError, T1Doc,
    T2Doc, T2Key, WriteOp,
};
use crate::survey::document::{alert_jd, datapoint_body, serves, stock_tags, visible};
use crate::t2::T2Kind;
use crate::units::{AlertFilter, FilterVerdict};
use serde_json::{json, Value as Json};
use std::collections::{HashMap, HashSet};

/// A channel, ready to run.
pub struct ChannelRt {
    pub name: String,
    pub access: Vec<String>,
    pub filter: Box<dyn AlertFilter>,
    pub on_stock_match: Option<OnStockMatch>,
    pub t2: Vec<T2Spec>,
}

impl ChannelRt {
    /// Whether alerts of `survey` are this channel's to filter.
    pub fn serves(&self, survey: crate::alert::Survey) -> bool {
        serves(&self.access, survey)
    }
}

pub struct T0 {
    channels: Vec<ChannelRt>,
    process: String,
    cutouts: CutoutPolicy,
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

    /// Queues the alert's stamps for the `cutout` collection. An alert
    /// decoded without its raw datum has none to give; stamps that cannot
    /// be decoded are logged as a warning (the alert itself is fine).
    fn cutout(&mut self, alert: &Alert) {
        match alert.cutouts() {
            Ok(Some(c))
                if c.science.is_some() || c.template.is_some() || c.difference.is_some() =>
            {
                self.ops.push(WriteOp::Cutout(CutoutDoc {
                    id: alert.id,
                    stock: alert.stock,
                    jd: alert_jd(alert).unwrap_or(0.0),
                    science: c.science,
                    template: c.template,
                    difference: c.difference,
                }));
            }
            Ok(_) => {}
            Err(e) => {
                let extra = json!({"error": e.to_string()});
                self.log_at("warning", alert, None, "cutouts unreadable", extra);
            }
        }
    }

    /// An info line of T0 about `alert`, into the log collection.
    fn log(&mut self, alert: &Alert, channel: Option<String>, msg: &str, extra: Json) {
        self.log_at("info", alert, channel, msg, extra);
    }

    /// A line of T0 about `alert` at `level`, into the log collection.
    fn log_at(
        &mut self,
        level: &str,
        alert: &Alert,
        channel: Option<String>,
        msg: &str,
        extra: Json,
    ) {
        self.ops.push(WriteOp::Log(LogDoc {
            run: self.run,
            ts: now(),
            level: level.into(),
            tier: Some(0),
            stock: Some(alert.stock),
            channel,
            alert: Some(alert.id),
            msg: msg.into(),
            extra: Some(extra),
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

    /// What the archive will hold of `stock` once the queued ops are
    /// written: the channels holding it and its datapoints with their
    /// tags (stored, plus this batch's additions).
    fn known(
        &mut self,
        archive: &dyn Archive,
        memo: &mut dyn FnMut(i64) -> Option<StockMemo>,
        stock: i64,
    ) -> Result<StockMemo, StoreError> {
        let mut known = self.stored(archive, memo, stock)?.clone();
        if let Some(p) = self.pending.get(&stock) {
            known.channels.extend(p.channels.iter().cloned());
            known.datapoints.extend(p.datapoints.iter().cloned());
        }
        Ok(known)
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
        T0 {
            channels,
            process,
            cutouts: CutoutPolicy::None,
        }
    }

    /// Keeps the stamps of the alerts `policy` names. They are read from
    /// the alert's raw datum, so the decoder must keep it
    /// ([`T0::needs_raw`]).
    pub fn with_cutouts(mut self, policy: CutoutPolicy) -> Self {
        self.cutouts = policy;
        self
    }

    /// Whether alerts must come with their raw datum (for the stamps).
    pub fn needs_raw(&self) -> bool {
        self.cutouts != CutoutPolicy::None
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
        // What the archive holds of the stock: read at most once per alert
        // (the filters' decisions below queue only log lines).
        let mut known: Option<StockMemo> = None;
        let mut accepted = Vec::new();
        for (i, ch) in self.channels.iter().enumerate() {
            if !ch.serves(alert.survey) {
                *summary.other_survey.entry(ch.name.clone()).or_default() += 1;
                continue;
            }
            let holds = match ch.on_stock_match {
                None => false,
                Some(_) => {
                    if known.is_none() {
                        known = Some(batch.known(archive, memo, alert.stock)?);
                    }
                    known
                        .as_ref()
                        .is_some_and(|k| k.channels.contains(&ch.name))
                }
            };
            let take = self.decide(ch, holds, || verdict(i), alert, batch);
            telemetry.event(Event::Filtered {
                channel: &ch.name,
                accepted: take.is_some(),
            });
            let counts = if take.is_some() {
                &mut summary.accepted
            } else {
                &mut summary.rejected
            };
            *counts.entry(ch.name.clone()).or_default() += 1;
            if let Some(action) = take {
                accepted.push((ch, action));
            }
        }
        let keep_stamps = match self.cutouts {
            CutoutPolicy::None => false,
            CutoutPolicy::Accepted => !accepted.is_empty(),
            CutoutPolicy::All => true,
        };
        if keep_stamps {
            batch.cutout(alert);
        }
        if accepted.is_empty() {
            return Ok(());
        }
        let known = match known {
            Some(k) => k,
            None => batch.known(archive, memo, alert.stock)?,
        };
        self.ingest_accepted(alert, accepted, &known, batch, summary);
        Ok(())
    }

    /// One channel's decision on an alert, with on_stock_match applied
    /// (`holds`: the channel already holds the stock): the journal's
    /// action when it takes the alert, `None` when it rejects it. Logs a
    /// rejection or an overruled one.
    fn decide(
        &self,
        ch: &ChannelRt,
        holds: bool,
        verdict: impl FnOnce() -> Option<FilterVerdict>,
        alert: &Alert,
        batch: &mut Batch,
    ) -> Option<&'static str> {
        let (take, log) = match (holds, ch.on_stock_match) {
            (true, Some(OnStockMatch::Bypass)) => (Some("bypass"), None),
            (true, Some(m)) => match verdict() {
                Some(FilterVerdict::Reject(r)) if m == OnStockMatch::Overrule => {
                    (Some("overrule"), Some(("overruled", r)))
                }
                _ => (Some("accept"), None),
            },
            _ => match verdict() {
                Some(FilterVerdict::Reject(r)) => (None, Some(("rejected", r))),
                Some(_) => (Some("accept"), None),
                None => (None, None),
            },
        };
        if let Some((msg, r)) = log {
            let extra = json!({"cut": r.cut, "reason": r.to_string()});
            batch.log(alert, Some(ch.name.clone()), msg, extra);
        }
        take
    }

    /// Queues what the accepting channels add: the datapoints new to the
    /// stock, then per channel the stock's journal entry, its state and
    /// the state's T2 tickets.
    ///
    /// As AMPEL's ZiMongoMuxer does, only datapoints the archive does not
    /// yet hold for this stock are written: a detection or upper limit
    /// carried again in a later alert's history is not touched, so its
    /// meta list holds one record per stock that brought it, not one per
    /// alert. An alert that a channel already ingested (its own latest
    /// datapoint is stored for the stock and the channel holds the stock:
    /// a redelivery or a replay of the same file) adds nothing for that
    /// channel but a log line: the hot state skips such messages while it
    /// remembers them, the archive decides once it has forgotten, so
    /// re-ingesting an alert N times costs N times one alert.
    fn ingest_accepted(
        &self,
        alert: &Alert,
        accepted: Vec<(&ChannelRt, &'static str)>,
        known: &StockMemo,
        batch: &mut Batch,
        summary: &mut RunSummary,
    ) {
        let stored_ids: HashSet<i64> = known.datapoints.iter().map(|(id, _)| *id).collect();
        let seen_before = stored_ids.contains(&alert.latest().id);
        let (repeats, fresh): (Vec<_>, Vec<_>) = accepted
            .into_iter()
            .partition(|(ch, _)| seen_before && known.channels.contains(&ch.name));
        if !repeats.is_empty() {
            let names: Vec<&str> = repeats.iter().map(|(c, _)| c.name.as_str()).collect();
            let msg = "already ingested: nothing stored again";
            batch.log(alert, None, msg, json!({"channels": names}));
        }
        if fresh.is_empty() {
            summary.reingested += 1;
            return;
        }
        let ts = now();
        let names: Vec<String> = fresh.iter().map(|(c, _)| c.name.clone()).collect();
        let alert_points: Vec<(i64, Vec<String>)> = alert
            .datapoints
            .iter()
            .map(|dp| (dp.id, dp.tags.iter().map(|t| t.to_string()).collect()))
            .collect();
        for (dp, (id, tags)) in alert.datapoints.iter().zip(&alert_points) {
            if stored_ids.contains(id) {
                continue;
            }
            batch.ops.push(WriteOp::DataPoint(DataPointDoc {
                id: *id,
                stock: vec![alert.stock],
                channel: names.clone(),
                tag: tags.clone(),
                meta: vec![self.meta(batch.run, ts, alert, "ingest", names.clone())],
                body: datapoint_body(alert, dp),
            }));
        }
        let points: Vec<&(i64, Vec<String>)> =
            known.datapoints.iter().chain(alert_points.iter()).collect();
        for (ch, action) in fresh {
            self.channel_ops(alert, ch, action, &points, ts, batch);
        }
        let entry = batch.pending.entry(alert.stock).or_default();
        entry.channels.extend(names);
        entry.datapoints.extend(alert_points);
    }

    /// One channel's stock journal entry, state (everything of the stock
    /// the channel may see) and T2 tickets for an alert it took.
    fn channel_ops(
        &self,
        alert: &Alert,
        ch: &ChannelRt,
        action: &str,
        points: &[&(i64, Vec<String>)],
        ts: f64,
        batch: &mut Batch,
    ) {
        let run = batch.run;
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
        let mut ids: Vec<i64> = points
            .iter()
            .filter(|(_, tags)| visible(tags, &ch.access))
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return;
        }
        let link = i64::from(t1_link(&ids));
        batch.ops.push(WriteOp::State(T1Doc {
            stock: alert.stock,
            link,
            dps: ids,
            channel: chan.clone(),
            tag: stock_tags(alert),
            code: code::OK,
            meta: vec![self.meta(run, ts, alert, "t1", chan.clone())],
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
                meta: vec![self.meta(run, ts, alert, "ticket", chan.clone())],
                body: Vec::new(),
                trials: 0,
                retry_after: None,
                claimed_at: None,
            }));
        }
    }

    /// A T0 meta record of this process for `alert`.
    fn meta(
        &self,
        run: i64,
        ts: f64,
        alert: &Alert,
        action: &str,
        channel: Vec<String>,
    ) -> MetaRecord {
        MetaRecord {
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
        }
    }
}
