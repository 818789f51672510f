//! Decoder: a pool of sync actors, one per core, turning message bytes into
//! shaped alerts (the schema cache is per actor). Each decoded alert goes to
//! every channel's filter; the packet (alerts, or why it could not be read)
//! goes to the ingester, which puts everything back in message order.
//! With a shared hot state (Redis) each decoder also asks which alerts
//! were stored before: one round trip per message, made in parallel here
//! instead of one after another on the ingest thread (the live runtime's
//! serial stage: 10k lookups were about a fifth of a 10k-alert run).

use super::filter::{ChannelFilter, Filter};
use super::ingest::{Decoded, IngestActor};
use super::supervise::panic_text;
use actix::prelude::*;
use ampel::avro::SchemaRegistry;
use ampel::hot::HotState;
use ampel::source::{RawAlert, SourceError};
use ampel::AlertDecoder;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

#[derive(Message)]
#[rtype(result = "()")]
pub struct Decode {
    pub seq: u64,
    pub item: Result<RawAlert, SourceError>,
}

pub struct Decoder {
    decoder: AlertDecoder,
    /// The shared hot state, for `seen` lookups.
    hot: Option<Box<dyn HotState>>,
    filters: Arc<Vec<Addr<ChannelFilter>>>,
    ingest: Addr<IngestActor>,
}

impl Decoder {
    pub fn new(
        filters: Arc<Vec<Addr<ChannelFilter>>>,
        ingest: Addr<IngestActor>,
        hot: Option<Box<dyn HotState>>,
        keep_raw: bool,
    ) -> Self {
        Decoder {
            // The raw datum is kept when T0 stores stamps (it is a view of
            // the message's bytes, not a copy).
            decoder: AlertDecoder::new()
                .with_registry(SchemaRegistry::builtin())
                .keep_stamps(keep_raw),
            hot,
            filters,
            ingest,
        }
    }
}

impl Actor for Decoder {
    type Context = SyncContext<Self>;
}

impl Handler<Decode> for Decoder {
    type Result = ();

    fn handle(&mut self, msg: Decode, _: &mut Self::Context) {
        let Decode { seq, item } = msg;
        let packet = match item {
            Ok(raw) => {
                let bytes = raw.bytes.clone();
                let decoded = catch_unwind(AssertUnwindSafe(|| self.decoder.decode(raw.bytes)));
                let result = match decoded {
                    Ok(Ok(alerts)) => Ok(alerts.into_iter().map(Arc::new).collect::<Vec<_>>()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(p) => Err(format!("decoder panicked: {}", panic_text(&*p))),
                };
                let seen = match (&result, self.hot.as_deref_mut()) {
                    (Ok(alerts), Some(h)) => {
                        let ids: Vec<i64> = alerts.iter().map(|a| a.id).collect();
                        // On failure the ingester asks (and reports) itself.
                        h.seen(&ids).ok()
                    }
                    _ => None,
                };
                Decoded {
                    seq,
                    origin: raw.origin.to_string(),
                    timestamp_ms: raw.timestamp_ms,
                    bytes: Some(bytes),
                    result,
                    seen,
                }
            }
            Err(e) => Decoded {
                seq,
                origin: e.origin().map(ToString::to_string).unwrap_or_default(),
                timestamp_ms: None,
                bytes: None,
                result: Err(e.to_string()),
                seen: None,
            },
        };
        if let Ok(alerts) = &packet.result {
            for (index, alert) in alerts.iter().enumerate() {
                for f in self.filters.iter() {
                    f.do_send(Filter {
                        seq,
                        index,
                        alert: alert.clone(),
                    });
                }
            }
        }
        self.ingest.do_send(packet);
    }
}
