//! Kafka with a real broker (tansu): `ampel produce` writes each survey's
//! wire format; `ampel run` from a topic builds the same archive as a replay
//! of the same alerts, commits offsets after storing, and a new run of the
//! same group resumes where the last one stopped.

mod services;

use ampel::avro::SchemaRegistry;
use ampel::job::Job;
use ampel::run::Pipeline;
use ampel::source::for_each_alert;
use ampel::store::{open_embedded, Archive};
use ampel::AlertDecoder;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message};
use services::{contents, data, http_get, job, metric, produce, run_cli, spawn_run, Broker};
use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Alert ids in the files, decoded directly.
fn ids_in(files: &[&str]) -> BTreeSet<i64> {
    let d = AlertDecoder::new();
    let mut out = BTreeSet::new();
    let paths: Vec<PathBuf> = files.iter().map(|f| data(f)).collect();
    for_each_alert(&paths, |m| {
        out.extend(d.decode(m.unwrap().bytes).unwrap().iter().map(|a| a.id));
        ControlFlow::Continue(())
    });
    out
}

#[test]
fn produce_writes_each_surveys_wire_format() {
    let broker = Broker::start();
    broker.create_topic("mixed", 3);
    let files = [
        "ztf_public_20231018_v4.02.tar.gz",
        "lsst_v9.0_20250905.tar.gz",
    ];
    let summary = produce(&broker, "mixed", &files);
    assert_eq!(summary["produced"], 272);

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.brokers())
        .set("group.id", "check")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&["mixed"]).unwrap();
    let decoder = AlertDecoder::new().with_registry(SchemaRegistry::builtin());
    let (mut got, mut partitions, mut confluent) = (BTreeSet::new(), BTreeSet::new(), 0);
    let t = Instant::now();
    while got.len() < 272 && t.elapsed() < Duration::from_secs(60) {
        if let Some(m) = consumer.poll(Duration::from_millis(200)) {
            let m = m.unwrap();
            let payload = m.payload().unwrap();
            confluent += usize::from(payload[0] == 0);
            partitions.insert(m.partition());
            let alerts = decoder.decode(payload.to_vec().into()).unwrap();
            assert_eq!(
                std::str::from_utf8(m.key().unwrap()).unwrap(),
                alerts[0].stock.to_string()
            );
            got.extend(alerts.iter().map(|a| a.id));
        }
    }
    assert_eq!(got, ids_in(&files));
    assert_eq!(confluent, 100, "Rubin alerts as Confluent frames");
    assert_eq!(partitions.len(), 3, "keys spread over the partitions");
}

#[test]
fn a_run_from_kafka_equals_a_replay_and_resumes_where_it_stopped() {
    let broker = Broker::start();
    broker.create_topic("ztf_20231018_programid1", 3);
    assert_eq!(
        produce(
            &broker,
            "ztf_20231018_programid1",
            &["ztf_public_20231018_v4.02.tar.gz"]
        )["produced"],
        172
    );
    let dir = tempfile::tempdir().unwrap();
    let live = job(
        dir.path(),
        &format!(
            "{{kafka: {{brokers: '{}', topics: ['^ztf_.*_programid1$'], group: ampel-test, stop_after_idle_seconds: 4}}}}",
            broker.brokers()
        ),
    );
    let replay = job(
        dir.path(),
        &format!(
            "{{paths: [{}]}}",
            data("ztf_public_20231018_v4.02.tar.gz").display()
        ),
    );

    let s = run_cli(dir.path(), &live, "sqlite:live.sqlite");
    assert_eq!(
        (s["alerts"].as_u64(), s["failed"].as_u64()),
        (Some(172), Some(0))
    );
    let r = run_cli(dir.path(), &replay, "sqlite:replay.sqlite");
    assert_eq!(r["accepted"], s["accepted"]);
    let a = open_embedded(&format!(
        "sqlite:{}",
        dir.path().join("live.sqlite").display()
    ))
    .unwrap();
    let b = open_embedded(&format!(
        "sqlite:{}",
        dir.path().join("replay.sqlite").display()
    ))
    .unwrap();
    assert_eq!(
        contents(&a),
        contents(&b),
        "same stocks, datapoints, states and T2 results"
    );

    // Offsets were committed: the same group starts after them.
    let again = run_cli(dir.path(), &live, "sqlite:live.sqlite");
    assert_eq!(again["alerts"], 0);
    let before = contents(&a);
    assert_eq!(
        produce(
            &broker,
            "ztf_20231018_programid1",
            &["ztf_public_20200101_v3.3.tar.gz"]
        )["produced"],
        50
    );
    let more = run_cli(dir.path(), &live, "sqlite:live.sqlite");
    assert_eq!(more["alerts"], 50, "exactly the new alerts");
    // Both channels reject all 50 (logged per channel); nothing else changed.
    assert_eq!(
        (
            more["rejected"]["A"].as_u64(),
            more["rejected"]["B"].as_u64()
        ),
        (Some(50), Some(50))
    );
    let run = more["run"].as_i64().unwrap();
    let logs = a
        .logs(&ampel::store::LogQuery {
            run: Some(run),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(logs.iter().filter(|l| l.msg == "rejected").count(), 100);
    assert_eq!(contents(&a), before);
}

#[test]
fn a_kafka_job_is_validated() {
    let dir = tempfile::tempdir().unwrap();
    let bad = job(
        dir.path(),
        "{kafka: {brokers: '', topics: [], group: g, stop_after_idle_seconds: 0}}",
    );
    let e = Job::load(&bad).unwrap_err().to_string();
    for k in [
        "source.kafka.brokers",
        "source.kafka.topics",
        "source.kafka.stop_after_idle_seconds",
    ] {
        assert!(e.contains(k), "{k}: {e}");
    }
    let both = job(dir.path(), &format!("{{paths: [{}], kafka: {{brokers: b, topics: [t], group: g, stop_after_idle_seconds: 1}}}}", data("ztf_public_20231018_v4.02.tar.gz").display()));
    assert!(Job::load(&both)
        .unwrap_err()
        .to_string()
        .contains("exactly one of"));
    let ok = Job::load(&job(
        dir.path(),
        "{kafka: {brokers: b, topics: [t], group: g, stop_after_idle_seconds: 1}}",
    ))
    .unwrap();
    assert_eq!(ok.source.kafka.as_ref().unwrap().topics, ["t"]);
    assert!(Pipeline::build(ok).is_ok());
}

#[test]
fn metrics_during_a_run_match_what_was_processed() {
    let broker = Broker::start();
    broker.create_topic("ztf_metrics_programid1", 2);
    produce(
        &broker,
        "ztf_metrics_programid1",
        &["ztf_public_20231018_v4.02.tar.gz"],
    );
    let dir = tempfile::tempdir().unwrap();
    let live = job(
        dir.path(),
        &format!(
            "{{kafka: {{brokers: '{}', topics: [ztf_metrics_programid1], group: m, stop_after_idle_seconds: 8}}}}",
            broker.brokers()
        ),
    );
    let mut run = spawn_run(dir.path(), "run", &live, "sqlite:m.sqlite");
    // Scrape while the run waits out its idle time after the last alert
    // (8 s: ample for the batch holding them to be written).
    run.wait_metric("ampel_alerts_consumed_total", &[], 172.0, 60);
    run.wait_metric("ampel_archive_ops_total", &[], 1.0, 60);
    let scrape = run.scrape().expect("text format parses");
    let port = run.port;
    assert_eq!(http_get(port, "/healthz").0, 200);
    assert_eq!(http_get(port, "/readyz").0, 200, "ready while consuming");
    assert_eq!(http_get(port, "/nope").0, 404);
    let log = run.log.clone();
    let (status, summary) = run.finish(60);
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );

    assert_eq!(metric(&scrape, "ampel_alerts_consumed_total", &[]), 172.0);
    assert_eq!(metric(&scrape, "ampel_alerts_failed_total", &[]), 0.0);
    for ch in ["A", "B"] {
        let acc = summary["accepted"][ch].as_f64().unwrap();
        assert_eq!(
            metric(
                &scrape,
                "ampel_alerts_filtered_total",
                &[("channel", ch), ("result", "accepted")]
            ),
            acc
        );
        assert_eq!(
            metric(
                &scrape,
                "ampel_alerts_filtered_total",
                &[("channel", ch), ("result", "rejected")]
            ),
            172.0 - acc
        );
    }
    assert_eq!(
        metric(
            &scrape,
            "ampel_alert_latency_seconds_count",
            &[("stage", "t0")]
        ),
        172.0,
        "every message had a Kafka timestamp"
    );
    assert!(metric(&scrape, "ampel_archive_ops_total", &[]) > 0.0);
}

#[test]
fn sigterm_stores_commits_and_exits_0() {
    let broker = Broker::start();
    broker.create_topic("ztf_term", 2);
    produce(&broker, "ztf_term", &["ztf_public_20231018_v4.02.tar.gz"]);
    let dir = tempfile::tempdir().unwrap();
    let source = |idle: u32| {
        format!(
            "{{kafka: {{brokers: '{}', topics: [ztf_term], group: t, stop_after_idle_seconds: {idle}}}}}",
            broker.brokers()
        )
    };
    let long = job(dir.path(), &source(600));
    let mut run = spawn_run(dir.path(), "run", &long, "sqlite:t.sqlite");
    run.wait_metric("ampel_alerts_consumed_total", &[], 172.0, 60);
    let stopped = Instant::now();
    run.signal("-TERM");
    let log = run.log.clone();
    let (status, summary) = run.finish(60);
    let stderr = std::fs::read_to_string(log).unwrap_or_default();
    assert!(status.success(), "exit {status:?}: {stderr}");
    assert!(
        stopped.elapsed() < Duration::from_secs(30),
        "stopped promptly, not after the 600 s idle limit"
    );
    assert!(stderr.contains("signal received"));
    assert_eq!(summary["alerts"], 172);
    assert!(
        summary["t2"]["OK"].as_u64().unwrap() > 0,
        "T2 ran before exiting"
    );
    // Offsets were committed: the group has nothing left to read.
    let again = run_cli(dir.path(), &job(dir.path(), &source(3)), "sqlite:t.sqlite");
    assert_eq!(again["alerts"], 0);
}

/// Unreachable brokers are retried and reported: exit 4 with the reason.
/// librdkafka reports every reconnect attempt (216 lines in 10 s with a
/// broker down): the run says it once, then once per 10 s with a count.
#[test]
fn unreachable_brokers_are_retried_reported_and_summarised() {
    let dir = tempfile::tempdir().unwrap();
    let port = services::free_port(); // nothing listens there
    let j = job(dir.path(), &format!("{{kafka: {{brokers: '127.0.0.1:{port}', topics: [x], group: g, stop_after_idle_seconds: 12}}}}"));
    let out = services::ampel()
        .current_dir(dir.path())
        .args(["run", "--job"])
        .arg(&j)
        .args(["--store", "sqlite:u.sqlite"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    let kafka: Vec<&str> = err.lines().filter(|l| l.contains(" kafka: ")).collect();
    assert!(
        !kafka.is_empty() && kafka.len() <= 3,
        "{} kafka lines in 12 s: {err}",
        kafka.len()
    );
    assert!(kafka[0].contains("Connection refused"), "{}", kafka[0]);
    assert!(
        kafka[0].contains("retrying with back-off"),
        "a clear log line while retrying: {err}"
    );
    assert!(
        err.contains("no message received and the brokers failed"),
        "{err}"
    );
    assert!(
        kafka[1..]
            .iter()
            .any(|l| l.contains("more error(s) in the last 1")),
        "the held errors are counted: {err}"
    );
}
