//! A replay's T0 loop: the decode stage on its own thread, and T0 over
//! what it hands on, writing a batch every `batch_size` messages. Stages
//! hand messages on [`CHUNK`] at a time ([`Chunks`]).

use super::beside::Commits;
use super::ingest::Ingester;
use super::now;
use super::progress::Progress;
use crate::alert::Alert;
use crate::source::{InputSize, RawAlert, SourceError};
use crate::store::{Archive, StoreError};
use crate::AlertDecoder;
use bytes::Bytes;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};

/// The state of the T0 loop over a source.
pub(crate) struct T0Loop<'a> {
    pub archive: &'a mut dyn Archive,
    pub ingester: Ingester,
    pub progress: &'a mut dyn FnMut(Progress),
    pub batch_size: usize,
    /// The input's size, and the bytes the reader has taken from it.
    pub size: InputSize,
    pub read: &'a AtomicU64,
    /// Bumped after each stored batch: wakes the T2 thread beside T0.
    pub commits: &'a Commits,
}

impl T0Loop<'_> {
    /// Where the replay stands, at `stage`.
    pub(super) fn at(&self, stage: &'static str) -> Progress {
        Progress {
            bytes_read: self.read.load(Ordering::Relaxed),
            bytes_total: self.size.bytes,
            alerts_total: self.size.alerts,
            ..Progress::of(&self.ingester.summary, stage)
        }
    }

    pub(super) fn flush(&mut self) -> Result<(), StoreError> {
        self.ingester.flush(self.archive)?;
        self.commits.bump();
        Ok(())
    }

    /// T0 over every message from the decode stage; writes every
    /// `batch_size` messages.
    pub(super) fn feed(&mut self, rx: Receiver<Vec<DecodedMessage>>) -> Result<(), StoreError> {
        for m in rx.iter().flatten() {
            if let Some(latency_s) = m.latency_s {
                self.ingester.consumed(latency_s);
            }
            match m.alerts {
                Ok(alerts) => {
                    let ids: Vec<i64> = alerts.iter().map(|a| a.id).collect();
                    let seen = self.ingester.seen(&ids);
                    for (alert, dup) in alerts.into_iter().zip(seen) {
                        if dup {
                            self.ingester.duplicate();
                        } else {
                            self.ingester.alert_filtering(self.archive, &alert)?;
                        }
                    }
                }
                Err((origin, error, payload)) => {
                    self.ingester.failed(&origin, &error, payload.as_deref())
                }
            }
            self.ingester.message_done();
            if self.ingester.in_batch() >= self.batch_size {
                self.flush()?;
            }
            if self.ingester.summary.alerts % 64 == 0 {
                let at = self.at("T0");
                (self.progress)(at);
            }
        }
        // Whatever happened before, what was accepted is kept.
        self.flush()
    }
}

/// One message as the decode stage hands it to T0: its alerts, or why it
/// could not be read (origin, error, the bytes for the dead letter).
pub(super) struct DecodedMessage {
    /// `Some` for a message that was read (its Kafka-to-now latency, if it
    /// carried a timestamp); `None` for a read error.
    latency_s: Option<Option<f64>>,
    alerts: Result<Vec<Alert>, (String, String, Option<Bytes>)>,
}

/// Messages a stage hands to the next at once. One at a time, each
/// hand-off woke the other thread: a 10k-alert replay made 20,000 context
/// switches, and T0's thread paid a wake-up for every message it took.
pub(super) const CHUNK: usize = 32;

/// The sending end of a stage: items go on in chunks of [`CHUNK`], and
/// what is left goes when it is dropped.
pub(super) struct Chunks<T> {
    tx: SyncSender<Vec<T>>,
    chunk: Vec<T>,
}

/// The next stage is gone.
pub(super) struct Gone;

impl<T> Chunks<T> {
    pub(super) fn new(tx: SyncSender<Vec<T>>) -> Self {
        Chunks {
            tx,
            chunk: Vec::with_capacity(CHUNK),
        }
    }

    pub(super) fn push(&mut self, item: T) -> Result<(), Gone> {
        self.chunk.push(item);
        if self.chunk.len() < CHUNK {
            return Ok(());
        }
        self.hand_on()
    }

    fn hand_on(&mut self) -> Result<(), Gone> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK));
        self.tx.send(chunk).map_err(|_| Gone)
    }
}

impl<T> Drop for Chunks<T> {
    fn drop(&mut self) {
        let _ = self.hand_on();
    }
}

/// The decode stage: Avro decoding runs on its own thread, beside T0's
/// filtering and writing (a fifth of a standard replay was decoding on
/// T0's thread). Stops when T0 stops receiving.
pub(super) fn decode_stage(
    decoder: &AlertDecoder,
    rx: Receiver<Vec<Result<RawAlert, SourceError>>>,
    tx: SyncSender<Vec<DecodedMessage>>,
) {
    let mut out = Chunks::new(tx);
    for item in rx.iter().flatten() {
        let m = match item {
            Ok(raw) => DecodedMessage {
                latency_s: Some(raw.timestamp_ms.map(|ms| now() - ms as f64 / 1000.0)),
                alerts: decoder
                    .decode(raw.bytes.clone())
                    .map_err(|e| (raw.origin.to_string(), e.to_string(), Some(raw.bytes))),
            },
            Err(e) => DecodedMessage {
                latency_s: None,
                alerts: Err((
                    e.origin().map(ToString::to_string).unwrap_or_default(),
                    e.to_string(),
                    None,
                )),
            },
        };
        if out.push(m).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::sync_channel;

    #[test]
    fn chunks_arrive_in_order_and_the_last_on_drop() {
        let (tx, rx) = sync_channel(8);
        let mut out = Chunks::new(tx);
        for i in 0..CHUNK + 3 {
            assert!(out.push(i).is_ok());
        }
        assert_eq!(
            rx.try_recv().unwrap().len(),
            CHUNK,
            "a full chunk goes at once"
        );
        assert!(rx.try_recv().is_err(), "a partial one waits");
        drop(out);
        assert_eq!(rx.recv().unwrap(), [CHUNK, CHUNK + 1, CHUNK + 2]);
        assert!(rx.recv().is_err(), "and the channel closes");
    }

    #[test]
    fn a_gone_receiver_is_told() {
        let (tx, rx) = sync_channel(8);
        drop(rx);
        let mut out = Chunks::new(tx);
        let pushed: Vec<bool> = (0..CHUNK).map(|i| out.push(i).is_ok()).collect();
        assert!(pushed[..CHUNK - 1].iter().all(|ok| *ok));
        assert!(!pushed[CHUNK - 1], "the hand-off fails");
    }
}
