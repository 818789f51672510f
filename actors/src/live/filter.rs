//! ChannelFilter: one sync actor per channel, running the channel's T0
//! filter on every alert and sending the verdict to the ingester. A filter
//! that panics does not take the process down: the verdict says so (the
//! ingester sets the alert aside as a dead letter for this channel) and the
//! actor is restarted.

use super::ingest::{IngestActor, Verdict};
use super::supervise::{panic_text, Restarts};
use actix::prelude::*;
use ampel::alert::Alert;
use ampel::run::T0;
use ampel::units::FilterVerdict;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

#[derive(Message)]
#[rtype(result = "()")]
pub struct Filter {
    pub seq: u64,
    /// Index of the alert in its message.
    pub index: usize,
    pub alert: Arc<Alert>,
}

pub struct ChannelFilter {
    t0: Arc<T0>,
    channel: usize,
    ingest: Addr<IngestActor>,
    span: tracing::Span,
}

impl ChannelFilter {
    /// A factory for the channel's `SyncArbiter` (counting restarts).
    pub fn factory(
        t0: Arc<T0>,
        channel: usize,
        ingest: Addr<IngestActor>,
        restarts: Restarts,
        span: tracing::Span,
    ) -> impl Fn() -> ChannelFilter + Send + Sync + 'static {
        move || {
            restarts.built();
            ChannelFilter {
                t0: t0.clone(),
                channel,
                ingest: ingest.clone(),
                span: span.clone(),
            }
        }
    }
}

impl Actor for ChannelFilter {
    type Context = SyncContext<Self>;
}

impl Handler<Filter> for ChannelFilter {
    type Result = ();

    fn handle(&mut self, msg: Filter, ctx: &mut Self::Context) {
        let _run = self.span.enter();
        let ch = &self.t0.channels()[self.channel];
        if !ch.serves(msg.alert.survey) {
            // Another survey's alert: T0 counts it and never asks for
            // this verdict, so the filter need not read it.
            self.ingest.do_send(Verdict {
                seq: msg.seq,
                index: msg.index,
                channel: self.channel,
                verdict: Ok(FilterVerdict::Accept),
            });
            return;
        }
        let verdict = catch_unwind(AssertUnwindSafe(|| ch.filter.process(&msg.alert)))
            .map_err(|p| panic_text(&*p));
        let panicked = verdict.is_err();
        if let Err(why) = &verdict {
            tracing::error!(channel = %ch.name, stock = msg.alert.stock, alert = msg.alert.id, reason = %why, "filter panicked; restarting the channel's filter actor");
        }
        self.ingest.do_send(Verdict {
            seq: msg.seq,
            index: msg.index,
            channel: self.channel,
            verdict,
        });
        if panicked {
            ctx.stop();
        }
    }
}
