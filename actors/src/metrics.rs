//! Prometheus metrics from a run's typed events (`ampel::run::Event`), and
//! the HTTP endpoints an operator scrapes and probes: `/metrics` (text
//! format), `/healthz` (the process answers) and `/readyz` (the pipeline is
//! built and consuming). Metric names: `ampel_<component>_<event>_total`
//! with a fixed label set per metric.

use ampel::run::{Event, Telemetry};
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub struct Metrics {
    registry: Registry,
    consumed: IntCounter,
    failed: IntCounter,
    filtered: IntCounterVec,
    latency: HistogramVec,
    batch_seconds: Histogram,
    archive_ops: IntCounter,
    t2_runs: IntCounterVec,
    t2_seconds: HistogramVec,
    t3_runs: IntCounterVec,
    restarts: IntCounterVec,
    dead_letters: IntCounterVec,
    reactions: IntCounterVec,
    /// Messages behind the partition's end, per topic and partition.
    pub consumer_lag: IntGaugeVec,
    /// 1 while the consumer has paused its partitions (backpressure).
    pub consumer_paused: IntGauge,
    /// T2 documents queued or being worked on, per unit.
    pub t2_queue_depth: IntGaugeVec,
    /// Messages taken from Kafka and not yet stored.
    pub in_flight: IntGauge,
    ready: AtomicBool,
}

const LATENCY_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        let registry = Registry::new();
        let c = |name: &str, help: &str| {
            let m = IntCounter::new(name, help).expect("valid metric");
            registry
                .register(Box::new(m.clone()))
                .expect("unique metric");
            m
        };
        let cv = |name: &str, help: &str, labels: &[&str]| {
            let m = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry
                .register(Box::new(m.clone()))
                .expect("unique metric");
            m
        };
        let hv = |name: &str, help: &str, labels: &[&str], buckets: &[f64]| {
            let m = HistogramVec::new(
                HistogramOpts::new(name, help).buckets(buckets.to_vec()),
                labels,
            )
            .expect("valid metric");
            registry
                .register(Box::new(m.clone()))
                .expect("unique metric");
            m
        };
        let batch_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "ampel_archive_batch_seconds",
                "Time to write one archive batch",
            )
            .buckets(vec![0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0]),
        )
        .expect("valid metric");
        registry
            .register(Box::new(batch_seconds.clone()))
            .expect("unique metric");
        let gv = |name: &str, help: &str, labels: &[&str]| {
            let m = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry
                .register(Box::new(m.clone()))
                .expect("unique metric");
            m
        };
        let g = |name: &str, help: &str| {
            let m = IntGauge::new(name, help).expect("valid metric");
            registry
                .register(Box::new(m.clone()))
                .expect("unique metric");
            m
        };
        Arc::new(Metrics {
            restarts: cv(
                "ampel_actor_restarts_total",
                "Actors restarted after a panic or error",
                &["actor"],
            ),
            dead_letters: cv(
                "ampel_dead_letters_total",
                "Messages set aside in the trouble collection",
                &["reason"],
            ),
            reactions: cv(
                "ampel_reactions_total",
                "Reaction delivery steps (delivered, retried, failed, uncertain)",
                &["destination", "outcome"],
            ),
            consumer_lag: gv(
                "ampel_consumer_lag",
                "Messages between the consumer's position and the partition's end",
                &["topic", "partition"],
            ),
            consumer_paused: g(
                "ampel_consumer_paused",
                "1 while the consumer pauses its partitions (backpressure)",
            ),
            t2_queue_depth: gv(
                "ampel_t2_queue_depth",
                "T2 documents queued or being worked on",
                &["unit"],
            ),
            in_flight: g(
                "ampel_messages_in_flight",
                "Messages taken from Kafka and not yet stored",
            ),
            consumed: c(
                "ampel_alerts_consumed_total",
                "Alert messages taken from the source",
            ),
            failed: c(
                "ampel_alerts_failed_total",
                "Messages that could not be read or decoded (dead letters)",
            ),
            filtered: cv(
                "ampel_alerts_filtered_total",
                "T0 verdicts per channel",
                &["channel", "result"],
            ),
            latency: hv(
                "ampel_alert_latency_seconds",
                "From the message's stream timestamp to a stage",
                &["stage"],
                LATENCY_BUCKETS,
            ),
            batch_seconds,
            archive_ops: c(
                "ampel_archive_ops_total",
                "Documents written (upserts, inserts)",
            ),
            t2_runs: cv(
                "ampel_t2_runs_total",
                "T2 unit runs by result code",
                &["unit", "code"],
            ),
            t2_seconds: hv(
                "ampel_t2_seconds",
                "T2 unit run time",
                &["unit"],
                &[0.0001, 0.001, 0.01, 0.1, 1.0, 10.0],
            ),
            t3_runs: cv(
                "ampel_t3_runs_total",
                "T3 unit runs by result code",
                &["process", "unit", "code"],
            ),
            ready: AtomicBool::new(false),
            registry,
        })
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    /// The metrics in Prometheus text format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding");
        String::from_utf8(buf).expect("text format is UTF-8")
    }

    /// Serves /metrics, /healthz and /readyz on `addr` from a background
    /// thread; returns the bound address (port 0 picks a free one).
    pub fn serve(self: &Arc<Self>, addr: &str) -> std::io::Result<SocketAddr> {
        let listener = TcpListener::bind(addr)?;
        let local = listener.local_addr()?;
        let me = self.clone();
        std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    let _ = me.answer(stream);
                }
            })?;
        Ok(local)
    }

    fn answer(&self, mut stream: TcpStream) -> std::io::Result<()> {
        stream.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
        let mut line = String::new();
        BufReader::new(&stream).read_line(&mut line)?;
        let path = line.split_whitespace().nth(1).unwrap_or("/");
        let (status, ctype, body) = match path {
            "/metrics" => ("200 OK", "text/plain; version=0.0.4", self.render()),
            "/healthz" => ("200 OK", "text/plain", "ok\n".to_string()),
            "/readyz" if self.ready.load(Ordering::SeqCst) => {
                ("200 OK", "text/plain", "ready\n".to_string())
            }
            "/readyz" => (
                "503 Service Unavailable",
                "text/plain",
                "not ready\n".to_string(),
            ),
            _ => (
                "404 Not Found",
                "text/plain",
                "try /metrics, /healthz or /readyz\n".to_string(),
            ),
        };
        write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    }
}

impl Telemetry for Metrics {
    fn event(&self, e: Event<'_>) {
        match e {
            Event::Consumed { latency_s } => {
                self.consumed.inc();
                if let Some(l) = latency_s {
                    self.latency.with_label_values(&["t0"]).observe(l.max(0.0));
                }
            }
            Event::Filtered { channel, accepted } => self
                .filtered
                .with_label_values(&[channel, if accepted { "accepted" } else { "rejected" }])
                .inc(),
            Event::Failed => self.failed.inc(),
            Event::Stored { ops, seconds } => {
                self.batch_seconds.observe(seconds);
                self.archive_ops.inc_by(ops as u64);
            }
            Event::T2Done {
                unit,
                code,
                seconds,
            } => {
                self.t2_runs
                    .with_label_values(&[unit, &ampel::store::code::name(code)])
                    .inc();
                self.t2_seconds.with_label_values(&[unit]).observe(seconds);
            }
            Event::T2Latency { seconds } => {
                self.latency.with_label_values(&["t2"]).observe(seconds)
            }
            Event::Restarted { actor } => self.restarts.with_label_values(&[actor]).inc(),
            Event::DeadLetter { reason } => self.dead_letters.with_label_values(&[reason]).inc(),
            Event::Reaction {
                destination,
                outcome,
            } => self
                .reactions
                .with_label_values(&[destination, outcome])
                .inc(),
            Event::T3Done {
                process,
                unit,
                code,
            } => self
                .t3_runs
                .with_label_values(&[process, unit, &ampel::store::code::name(code)])
                .inc(),
        }
    }
}
