//! Scale-out on one machine, with real tansu and redis-server: three
//! `ampel run --no-t3` consumers in one consumer group and two `ampel
//! worker t2` processes on one topic must store exactly the archive that
//! one `ampel run` process stores from the same messages (stocks, their
//! channels and datapoints, states, T2 documents with their results). The
//! comparison and the timing are `ampel bench scale`'s; which layout is
//! faster is a benchmark figure (docs/scaling.md), not asserted here.

mod services;

use serde_json::Value;
use services::{repo_root, Broker, Redis};

fn bench_scale(job: &str, copies: &str, broker: &Broker, redis: &Redis) -> Value {
    let out = services::ampel()
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
    let broker = Broker::start();
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
    // The bench produces once the group is stable: each consumer has a share.
    let shares: Vec<u64> = r["scaled"]["per_consumer"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect();
    assert!(
        shares.len() == 3 && shares.iter().all(|&n| n > 0),
        "{shares:?}"
    );
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

    let broker = Broker::start();
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

/// The cluster's layout on one machine (k8s/base): consumers that leave T2
/// and T3 elsewhere (`ampel run --no-t3 --t2-workers 0`), a T2 worker
/// process, and `ampel worker t3`, whose T3 process (no schedule: it runs
/// after new T2 results, read from the archive) selects the tutorial's
/// transient. The consumers run no T3 themselves.
#[test]
fn t3_runs_in_its_own_worker_after_t2_results_in_other_processes() {
    use std::time::{Duration, Instant};

    let redis = Redis::start();
    let broker = Broker::start();
    broker.create_topic("ztf_20231018_programid1", 3);
    services::produce(
        &broker,
        "ztf_20231018_programid1",
        &["ztf_public_20231018_v4.02.tar.gz"],
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // No schedule: the T3 process runs after new T2 results.
    let j = services::tutorial_live_job(d, &broker, &redis, 3, |c| {
        c.replace("    schedule: every 10 minutes\n", "")
    });
    let jf = j.to_str().unwrap();
    let store = ["--store", "sqlite:live.sqlite"];

    let t2 = services::spawn(
        d,
        "t2",
        &[&["worker", "t2", "--job", jf, "--threads", "1"][..], &store].concat(),
    );
    let mut t3 = services::spawn(
        d,
        "t3",
        &[&["worker", "t3", "--job", jf][..], &store].concat(),
    );
    let s = services::run_cli_with(
        d,
        &j,
        &[&store[..], &["--no-t3", "--t2-workers", "0"]].concat(),
    );
    assert_eq!(s["alerts"], 172);
    assert_eq!(s["accepted"]["DEMO_SN09IP_NU"], 10, "{s}");
    assert_eq!(s["t3_runs"], 0, "the consumer ran T3: {s}");

    t3.wait_metric("ampel_t3_runs_total", &[], 1.0, 60);
    let selected = d.join("tutorial_selected.jsonl");
    let t = Instant::now();
    while !std::fs::read_to_string(&selected).is_ok_and(|s| s.contains("ZTF23abfcbgc")) {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "T3 selected nothing: {}",
            t3.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let t3_summary = t3.term();
    assert!(t3_summary["t3_runs"].as_u64().unwrap() >= 1, "{t3_summary}");
    let t2_summary = t2.term();
    assert!(
        t2_summary["t2_runs"].as_u64().unwrap() >= 40,
        "{t2_summary}"
    );
}
