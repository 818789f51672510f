//! Consumer-group behaviour as a Kafka user expects it, on Apache Kafka's
//! real group coordinator: after a consumer is killed with SIGKILL, the
//! surviving member takes over its partitions once the session times out
//! (no replacement needed), and a rolling restart of every consumer of a
//! group loses nothing. Each ends with an archive equal to a clean replay's
//! (`store::fingerprint`): nothing lost, nothing stored twice.
//!
//! With static membership (`group.instance.id`, the pod name in k8s/), a
//! member that is killed and comes back within its session timeout gets
//! its own partitions back and the other members see no rebalance at all.
//!
//! tansu 0.6's coordinator gives the survivor its old partitions back
//! instead (see live.rs), so these run only with AMPEL_TEST_KAFKA=apache and
//! say so otherwise.

mod services;

use ampel_actors::kafka::assignment::{describe_group, held_partitions, GroupView};
use services::{job_with, produce, spawn_env, spawn_run, Broker, Proc, ALL, REST};
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

/// `ampel run` as a static member of its group, with the session timeout
/// k8s/ sets (long enough for a restart).
fn static_member(dir: &std::path::Path, job: &std::path::Path, name: &str, instance: &str) -> Proc {
    let args = [
        "run",
        "--job",
        job.to_str().unwrap(),
        "--store",
        "sqlite:shared.sqlite",
    ];
    let env = [
        ("AMPEL_KAFKA_PROPERTY_GROUP_INSTANCE_ID", instance),
        ("AMPEL_KAFKA_PROPERTY_SESSION_TIMEOUT_MS", "45000"),
    ];
    spawn_env(dir, name, &args, &env)
}

/// The group once it is Stable with `members` members each holding
/// partitions.
fn stable_group(
    broker: &Broker,
    group: &str,
    members: usize,
    logs: impl Fn() -> String,
) -> GroupView {
    let mut view = None;
    wait_until(
        &format!("group {group} stable with {members} members"),
        90,
        || {
            view = describe_group(&broker.brokers(), group).filter(|g| {
                g.members.len() == members && g.members.iter().all(|(_, p)| !p.is_empty())
            });
            view.is_some()
        },
        logs,
    );
    view.unwrap()
}

/// The partitions of the member whose id starts with `instance`, sorted.
fn partitions_of(g: &GroupView, instance: &str) -> Vec<String> {
    let mut p = g
        .members
        .iter()
        .find(|(id, _)| id.starts_with(instance))
        .unwrap_or_else(|| panic!("no member {instance} in {g:?}"))
        .1
        .clone();
    p.sort();
    p
}

#[test]
fn a_static_member_restarted_gets_its_partitions_back_without_a_rebalance() {
    let test = "a_static_member_restarted_gets_its_partitions_back_without_a_rebalance";
    let Some(broker) = apache(test) else {
        return;
    };
    broker.create_topic("ztf_static_programid1", 4);
    produce(&broker, "ztf_static_programid1", &ALL[..1]);
    let dir = tempfile::tempdir().unwrap();
    let source = format!(
        "{{kafka: {{brokers: '{}', topics: [ztf_static_programid1], group: static}}}}",
        broker.brokers()
    );
    let j = job_with(dir.path(), &source, "store: {hot: memory}");
    let want = services::replay_contents(&ALL);
    let start = |name: &str, instance: &str| static_member(dir.path(), &j, name, instance);
    let a = start("a", "t0-0");
    let b = start("b", "t0-1");
    let before = stable_group(&broker, "static", 2, || {
        format!("{}\n{}", a.logs(), b.logs())
    });
    assert_eq!(
        before.protocol, "cooperative-sticky",
        "the default assignor"
    );
    // The coordinator answers Stable as soon as it has sent the
    // assignments; a member logs its share when its callback runs, a
    // moment later. B's count is taken once its log has caught up.
    wait_until(
        "B's log holding what the coordinator gave it",
        30,
        || held_partitions(&b.logs()) == partitions_of(&before, "t0-1"),
        || b.logs(),
    );
    let b_rebalances = |b: &Proc| b.logs().matches("rebalance: partitions").count();
    let b_seen = b_rebalances(&b);
    a.signal("-KILL");
    let _ = a.finish(10);
    let a2 = start("a2", "t0-0");
    a2.wait_log("rebalance: partitions assigned", 30);
    let after = stable_group(&broker, "static", 2, || a2.logs());
    assert_eq!(
        partitions_of(&after, "t0-0"),
        partitions_of(&before, "t0-0"),
        "the restarted member holds its partitions again"
    );
    assert_eq!(
        partitions_of(&after, "t0-1"),
        partitions_of(&before, "t0-1")
    );
    produce(&broker, "ztf_static_programid1", &REST);
    // The 80 new alerts are on all four partitions, so each member gets
    // some; then both drain and leave.
    wait_until(
        "the new alerts consumed by both members",
        90,
        || services::committed_to_end(&broker, "static", "ztf_static_programid1"),
        || format!("{}\n{}", a2.logs(), b.logs()),
    );
    assert_eq!(
        b_rebalances(&b),
        b_seen,
        "B saw no rebalance while A was away: {}",
        b.logs()
    );
    assert_eq!(a2.term()["failed"], 0);
    assert_eq!(b.term()["failed"], 0);
    assert_eq!(services::sqlite_contents(dir.path(), "shared.sqlite"), want);
}

#[test]
fn a_second_process_with_the_same_instance_id_fences_the_first() {
    let test = "a_second_process_with_the_same_instance_id_fences_the_first";
    let Some(broker) = apache(test) else {
        return;
    };
    broker.create_topic("ztf_fenced_programid1", 2);
    produce(&broker, "ztf_fenced_programid1", &ALL[..1]);
    let dir = tempfile::tempdir().unwrap();
    let source = format!(
        "{{kafka: {{brokers: '{}', topics: [ztf_fenced_programid1], group: fenced}}}}",
        broker.brokers()
    );
    let j = job_with(dir.path(), &source, "store: {hot: memory}");
    let a = static_member(dir.path(), &j, "a", "t0-0");
    a.wait_log("rebalance: partitions assigned", 60);
    // A second pod of the same name (a mis-configured Deployment): the
    // coordinator hands the membership to it and fences the first, which
    // cannot go on and says so, exit 8.
    let b = static_member(dir.path(), &j, "b", "t0-0");
    b.wait_log("rebalance: partitions assigned", 60);
    let (status, _) = a.finish(60);
    let logs = std::fs::read_to_string(dir.path().join("a.log")).unwrap();
    assert_eq!(status.code(), Some(8), "{logs}");
    assert!(logs.contains("fatal consumer error"), "{logs}");
    assert_eq!(b.term()["failed"], 0);
}
