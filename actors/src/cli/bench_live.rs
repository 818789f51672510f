//! `ampel bench live`: the live runtime end to end through a real broker.
//! Distinct copies of the job's alerts (`ampel_actors::synth`) are produced
//! into a fresh topic, at a fixed rate or flat out, while `ampel run`'s
//! actors consume them into a fresh embedded archive or the given one
//! (with the given hot state: Redis for dedup and the T2 queue, or
//! in-process). Reports throughput and the latency from each message's
//! Kafka timestamp to its T0 ingest and to its T2 results being stored.

use super::input::{load_all, Tally};
use ampel::job::{Job, KafkaSourceConfig};
use ampel::run::{Event, Pipeline, Telemetry};
use ampel_actors::metrics::Metrics;
use anyhow::Context;
use clap::Args;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct BenchLiveArgs {
    /// Job file: its channels and alert paths (its source and archive are
    /// replaced: a fresh topic and a fresh embedded archive).
    #[arg(long, default_value = "config/bench/replay.yml")]
    job: PathBuf,
    /// Kafka bootstrap brokers.
    #[arg(long, env = "AMPEL_KAFKA_BROKERS")]
    brokers: String,
    /// Hot state (dedup, T2 queue): redis://HOST:PORT or `memory`.
    #[arg(long, default_value = "memory")]
    hot: String,
    /// Alerts offered per second; 0 = flat out.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Distinct copies of each alert (172 v4.02 alerts x 58 = 9,976).
    #[arg(long, default_value_t = 58)]
    copies: u64,
    /// Partitions of the benchmark topic.
    #[arg(long, default_value_t = 3)]
    partitions: i32,
    /// Produce every alert before the consumers start: a Rubin visit
    /// (10,000 alerts at once; latencies count from the burst), and a
    /// throughput that is the runtime's alone, not shared with a producer
    /// on the same cores.
    #[arg(long, conflicts_with = "visit")]
    prefill: bool,
    /// A Rubin visit: the consumers start first and take one warm-up alert
    /// (so they have joined the group), then every other alert is produced
    /// at once; latencies count from each message's Kafka timestamp.
    #[arg(long)]
    visit: bool,
    /// Archive to fill (e.g. mongodb://HOST:PORT/DB; emptying it first is
    /// up to you); default: a fresh embedded archive, removed afterwards.
    #[arg(long)]
    store: Option<String>,
    /// Messages taken from Kafka and not yet stored, at most (a full
    /// window holds the consumers back), as a job's `max_in_flight`.
    #[arg(long, default_value_t = ampel::job::DEFAULT_MAX_IN_FLIGHT)]
    max_in_flight: usize,
    /// A librdkafka property for the consumers, KEY=VALUE (repeatable),
    /// as a job's `source.kafka.properties`.
    #[arg(long = "kafka-property", value_name = "KEY=VALUE", value_parser = key_value)]
    kafka_properties: Vec<(String, String)>,
}

fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE"))
}

/// Forwards events to the metrics and keeps what the report needs.
struct Recorder {
    metrics: Arc<Metrics>,
    start: Instant,
    samples: Mutex<Samples>,
}

#[derive(Default)]
struct Samples {
    t0: Vec<f64>,
    t2: Vec<f64>,
    first_consumed: Option<f64>,
    last_t0: f64,
    last_t2: f64,
    /// Archive writes of the ingester: how many, and seconds in them.
    batches: u64,
    store_s: f64,
}

impl Telemetry for Recorder {
    fn event(&self, e: Event<'_>) {
        let now = self.start.elapsed().as_secs_f64();
        match &e {
            Event::Consumed { latency_s } => {
                let mut s = self.samples.lock().unwrap_or_else(|p| p.into_inner());
                s.first_consumed.get_or_insert(now);
                s.last_t0 = now;
                if let Some(l) = latency_s {
                    s.t0.push(*l);
                }
            }
            Event::Stored { seconds, .. } => {
                let mut s = self.samples.lock().unwrap_or_else(|p| p.into_inner());
                s.batches += 1;
                s.store_s += seconds;
            }
            Event::T2Latency { seconds } => {
                let mut s = self.samples.lock().unwrap_or_else(|p| p.into_inner());
                s.t2.push(*seconds);
                s.last_t2 = now;
            }
            _ => {}
        }
        self.metrics.event(e);
    }
}

fn percentile(v: &mut [f64], p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    Some(v[i])
}

/// Distinct copies of the job's alerts (keys and payloads), made before a
/// benchmark's clock starts.
pub(super) fn synthetic(job: &Job, copies: u64) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut tally = Tally::default();
    let (raw, _) = load_all(&job.source.paths, &mut tally);
    let t = Instant::now();
    let bytes: Vec<Vec<u8>> = raw.iter().map(|m| m.bytes.to_vec()).collect();
    let messages = ampel_actors::synth::ztf_copies(&bytes, copies)
        .context("making distinct copies of the alerts (ZTF alerts only)")?;
    eprintln!(
        "{} distinct alerts ({} x {} copies) made in {:.1} s",
        messages.len(),
        raw.len(),
        copies,
        t.elapsed().as_secs_f64()
    );
    Ok(messages)
}

/// A fresh benchmark topic.
pub(super) fn create_topic(brokers: &str, topic: &str, partitions: i32) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?;
    let created = actix::System::new().block_on(admin.create_topics(
        &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
        &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
    ))?;
    for r in created {
        r.map_err(|(t, e)| anyhow::anyhow!("creating topic {t}: {e}"))?;
    }
    Ok(())
}

/// Produces `messages` to `topic`, at `rate` per second (0: flat out);
/// answers the rate achieved.
pub(super) fn offer(
    brokers: &str,
    topic: &str,
    messages: &[(String, Vec<u8>)],
    rate: f64,
) -> anyhow::Result<f64> {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "2")
        .set("queue.buffering.max.messages", "200000")
        .create()?;
    let t = Instant::now();
    for (i, (key, payload)) in messages.iter().enumerate() {
        if rate > 0.0 {
            let due = Duration::from_secs_f64(i as f64 / rate);
            if let Some(wait) = due.checked_sub(t.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        let mut record = BaseRecord::to(topic).key(key).payload(payload);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, r)) => {
                    record = r;
                    producer.poll(Duration::from_millis(10));
                }
            }
        }
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(60))?;
    Ok(messages.len() as f64 / t.elapsed().as_secs_f64())
}

/// A Rubin visit: one warm-up alert, then, once the consumers have taken
/// it (they have joined the group and are polling), all the others at
/// once. The warm-up's latencies are not counted.
fn offer_visit(
    brokers: &str,
    topic: &str,
    messages: &[(String, Vec<u8>)],
    recorder: &Recorder,
) -> anyhow::Result<f64> {
    let Some((first, rest)) = messages.split_first() else {
        return Ok(0.0);
    };
    offer(brokers, topic, std::slice::from_ref(first), 0.0)?;
    let waiting = Instant::now();
    let consumed = || {
        let s = recorder.samples.lock().unwrap_or_else(|p| p.into_inner());
        s.first_consumed.is_some()
    };
    while !consumed() {
        if waiting.elapsed() > Duration::from_secs(120) {
            anyhow::bail!("the consumers took no warm-up alert in 120 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Its T0 and T2 done (the runtime stops after 3 s idle: stay below).
    std::thread::sleep(Duration::from_millis(500));
    {
        let mut s = recorder.samples.lock().unwrap_or_else(|p| p.into_inner());
        s.t0.clear();
        s.t2.clear();
        s.first_consumed = None;
    }
    eprintln!(
        "consumers running ({:.1} s to the warm-up alert); the visit: {} alerts at once",
        waiting.elapsed().as_secs_f64(),
        rest.len()
    );
    offer(brokers, topic, rest, 0.0)
}

pub fn run(args: BenchLiveArgs) -> anyhow::Result<ExitCode> {
    let mut job = Job::load(&args.job)?;
    let messages = synthetic(&job, args.copies)?;
    let stamp = ampel::run::now() as u64;
    let topic = format!("ampel_bench_{stamp}");
    create_topic(&args.brokers, &topic, args.partitions)?;

    let dir = std::env::temp_dir().join(format!("ampel-bench-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let archive = args
        .store
        .clone()
        .unwrap_or_else(|| format!("sqlite:{}", dir.join("bench.sqlite").display()));
    job.source.paths.clear();
    job.source.kafka = Some(KafkaSourceConfig {
        brokers: args.brokers.clone(),
        topics: vec![topic.clone()],
        group: format!("bench-{stamp}"),
        properties: args.kafka_properties.iter().cloned().collect(),
        stop_after_idle_seconds: Some(3.0),
        max_in_flight: args.max_in_flight,
        max_t2_backlog: 20_000,
        pause_after_seconds: ampel::job::DEFAULT_PAUSE_AFTER_SECONDS,
    });
    let kafka = job.source.kafka.clone().expect("just set");
    let metrics = Metrics::new();
    let recorder = Arc::new(Recorder {
        metrics: metrics.clone(),
        start: Instant::now(),
        samples: Mutex::default(),
    });
    let mut pipeline = Pipeline::build(job)?.with_telemetry(recorder.clone());
    if args.hot != "memory" {
        pipeline = pipeline.with_hot_state(ampel_actors::hot::open_hot(
            &args.hot,
            &format!("bench-{stamp}"),
        )?);
    }

    // The producer offers the alerts while the actors consume them, all
    // of them before (--prefill), or at once once they run (--visit).
    let rate = args.rate;
    let brokers = args.brokers.clone();
    let prefilled = match args.prefill {
        true => {
            let r = offer(&brokers, &topic, &messages, rate)?;
            eprintln!(
                "{} alerts produced ({r:.0}/s); the consumers start",
                messages.len()
            );
            Some(r)
        }
        false => None,
    };
    let visit = args.visit.then(|| recorder.clone());
    let offered = prefilled.is_none().then(|| {
        std::thread::spawn(move || match visit {
            Some(recorder) => offer_visit(&brokers, &topic, &messages, &recorder),
            None => offer(&brokers, &topic, &messages, rate),
        })
    });

    let outcome = ampel_actors::live::run(
        pipeline,
        kafka,
        ampel_actors::live::LiveOptions {
            archive: archive.clone(),
            hot: Some(args.hot.clone()),
            version: super::run::version(),
            metrics,
            stop: Arc::new(AtomicBool::new(false)),
            t3: true,
            t2_workers: None,
        },
    )?;
    let offered_rate = match offered {
        Some(h) => h
            .join()
            .map_err(|_| anyhow::anyhow!("the producer thread panicked"))??,
        None => prefilled.unwrap_or_default(),
    };
    let _ = std::fs::remove_dir_all(&dir);
    let mut s = recorder.samples.lock().unwrap_or_else(|p| p.into_inner());
    let first = s.first_consumed.unwrap_or(0.0);
    let busy = s.last_t0.max(s.last_t2) - first;
    let alerts = outcome.summary.alerts;
    let (t0_50, t0_99) = (percentile(&mut s.t0, 0.5), percentile(&mut s.t0, 0.99));
    let (t2_50, t2_99) = (percentile(&mut s.t2, 0.5), percentile(&mut s.t2, 0.99));
    let report = serde_json::json!({
        "alerts": alerts,
        "failed": outcome.summary.failed,
        "accepted": outcome.summary.accepted,
        "t2_runs": outcome.summary.t2_runs,
        "hot": args.hot,
        "offered_per_s": if rate > 0.0 { serde_json::json!(rate) } else { serde_json::json!("flat out") },
        "produced_per_s": offered_rate,
        "prefilled": args.prefill,
        "visit": args.visit,
        "archive": if archive.starts_with("sqlite:") { "embedded" } else { "server" },
        "seconds": busy,
        "ingest_seconds": s.last_t0 - first,
        "alerts_per_s": alerts as f64 / busy.max(1e-9),
        "latency_t0_p50_s": t0_50, "latency_t0_p99_s": t0_99,
        "latency_t2_p50_s": t2_50, "latency_t2_p99_s": t2_99,
        "t2_latency_samples": s.t2.len(),
        "t0_batches": s.batches, "t0_store_seconds": s.store_s,
        "threads": std::thread::available_parallelism().map_or(0, |n| n.get()),
    });
    eprintln!(
        "{alerts} alerts in {busy:.2} s ({:.0} alerts/s); Kafka -> T2 done p50 {:.3} s, p99 {:.3} s",
        alerts as f64 / busy.max(1e-9),
        t2_50.unwrap_or(f64::NAN),
        t2_99.unwrap_or(f64::NAN)
    );
    println!("{report}");
    Ok(match outcome.exit {
        0 if outcome.summary.failed == 0 => ExitCode::SUCCESS,
        // Reactions left undelivered (the job's endpoints misbehave):
        // reported like `ampel run` does, the figures above still hold.
        6 => ExitCode::from(6),
        _ => ExitCode::from(3),
    })
}
