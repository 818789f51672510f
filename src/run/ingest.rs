//! The ingester (AMPEL's compound builder side of T0): alerts with their
//! filter verdicts in, batched T0+T1 writes out. It owns the batch, the run
//! counts and the hot state, so the replay loop and the live runtime's
//! ingest actor share one implementation of "store, then mark seen".

use super::summary::RunSummary;
use super::t0::{Batch, T0};
use super::telemetry::{Event, Telemetry};
use crate::alert::Alert;
use crate::hot::HotState;
use crate::store::{Archive, StoreError, T2Key};
use crate::units::FilterVerdict;
use std::sync::Arc;

pub struct Ingester {
    t0: Arc<T0>,
    batch: Batch,
    pub summary: RunSummary,
    hot: Option<Box<dyn HotState>>,
    telemetry: Arc<dyn Telemetry>,
    /// Alerts ingested into the current batch, marked seen once stored.
    stored_ids: Vec<i64>,
    /// Messages (alerts or failures) in the current batch.
    in_batch: usize,
}

/// What a flush wrote.
#[derive(Debug, Default)]
pub struct Flushed {
    /// Messages covered (now durably stored).
    pub messages: usize,
    /// T2 documents ticketed, for a T2 queue.
    pub tickets: Vec<T2Key>,
}

impl Ingester {
    pub fn new(
        t0: Arc<T0>,
        run: i64,
        summary: RunSummary,
        hot: Option<Box<dyn HotState>>,
        telemetry: Arc<dyn Telemetry>,
    ) -> Self {
        Ingester {
            batch: t0.batch(run),
            t0,
            summary,
            hot,
            telemetry,
            stored_ids: Vec::new(),
            in_batch: 0,
        }
    }

    /// The channels' names, in job order.
    pub fn channel_names(&self) -> Vec<String> {
        self.t0.channels().iter().map(|c| c.name.clone()).collect()
    }

    /// Gives the hot state back (the replay keeps it across runs).
    pub fn into_hot(self) -> Option<Box<dyn HotState>> {
        self.hot
    }

    /// Which of these alerts were stored before (redeliveries). Without a
    /// hot state, or when it fails, none: de-duplication is skipped, never
    /// data.
    pub fn seen(&mut self, ids: &[i64]) -> Vec<bool> {
        match self.hot.as_deref_mut() {
            Some(h) => h.seen(ids).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "hot state unavailable: alerts are not de-duplicated meanwhile");
                vec![false; ids.len()]
            }),
            None => vec![false; ids.len()],
        }
    }

    /// A message was taken from its source, `latency_s` after it entered
    /// the stream (when the source knows).
    pub fn consumed(&self, latency_s: Option<f64>) {
        self.telemetry.event(Event::Consumed { latency_s });
    }

    /// Counts one message in the batch (an alert packet or a failure).
    pub fn message_done(&mut self) {
        self.in_batch += 1;
    }

    /// Messages waiting for the next flush.
    pub fn in_batch(&self) -> usize {
        self.in_batch
    }

    /// A redelivered alert, skipped.
    pub fn duplicate(&mut self) {
        self.summary.duplicates += 1;
    }

    /// T0+T1 of one alert; `verdict` gives each channel's filter verdict
    /// (see [`T0::ingest_decided`]).
    pub fn alert(
        &mut self,
        archive: &mut dyn Archive,
        alert: &Alert,
        verdict: &mut dyn FnMut(usize) -> Option<FilterVerdict>,
    ) -> Result<(), StoreError> {
        self.summary.alerts += 1;
        let hot = &mut self.hot;
        // What the archive holds of the stock, without reading it.
        let mut memo = |stock: i64| {
            let h = hot.as_deref_mut()?;
            match h.stock_memos(&[stock]) {
                Ok(mut m) => m.pop().flatten(),
                Err(e) => {
                    tracing::debug!(error = %e, "stock memo unavailable; reading the archive");
                    None
                }
            }
        };
        self.t0.ingest_decided(
            alert,
            verdict,
            &mut memo,
            archive,
            &mut self.batch,
            &mut self.summary,
            self.telemetry.as_ref(),
        )?;
        self.stored_ids.push(alert.id);
        Ok(())
    }

    /// T0+T1 of one alert, running the channels' filters here.
    pub fn alert_filtering(
        &mut self,
        archive: &mut dyn Archive,
        alert: &Alert,
    ) -> Result<(), StoreError> {
        let t0 = self.t0.clone();
        self.alert(archive, alert, &mut |i| {
            Some(t0.channels()[i].filter.process(alert))
        })
    }

    /// A message that could not be read or processed: a dead letter.
    pub fn failed(&mut self, origin: &str, error: &str, payload: Option<&[u8]>) {
        tracing::error!("{origin}: {error} (set aside as a dead letter; the run goes on)");
        self.summary.failed += 1;
        self.telemetry.event(Event::Failed);
        self.telemetry.event(Event::DeadLetter {
            reason: "unreadable",
        });
        self.batch.fail(origin, error, payload);
    }

    /// A channel's filter panicked on an alert: the alert goes to the
    /// dead-letter collection with the reason (the channel counts it as
    /// rejected; other channels are unaffected).
    pub fn filter_panicked(
        &mut self,
        origin: &str,
        channel: &str,
        alert: i64,
        reason: &str,
        payload: Option<&[u8]>,
    ) {
        self.telemetry.event(Event::DeadLetter {
            reason: "filter_panic",
        });
        self.batch.fail(
            origin,
            &format!("channel {channel}: filter panicked on alert {alert}: {reason}"),
            payload,
        );
    }

    /// Writes the batch in one transaction, then marks its alerts seen.
    pub fn flush(&mut self, archive: &mut dyn Archive) -> Result<Flushed, StoreError> {
        let ops = self.batch.pending_ops();
        let t = std::time::Instant::now();
        let memos = if self.hot.is_some() {
            self.batch.memos()
        } else {
            Vec::new()
        };
        let tickets = self.batch.flush(archive)?;
        if ops > 0 {
            self.telemetry.event(Event::Stored {
                ops,
                seconds: t.elapsed().as_secs_f64(),
            });
        }
        if let Some(h) = self.hot.as_deref_mut() {
            if !self.stored_ids.is_empty() {
                if let Err(e) = h.mark_seen(&self.stored_ids) {
                    tracing::warn!(error = %e, "hot state unavailable: redeliveries of these alerts will be processed again");
                }
            }
            if let Err(e) = h.remember_stocks(&memos) {
                tracing::warn!(error = %e, "hot state unavailable: stock memos not kept (the archive is read instead)");
            }
        }
        self.stored_ids.clear();
        let messages = std::mem::take(&mut self.in_batch);
        Ok(Flushed { messages, tickets })
    }
}
