//! The chaos findings, each with the test that failed before its fix:
//! T2 documents left RUNNING by a killed worker whose queue entries a Redis
//! restart erased are taken over from the archive; SIGTERM ends a catch-up
//! run within its bound; a catch-up run that leaves T2 work undone exits 7.

mod services;

use ampel::store::{code, open_embedded, Archive, SqliteArchive, T2Query, WriteOp};
use serde_json::Value;
use services::{
    data, job_with, produce, run_cli, spawn, spawn_run, Broker, Proc, Redis, ALL, REST,
};
use std::path::Path;
use std::time::{Duration, Instant};

fn archive(dir: &Path) -> SqliteArchive {
    open_embedded(&format!("sqlite:{}", dir.join("live.sqlite").display())).unwrap()
}

fn running(a: &dyn Archive) -> usize {
    a.t2(&T2Query {
        code: Some(code::RUNNING),
        ..Default::default()
    })
    .unwrap()
    .len()
}

/// A worker was SIGKILLed while its documents were RUNNING, and Redis was
/// restarted, so no pending entry remembers them: the archive is all that
/// knows. A T2 worker process takes them over once their claim is older
/// than `reclaim_after_seconds` and runs them to the same results.
#[test]
fn running_documents_of_a_dead_worker_are_taken_over_after_a_redis_restart() {
    let redis = Redis::start();
    let dir = tempfile::tempdir().unwrap();
    let source = format!(
        "{{paths: [{}]}}",
        data("ztf_public_20231018_v4.02.tar.gz").display()
    );
    let j = job_with(
        dir.path(),
        &source,
        &format!(
            "store: {{hot: '{}'}}\nt2: {{reclaim_after_seconds: 2}}",
            redis.url()
        ),
    );
    run_cli(dir.path(), &j, "sqlite:live.sqlite");
    let want = results(&archive(dir.path()));

    // What the dead worker left: documents back to NEW, then claimed (RUNNING)
    // ten minutes ago by a process that no longer exists.
    let mut a = archive(dir.path());
    let docs = a.t2(&T2Query::default()).unwrap();
    let keys: Vec<_> = docs.iter().take(20).map(|d| d.key()).collect();
    a.write(
        keys.iter()
            .map(|k| WriteOp::T2Code {
                key: k.clone(),
                code: code::NEW,
            })
            .collect(),
    )
    .unwrap();
    let past = ampel::run::now() - 600.0;
    assert_eq!(a.claim_t2_keys(&keys, past, false).unwrap().len(), 20);
    assert_eq!(running(&a), 20);
    drop(a);

    let w = spawn(
        dir.path(),
        "w",
        &[
            "worker",
            "t2",
            "--job",
            j.to_str().unwrap(),
            "--store",
            "sqlite:live.sqlite",
        ],
    );
    let t = Instant::now();
    while running(&archive(dir.path())) > 0 {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "documents still RUNNING after 60 s: {}",
            w.logs()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let summary = w.term();
    assert_eq!(summary["t2_runs"], 20, "{summary}");
    // The same results (the reset documents now carry two runs' bodies).
    assert_eq!(results(&archive(dir.path())), want);
}

/// Every T2 document's identity, code and latest body.
fn results(a: &dyn Archive) -> Value {
    a.t2(&T2Query::default())
        .unwrap()
        .iter()
        .map(|d| serde_json::json!([d.key(), d.code, d.latest_body()]))
        .collect()
}

/// A catch-up run whose T2 work nobody does (`t2: {workers: 0}` and no
/// worker process): the situation of a run whose workers died.
fn stalled_catch_up(dir: &Path, broker: &Broker, redis: &Redis, topic: &str, t2: &str) -> Proc {
    broker.create_topic(topic, 2);
    produce(broker, topic, &["ztf_public_20231018_v4.02.tar.gz"]);
    let j = job_with(
        dir,
        &format!(
            "{{kafka: {{brokers: '{}', topics: [{topic}], group: g, stop_after_idle_seconds: 1}}}}",
            broker.brokers()
        ),
        &format!("store: {{hot: '{}'}}\nt2: {t2}", redis.url()),
    );
    spawn_run(dir, "run", &j, "sqlite:live.sqlite")
}

/// SIGTERM ends a catch-up run within the documented bound (30 s of T2
/// waiting), even while it waits for T2 work at its end (it waited up to
/// 3,600 s), with exit 0: the work runs at the next start.
#[test]
fn sigterm_ends_a_catch_up_run_waiting_for_t2_within_the_bound() {
    let (redis, broker) = (Redis::start(), Broker::start());
    let dir = tempfile::tempdir().unwrap();
    let run = stalled_catch_up(
        dir.path(),
        &broker,
        &redis,
        "ztf_stall_programid1",
        "{workers: 0}",
    );
    run.wait_log("stopping: storing and committing", 90);
    std::thread::sleep(Duration::from_secs(2));
    run.signal("-TERM");
    let t = Instant::now();
    let (status, summary) = run.finish(60);
    let took = t.elapsed();
    assert!(
        took < Duration::from_secs(45),
        "exited {took:?} after SIGTERM"
    );
    assert!(status.success(), "{status}: {summary}");
    assert_eq!(summary["alerts"], 172);
}

/// A catch-up run that ends with T2 work it owns undone exits 7, not 0
/// (it exited 0 with 64 documents NEW).
#[test]
fn a_catch_up_run_leaving_t2_work_undone_exits_7() {
    let (redis, broker) = (Redis::start(), Broker::start());
    let dir = tempfile::tempdir().unwrap();
    let run = stalled_catch_up(
        dir.path(),
        &broker,
        &redis,
        "ztf_undone_programid1",
        "{workers: 0, catch_up_wait_seconds: 3}",
    );
    let (status, summary) = run.finish(120);
    assert_eq!(status.code(), Some(7), "{summary}");
    let left = archive(dir.path())
        .t2(&T2Query {
            code: Some(code::NEW),
            ..Default::default()
        })
        .unwrap()
        .len();
    assert!(
        left > 0,
        "the undone work is still there for the next start"
    );
}

/// A job name reused with a fresh archive and the same Redis stores every
/// alert (it stored 0 of 5,160, all taken for duplicates): hot-state keys
/// are scoped by the archive's id as well as the job's name.
#[test]
fn a_job_name_reused_with_a_fresh_archive_stores_everything() {
    let redis = Redis::start();
    let dir = tempfile::tempdir().unwrap();
    let source = format!(
        "{{paths: [{}]}}",
        data("ztf_public_20231018_v4.02.tar.gz").display()
    );
    let j = job_with(
        dir.path(),
        &source,
        &format!("store: {{hot: '{}'}}", redis.url()),
    );
    let first = run_cli(dir.path(), &j, "sqlite:first.sqlite");
    let second = run_cli(dir.path(), &j, "sqlite:second.sqlite");
    assert_eq!(first["alerts"], 172);
    assert_eq!(second["accepted"], first["accepted"], "{second}");
    let open =
        |f: &str| open_embedded(&format!("sqlite:{}", dir.path().join(f).display())).unwrap();
    assert_eq!(
        services::contents(&open("second.sqlite")),
        services::contents(&open("first.sqlite"))
    );
    // The same archive again: its alerts are recognised as seen.
    let again = run_cli(dir.path(), &j, "sqlite:first.sqlite");
    assert_eq!(again["duplicates"], 172, "{again}");
}

/// A run killed with SIGKILL cannot finish its record; the next run on the
/// archive closes it (ERROR, with a note), instead of leaving it "running"
/// for ever.
#[test]
fn a_killed_runs_record_is_closed_by_the_next_run() {
    let broker = Broker::start();
    broker.create_topic("ztf_dead_programid1", 2);
    produce(
        &broker,
        "ztf_dead_programid1",
        &["ztf_public_20231018_v4.02.tar.gz"],
    );
    let dir = tempfile::tempdir().unwrap();
    let live = job_with(
        dir.path(),
        &format!(
            "{{kafka: {{brokers: '{}', topics: [ztf_dead_programid1], group: d}}}}",
            broker.brokers()
        ),
        "store: {hot: memory}",
    );
    let mut run = spawn_run(dir.path(), "run", &live, "sqlite:live.sqlite");
    run.wait_metric("ampel_alerts_consumed_total", &[], 172.0, 90);
    run.signal("-KILL");
    let _ = run.finish(10);
    let events = archive(dir.path()).events().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].code,
        code::RUNNING,
        "the killed run could not close it"
    );

    let replay = job_with(
        dir.path(),
        &format!(
            "{{paths: [{}]}}",
            data("ztf_public_20180819_mod1000.tar.gz").display()
        ),
        "",
    );
    run_cli(dir.path(), &replay, "sqlite:live.sqlite");
    let events = archive(dir.path()).events().unwrap();
    let dead = events.iter().find(|e| e.run == events[0].run).unwrap();
    assert_eq!(dead.code, code::ERROR, "{dead:?}");
    assert!(
        dead.note.as_deref().unwrap_or_default().contains("died"),
        "{dead:?}"
    );
    assert!(dead.end.is_some());
    assert!(events.iter().all(|e| e.code != code::RUNNING), "{events:?}");
}

/// The chaos scenario, on Apache Kafka: two consumers of one group (Redis
/// hot state and T2 queue), one killed with SIGKILL after the first alerts,
/// Redis restarted (empty) mid-stream, the other consumer killed later;
/// each replaced, as a supervisor would. The archive ends equal to a clean
/// replay's, with no T2 document left RUNNING or NEW and every run record
/// closed. (tansu is left out: a restarted lone member gets no partitions
/// there, and its fetches skip messages; see failover.rs and services.)
#[test]
fn kills_and_a_redis_restart_end_like_a_clean_run() {
    if !services::apache_kafka() {
        eprintln!("kills_and_a_redis_restart_end_like_a_clean_run: Apache Kafka only (AMPEL_TEST_KAFKA=apache; tests/run runs it)");
        return;
    }
    let mut redis = Redis::start();
    let broker = Broker::start();
    let topic = "ztf_chaos_programid1";
    broker.create_topic(topic, 4);
    let dir = tempfile::tempdir().unwrap();
    // The first two run live (until killed); their replacements catch up
    // and end once the group has committed everything.
    let job = |idle: &str| {
        job_with(
            dir.path(),
            &format!(
                "{{kafka: {{brokers: '{}', topics: [{topic}], group: chaos{idle}}}}}",
                broker.brokers()
            ),
            &format!(
                "store: {{hot: '{}'}}\nt2: {{reclaim_after_seconds: 3, catch_up_wait_seconds: 120}}",
                redis.url()
            ),
        )
    };
    let (live, catch_up) = (job(""), job(", stop_after_idle_seconds: 4"));
    let want = services::replay_contents(&ALL);
    let start = |name: &str| {
        let j = if name.ends_with('2') {
            &catch_up
        } else {
            &live
        };
        spawn_run(dir.path(), name, j, "sqlite:live.sqlite")
    };
    produce(&broker, topic, &ALL[..1]);
    let a = start("a");
    let b = start("b");
    // Kill point 1: A holds partitions and the group has started.
    a.wait_log("rebalance: partitions assigned", 90);
    let t = Instant::now();
    while a.consumed() + b.consumed() < 1.0 {
        assert!(t.elapsed() < Duration::from_secs(90), "{}", a.logs());
        std::thread::sleep(Duration::from_millis(100));
    }
    a.signal("-KILL");
    let _ = a.finish(10);
    let a2 = start("a2");
    produce(&broker, topic, &REST);
    let t = Instant::now();
    while b.consumed() + a2.consumed() < 10.0 {
        assert!(t.elapsed() < Duration::from_secs(90), "{}", b.logs());
        std::thread::sleep(Duration::from_millis(200));
    }
    redis.restart(); // seen alerts, stock memos and the T2 queue are gone
    produce(&broker, topic, &ALL[..1]); // redelivered copies
    b.signal("-KILL"); // kill point 2
    let _ = b.finish(10);
    let b2 = start("b2");
    for p in [a2, b2] {
        let (status, summary) = p.finish(240);
        assert!(status.success(), "{status}: {summary}");
    }

    let a = archive(dir.path());
    assert_eq!(
        services::contents(&a),
        want,
        "the archive equals a clean run's"
    );
    for c in [code::RUNNING, code::NEW] {
        let left = a
            .t2(&T2Query {
                code: Some(c),
                ..Default::default()
            })
            .unwrap();
        assert!(
            left.is_empty(),
            "{} T2 documents {}",
            left.len(),
            code::name(c)
        );
    }
    let events = a.events().unwrap();
    assert_eq!(events.len(), 4);
    assert!(
        events.iter().all(|e| e.code != code::RUNNING),
        "every run record closed: {events:?}"
    );
    assert_eq!(
        events.iter().filter(|e| e.note.is_some()).count(),
        2,
        "the two killed"
    );
}
