//! Scale-out on one machine, with real tansu and redis-server: three
//! `ampel run --no-t3` consumers in one consumer group and two `ampel
//! worker t2` processes on one topic must store exactly the archive that
//! one `ampel run` process stores from the same messages (stocks, their
//! channels and datapoints, states, T2 documents with their results). The
//! comparison and the timing are `ampel bench scale`'s; which layout is
//! faster is a benchmark figure (docs/scaling.md), not asserted here.

mod services;

use serde_json::Value;
use services::{repo_root, Redis, Tansu};
use std::process::Command;

fn bench_scale(job: &str, copies: &str, broker: &Tansu, redis: &Redis) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_ampel"))
        .current_dir(repo_root())
        .args(["bench", "scale", "--job", job, "--copies", copies])
        .args([
            "--partitions",
            "6",
            "--consumers",
            "3",
            "--t2-processes",
            "2",
        ])
        .args(["--brokers", &broker.brokers(), "--hot", &redis.url()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench scale failed: {stderr}");
    let report: Value = serde_json::from_str(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .expect("a report"),
    )
    .unwrap();
    eprintln!("{stderr}\n{report}");
    report
}

#[test]
fn three_consumers_and_two_t2_workers_store_what_one_process_stores() {
    let broker = Tansu::start();
    let redis = Redis::start();
    // The tutorial channel: tied T2 units (a decision waiting on two other
    // results), so dependencies resolve across worker processes.
    let r = bench_scale("config/tutorial/job.yml", "4", &broker, &redis);
    let alerts = r["alerts"].as_u64().unwrap();
    assert_eq!(alerts, 172 * 4);
    assert_eq!(r["single"]["alerts"], alerts, "one process consumed all");
    assert_eq!(
        r["scaled"]["alerts"], alerts,
        "the three consumers together consumed all"
    );
    assert_eq!(r["scaled"]["consumers"], 3);
    assert_eq!(r["scaled"]["t2_processes"], 2);
    assert!(r["stocks"].as_u64().unwrap() > 0);
    assert!(r["t2_documents"].as_u64().unwrap() > 0);
    assert_eq!(r["identical_archives"], true);
}

/// A catch-up consumer in a group ends only once the whole group has
/// committed up to the end: here another member holds every partition
/// without consuming (as a slow or dying peer would) and then leaves;
/// the catch-up run must wait for the rebalance, take those partitions
/// and store their alerts, instead of leaving idle with nothing done.
#[test]
fn a_catch_up_consumer_waits_for_partitions_its_group_has_not_consumed() {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use std::time::{Duration, Instant};

    let broker = Tansu::start();
    broker.create_topic("ztf_group", 2);
    let produced = services::produce(&broker, "ztf_group", &["ztf_public_20231018_v4.02.tar.gz"]);
    let dir = tempfile::tempdir().unwrap();
    let src = format!(
        "{{kafka: {{brokers: '{}', topics: [ztf_group], group: g1, stop_after_idle_seconds: 1}}}}",
        broker.brokers()
    );
    let job = services::job(dir.path(), &src);

    // The peer: joins group g1, takes both partitions, commits nothing.
    let peer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", broker.brokers())
        .set("group.id", "g1")
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "10000")
        .create()
        .unwrap();
    peer.subscribe(&["ztf_group"]).unwrap();
    let t = Instant::now();
    while peer.assignment().unwrap().count() < 2 {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the peer got no partitions"
        );
        let _ = peer.poll(Duration::from_millis(100));
    }
    // It leaves a few seconds after the catch-up run started.
    let leave = std::thread::spawn(move || {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(4) {
            let _ = peer.poll(Duration::from_millis(100));
        }
        peer.unsubscribe();
        drop(peer);
    });
    let summary = services::run_cli(dir.path(), &job, "sqlite:group.sqlite");
    leave.join().unwrap();
    assert_eq!(
        summary["alerts"], produced["produced"],
        "the run ended before its group had consumed the topic: {summary}"
    );
}
