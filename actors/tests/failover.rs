//! Consumer-group behaviour as a Kafka user expects it, on Apache Kafka's
//! real group coordinator: after a consumer is killed with SIGKILL, the
//! surviving member takes over its partitions once the session times out
//! (no replacement needed), and a rolling restart of every consumer of a
//! group loses nothing. Each ends with an archive equal to a clean replay's
//! (`store::fingerprint`): nothing lost, nothing stored twice.
//!
//! tansu 0.6's coordinator gives the survivor its old partitions back
//! instead (see live.rs), so these run only with AMPEL_TEST_KAFKA=apache and
//! say so otherwise.

mod services;

use services::{job_with, produce, spawn_run, Broker, Proc, ALL, REST};
use std::io::Write;
use std::time::{Duration, Instant};

/// Apache Kafka, or None (with the reason on the terminal) on tansu.
fn apache(test: &str) -> Option<Broker> {
    if services::apache_kafka() {
        return Some(Broker::start());
    }
    let _ = writeln!(
        std::io::stderr(),
        "{test}: not run on tansu (its group coordinator does not reassign a dead member's \
         partitions to the survivor); run with AMPEL_TEST_KAFKA=apache (tests/run does)"
    );
    None
}

fn wait_until(what: &str, secs: u64, mut done: impl FnMut() -> bool, logs: impl Fn() -> String) {
    let t = Instant::now();
    while !done() {
        assert!(
            t.elapsed() < Duration::from_secs(secs),
            "{what} in {secs} s: {}",
            logs()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn the_survivor_takes_over_a_killed_members_partitions() {
    let Some(broker) = apache("the_survivor_takes_over_a_killed_members_partitions") else {
        return;
    };
    broker.create_topic("ztf_survivor_programid1", 4);
    produce(&broker, "ztf_survivor_programid1", &ALL[..1]);
    let dir = tempfile::tempdir().unwrap();
    let source = format!(
        "{{kafka: {{brokers: '{}', topics: [ztf_survivor_programid1], group: survivor}}}}",
        broker.brokers()
    );
    let j = job_with(dir.path(), &source, "store: {hot: memory}");
    let want = services::replay_contents(&ALL);
    let mut a = spawn_run(dir.path(), "a", &j, "sqlite:shared.sqlite");
    a.wait_metric("ampel_alerts_consumed_total", &[], 1.0, 60);
    let b = spawn_run(dir.path(), "b", &j, "sqlite:shared.sqlite");
    b.wait_log("rebalance: partitions assigned", 60);
    a.signal("-KILL");
    let _ = a.finish(10);
    let before = b.consumed();
    produce(&broker, "ztf_survivor_programid1", &REST);
    // The 80 new alerts are on all four partitions: B gets them all only
    // by taking over A's, once A's session (10 s) has expired.
    wait_until(
        "B took over the killed member's partitions",
        90,
        || b.consumed() >= before + 80.0,
        || b.logs(),
    );
    let summary = b.term();
    assert_eq!(summary["failed"], 0);
    assert_eq!(services::sqlite_contents(dir.path(), "shared.sqlite"), want);
}

#[test]
fn a_rolling_restart_of_every_consumer_loses_nothing() {
    let Some(broker) = apache("a_rolling_restart_of_every_consumer_loses_nothing") else {
        return;
    };
    broker.create_topic("ztf_rolling_programid1", 4);
    let dir = tempfile::tempdir().unwrap();
    let source = format!(
        "{{kafka: {{brokers: '{}', topics: [ztf_rolling_programid1], group: rolling}}}}",
        broker.brokers()
    );
    let j = job_with(dir.path(), &source, "store: {hot: memory}");
    let want = services::replay_contents(&ALL);
    let start = |name: &str| spawn_run(dir.path(), name, &j, "sqlite:shared.sqlite");
    let (a, b) = (start("a"), start("b"));
    produce(&broker, "ztf_rolling_programid1", &ALL[..1]);
    let total = |ps: &[&Proc]| ps.iter().map(|p| p.consumed()).sum::<f64>();
    wait_until(
        "172 consumed by A and B",
        90,
        || total(&[&a, &b]) >= 172.0,
        || a.logs(),
    );
    // Restart A (SIGTERM: drain, store, commit, leave), then B, with new
    // alerts arriving in between.
    let mut stored = a.term()["alerts"].as_u64().unwrap();
    let a2 = start("a2");
    produce(&broker, "ztf_rolling_programid1", &REST[..1]);
    stored += b.term()["alerts"].as_u64().unwrap();
    let b2 = start("b2");
    produce(&broker, "ztf_rolling_programid1", &REST[1..]);
    wait_until(
        "the rest consumed after the restarts",
        120,
        || stored as f64 + total(&[&a2, &b2]) >= 252.0,
        || format!("{}\n{}", a2.logs(), b2.logs()),
    );
    stored += a2.term()["alerts"].as_u64().unwrap();
    stored += b2.term()["alerts"].as_u64().unwrap();
    assert_eq!(
        stored, 252,
        "each alert stored once over the four processes"
    );
    assert_eq!(services::sqlite_contents(dir.path(), "shared.sqlite"), want);
}
