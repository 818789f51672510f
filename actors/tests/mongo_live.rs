//! The design card's production configuration: Kafka + Redis + MongoDB.
//! The live runtime stores into MongoDB (the harness's SecantusDB, or the
//! server `AMPEL_TEST_MONGO_URI` names) what a replay stores into the
//! embedded archive, also when a consumer is killed with SIGKILL mid-stream
//! and a replacement takes over; and the README's main job gives the same
//! archive fingerprint in MongoDB as in the embedded archive.

mod services;

use ampel::store::{fingerprint, open_embedded};
use ampel_actors::store::MongoArchive;
use serde_json::Value;
use services::{data, job_with, produce, run_cli, spawn_run, Broker, Mongo, Redis, ALL, REST};
use std::path::Path;
use std::time::{Duration, Instant};

fn unique(db: &str) -> String {
    format!("{db}_{}", std::process::id())
}

fn mongo_contents(mongo: &Mongo, db: &str) -> Value {
    let a = MongoArchive::connect(&mongo.uri, Some(db)).unwrap();
    fingerprint(&a).unwrap()
}

fn kafka_source(broker: &str, topic: &str, group: &str) -> String {
    format!("{{kafka: {{brokers: '{broker}', topics: [{topic}], group: {group}}}}}")
}

#[test]
fn a_live_run_stores_into_mongodb_what_a_replay_stores() {
    let mongo = Mongo::start();
    let broker = Broker::start();
    broker.create_topic("ztf_mongo_programid1", 3);
    produce(&broker, "ztf_mongo_programid1", &ALL);
    let dir = tempfile::tempdir().unwrap();
    let j = job_with(
        dir.path(),
        &kafka_source(&broker.brokers(), "ztf_mongo_programid1", "m"),
        "store: {hot: memory}",
    );
    let db = unique("ampel_live");
    let mut run = spawn_run(dir.path(), "run", &j, &mongo.address(&db));
    run.wait_metric("ampel_alerts_consumed_total", &[], 252.0, 120);
    let summary = run.term();
    assert_eq!(summary["alerts"], 252, "{summary}");
    assert_eq!(summary["failed"], 0);
    assert_eq!(mongo_contents(&mongo, &db), services::replay_contents(&ALL));
}

#[test]
fn a_consumer_killed_mid_stream_on_mongodb_is_replaced_without_loss() {
    let mongo = Mongo::start();
    let redis = Redis::start();
    let broker = Broker::start();
    broker.create_topic("ztf_mongo_pair_programid1", 4);
    produce(&broker, "ztf_mongo_pair_programid1", &ALL[..1]);
    let dir = tempfile::tempdir().unwrap();
    let j = job_with(
        dir.path(),
        &kafka_source(&broker.brokers(), "ztf_mongo_pair_programid1", "mpair"),
        &format!(
            "store: {{hot: '{}'}}\nt2: {{reclaim_after_seconds: 2}}",
            redis.url()
        ),
    );
    let want = services::replay_contents(&ALL);
    let store = mongo.address(&unique("ampel_pair"));
    let mut a = spawn_run(dir.path(), "a", &j, &store);
    a.wait_metric("ampel_alerts_consumed_total", &[], 1.0, 60);
    let b = spawn_run(dir.path(), "b", &j, &store);
    // B holds partitions (with cooperative-sticky its first assignment is
    // empty; A commits what it hands over), the 172 are taken, and a
    // commit round has passed: the 80 produced after the kill are then
    // the only alerts B and C store.
    b.wait_log("rebalance: partitions assigned partitions=[\"", 60);
    let t = Instant::now();
    while a.consumed() + b.consumed() < 172.0 {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "172 not taken: {}",
            a.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(1));
    a.signal("-KILL");
    let _ = a.finish(10);
    produce(&broker, "ztf_mongo_pair_programid1", &REST);
    // The replacement (as a supervisor restarts a dead pod; see live.rs
    // for why tansu needs one to hand the dead member's partitions on).
    let c = spawn_run(dir.path(), "c", &j, &store);
    let t = Instant::now();
    loop {
        let b_now = b.consumed();
        let total = b_now + c.consumed();
        if total >= 80.0 && b_now >= 1.0 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "B and C took {total} of the 80 new alerts: {}\n{}",
            b.logs(),
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let (b, c) = (b.term(), c.term());
    assert_eq!(
        b["alerts"].as_u64().unwrap() + c["alerts"].as_u64().unwrap(),
        80,
        "each new alert once"
    );
    let db = store.rsplit('/').next().unwrap().to_string();
    assert_eq!(mongo_contents(&mongo, &db), want);
}

/// The README's main job (the tutorial), into MongoDB and into the
/// embedded archive: the same fingerprint.
#[test]
fn the_readme_job_into_mongodb_equals_the_embedded_archive() {
    let mongo = Mongo::start();
    let dir = tempfile::tempdir().unwrap();
    let job = tutorial(dir.path());
    let db = unique("ampel_tutorial");
    let m = run_cli(dir.path(), &job, &mongo.address(&db));
    let e = run_cli(dir.path(), &job, "sqlite:tutorial.sqlite");
    assert_eq!(m["alerts"], 172);
    assert_eq!(m["accepted"], e["accepted"]);
    let embedded = open_embedded(&format!(
        "sqlite:{}",
        dir.path().join("tutorial.sqlite").display()
    ))
    .unwrap();
    assert_eq!(mongo_contents(&mongo, &db), fingerprint(&embedded).unwrap());
}

/// The tutorial's files in `dir`, the alert path made absolute.
fn tutorial(dir: &Path) -> std::path::PathBuf {
    let src = services::repo_root().join("config/tutorial");
    for f in ["sn09ip_nu.yml", "neutrino_regions.yml"] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    let job = std::fs::read_to_string(src.join("job.yml"))
        .unwrap()
        .replace(
            "../../../shared/data/ztf/",
            &format!("{}/", data("").display()),
        );
    std::fs::write(dir.join("job.yml"), job).unwrap();
    dir.join("job.yml")
}
