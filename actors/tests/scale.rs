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
