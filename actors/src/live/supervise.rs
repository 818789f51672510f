//! Supervision helpers. Sync actors (consumer, decoders, filters, ingester,
//! T2 workers) are restarted by their `SyncArbiter` when they stop: a
//! handler that catches a panic records the message as a dead letter and
//! stops its actor, and the arbiter builds a fresh one from the factory,
//! which counts the restart. Async actors (the T3 reactor) are run by an
//! actix `Supervisor` and count restarts in `Supervised::restarting`.

use ampel::run::{Event, Telemetry};
use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The text of a panic payload.
pub fn panic_text(p: &(dyn Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic with a non-text payload".into())
}

/// Counts the builds of one actor kind: every build after the first of
/// each instance is a restart.
#[derive(Clone)]
pub struct Restarts {
    actor: &'static str,
    builds: Arc<AtomicU64>,
    instances: u64,
    telemetry: Arc<dyn Telemetry>,
}

impl Restarts {
    pub fn new(actor: &'static str, instances: usize, telemetry: Arc<dyn Telemetry>) -> Self {
        Restarts {
            actor,
            builds: Arc::default(),
            instances: instances as u64,
            telemetry,
        }
    }

    /// Called by the factory at each build.
    pub fn built(&self) {
        let n = self.builds.fetch_add(1, Ordering::SeqCst);
        if n >= self.instances {
            self.restarted();
        }
    }

    /// An async actor restarted by its supervisor.
    pub fn restarted(&self) {
        tracing::warn!(actor = self.actor, "actor restarted");
        self.telemetry.event(Event::Restarted { actor: self.actor });
    }
}
