//! Broker failure on a 3-node Apache Kafka cluster (KRaft, replication
//! factor 3, min.insync.replicas 2): the broker leading most partitions is
//! killed with SIGKILL while alerts flow, and later every broker is down
//! for 30 s. Consumption goes on after leader election / resumes at the
//! committed offsets, and the archive ends equal to a clean replay's:
//! nothing acknowledged lost, nothing stored twice. Apache Kafka only:
//! tansu runs as a single broker.

mod services;

use serde_json::Value;
use services::{data, job_with, spawn_run, KafkaCluster, Proc, ALL, REST};
use std::time::{Duration, Instant};

fn cluster(test: &str) -> Option<KafkaCluster> {
    if services::apache_kafka() {
        return Some(KafkaCluster::start(3));
    }
    eprintln!(
        "{test}: Apache Kafka only (a 3-node cluster; AMPEL_TEST_KAFKA=apache, as tests/run does)"
    );
    None
}

fn produce(brokers: &str, topic: &str, files: &[&str]) {
    let out = services::ampel()
        .args(["produce", "--brokers", brokers, "--topic", topic])
        .args(files.iter().map(|f| data(f)))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn wait_consumed(p: &Proc, n: f64, secs: u64) {
    let t = Instant::now();
    while p.consumed() < n {
        assert!(
            t.elapsed() < Duration::from_secs(secs),
            "{} of {n} consumed in {secs} s: {}",
            p.consumed(),
            p.logs()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn the_leading_broker_killed_while_alerts_flow_loses_and_duplicates_nothing() {
    let Some(mut kafka) = cluster("the_leading_broker_killed_while_alerts_flow") else {
        return;
    };
    let topic = "ztf_leader_programid1";
    kafka.create_topic(topic, 4);
    produce(&kafka.brokers(), topic, &ALL[..1]);
    let dir = tempfile::tempdir().unwrap();
    let source = format!(
        "{{kafka: {{brokers: '{}', topics: [{topic}], group: leader}}}}",
        kafka.brokers()
    );
    let j = job_with(dir.path(), &source, "store: {hot: memory}");
    let want = services::replay_contents(&ALL);
    let run = spawn_run(dir.path(), "run", &j, "sqlite:live.sqlite");
    wait_consumed(&run, 1.0, 90);
    let leader = kafka.busiest_leader(topic);
    kafka.nodes[leader].kill9();
    // Acknowledged by the two brokers left (min.insync.replicas 2).
    produce(&kafka.brokers(), topic, &REST);
    wait_consumed(&run, 252.0, 120);
    kafka.start_stopped();
    std::thread::sleep(Duration::from_secs(3));
    let summary = run.term();
    assert_eq!(summary["failed"], 0);
    // Messages redelivered after the leader change are skipped, not
    // stored twice; every one of the 252 was taken.
    assert!(consumed_total(&summary) >= 252, "{summary}");
    assert_eq!(services::sqlite_contents(dir.path(), "live.sqlite"), want);
}

/// What the run took in all: stored alerts and skipped redeliveries.
fn consumed_total(summary: &Value) -> u64 {
    summary["alerts"].as_u64().unwrap() + summary["duplicates"].as_u64().unwrap()
}

#[test]
fn every_broker_down_for_30_s_and_back_is_waited_for() {
    let Some(mut kafka) = cluster("every_broker_down_for_30_s_and_back") else {
        return;
    };
    let topic = "ztf_outage_programid1";
    kafka.create_topic(topic, 4);
    produce(&kafka.brokers(), topic, &ALL[..1]);
    let dir = tempfile::tempdir().unwrap();
    let source = format!(
        "{{kafka: {{brokers: '{}', topics: [{topic}], group: outage}}}}",
        kafka.brokers()
    );
    let j = job_with(dir.path(), &source, "store: {hot: memory}");
    let want = services::replay_contents(&ALL);
    let run = spawn_run(dir.path(), "run", &j, "sqlite:live.sqlite");
    wait_consumed(&run, 172.0, 90);
    kafka.kill_all();
    std::thread::sleep(Duration::from_secs(30));
    kafka.start_stopped();
    produce(&kafka.brokers(), topic, &REST);
    wait_consumed(&run, 252.0, 180);
    let logs = run.logs();
    let summary = run.term();
    assert_eq!(summary["alerts"], 252, "{summary}");
    assert_eq!(summary["failed"], 0);
    assert!(logs.contains("retrying"), "the outage is reported: {logs}");
    assert_eq!(services::sqlite_contents(dir.path(), "live.sqlite"), want);
}
