//! The live runtime against real services, with faults: a broker killed
//! (-9) and restarted, a consumer killed while another shares its group, a
//! Redis restarted mid-stream, brokers unreachable at start, a poison
//! message, a unit that panics, backpressure, and T2 work shared with
//! separate `ampel worker t2` processes. Every end state is compared with
//! a replay of the same alerts: same stocks, datapoints, states and T2
//! results, nothing lost and nothing stored twice.

mod services;

use ampel::store::{open_embedded, Archive};
use services::{
    contents, data, job, job_with, metric, produce, run_cli, spawn, spawn_run, Broker, Redis, ALL,
    REST,
};
use std::path::Path;
use std::time::{Duration, Instant};

fn archive(dir: &Path, file: &str) -> ampel::store::SqliteArchive {
    open_embedded(&format!("sqlite:{}", dir.join(file).display())).unwrap()
}

fn kafka_source(broker: &str, topic: &str, group: &str, extra: &str) -> String {
    format!("{{kafka: {{brokers: '{broker}', topics: [{topic}], group: {group}{extra}}}}}")
}

#[test]
fn a_broker_killed_mid_stream_loses_and_duplicates_nothing() {
    let storage = tempfile::tempdir().unwrap();
    let mut broker = Broker::start_persistent(storage.path());
    broker.create_topic("ztf_kill_programid1", 3);
    produce(&broker, "ztf_kill_programid1", &ALL[..1]);
    let dir = tempfile::tempdir().unwrap();
    let j = job_with(
        dir.path(),
        &kafka_source(&broker.brokers(), "ztf_kill_programid1", "k", ""),
        "store: {hot: memory}",
    );
    let mut run = spawn_run(dir.path(), "run", &j, "sqlite:live.sqlite");
    run.wait_metric("ampel_alerts_consumed_total", &[], 172.0, 60);
    broker.kill9();
    std::thread::sleep(Duration::from_secs(2));
    broker.restart();
    produce(&broker, "ztf_kill_programid1", &REST);
    run.wait_metric("ampel_alerts_consumed_total", &[], 252.0, 120);
    let summary = run.term();
    assert_eq!(summary["alerts"], 252, "every alert exactly once");
    assert_eq!(summary["failed"], 0);
    assert_eq!(
        contents(&archive(dir.path(), "live.sqlite")),
        services::replay_contents(&ALL)
    );
}

#[test]
fn a_killed_consumers_partitions_are_taken_over_without_loss() {
    let redis = Redis::start();
    let broker = Broker::start();
    broker.create_topic("ztf_pair_programid1", 4);
    produce(&broker, "ztf_pair_programid1", &ALL[..1]);
    let dir = tempfile::tempdir().unwrap();
    let j = job_with(
        dir.path(),
        &kafka_source(&broker.brokers(), "ztf_pair_programid1", "pair", ""),
        &format!(
            "store: {{hot: '{}'}}\nt2: {{reclaim_after_seconds: 2}}",
            redis.url()
        ),
    );
    let want = services::replay_contents(&ALL);
    let mut a = spawn_run(dir.path(), "a", &j, "sqlite:shared.sqlite");
    a.wait_metric("ampel_alerts_consumed_total", &[], 1.0, 60);
    let b = spawn_run(dir.path(), "b", &j, "sqlite:shared.sqlite");
    // B joins: the group rebalances, A hands over (stored, committed).
    b.wait_log("rebalance: partitions assigned", 60);
    a.signal("-KILL");
    let _ = a.finish(10);
    produce(&broker, "ztf_pair_programid1", &REST);
    // A replacement joins, as a supervisor restarts a dead pod. (tansu 0.6
    // does not hand a dead member's partitions to the surviving member on
    // its own: after the session timeout it rebalances to the old split;
    // the next join redistributes them.) The 80 new alerts are spread over
    // all four partitions: B and C only get them all by taking over A's.
    let c = spawn_run(dir.path(), "c", &j, "sqlite:shared.sqlite");
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
    assert_eq!(contents(&archive(dir.path(), "shared.sqlite")), want);
}

#[test]
fn a_redis_restart_mid_stream_is_survived() {
    let mut redis = Redis::start();
    let broker = Broker::start();
    broker.create_topic("ztf_redis_programid1", 3);
    produce(&broker, "ztf_redis_programid1", &ALL[..1]);
    let dir = tempfile::tempdir().unwrap();
    let j = job_with(
        dir.path(),
        &kafka_source(&broker.brokers(), "ztf_redis_programid1", "r", ""),
        &format!("store: {{hot: '{}'}}", redis.url()),
    );
    let mut run = spawn_run(dir.path(), "run", &j, "sqlite:live.sqlite");
    run.wait_metric("ampel_alerts_consumed_total", &[], 172.0, 60);
    redis.restart(); // empty: seen alerts and the T2 queue are gone
    produce(&broker, "ztf_redis_programid1", &REST);
    run.wait_metric("ampel_alerts_consumed_total", &[], 252.0, 60);
    let summary = run.term();
    assert_eq!(summary["alerts"], 252);
    assert_eq!(
        contents(&archive(dir.path(), "live.sqlite")),
        services::replay_contents(&ALL)
    );
}

#[test]
fn unreachable_brokers_at_start_are_waited_for() {
    let port = services::free_port();
    let dir = tempfile::tempdir().unwrap();
    let j = job(
        dir.path(),
        &kafka_source(
            &format!("127.0.0.1:{port}"),
            "ztf_late_programid1",
            "late",
            ", properties: {topic.metadata.refresh.interval.ms: '1000'}",
        ),
    );
    let mut run = spawn_run(dir.path(), "run", &j, "sqlite:live.sqlite");
    run.wait_log("retrying with back-off", 30);
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        run.child.try_wait().unwrap().is_none(),
        "a live run does not exit while its brokers are away"
    );
    let broker = Broker::start_on(port);
    broker.create_topic("ztf_late_programid1", 2);
    produce(&broker, "ztf_late_programid1", &ALL[..1]);
    run.wait_metric("ampel_alerts_consumed_total", &[], 172.0, 90);
    let summary = run.term();
    assert_eq!(summary["alerts"], 172);
}

#[test]
fn a_poison_message_becomes_a_dead_letter_and_the_stream_goes_on() {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let broker = Broker::start();
    broker.create_topic("ztf_poison_programid1", 1);
    let p: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", broker.brokers())
        .create()
        .unwrap();
    p.send(
        BaseRecord::to("ztf_poison_programid1")
            .key("x")
            .payload(b"Obj\x01 not really avro"),
    )
    .unwrap();
    p.flush(Duration::from_secs(10)).unwrap();
    produce(&broker, "ztf_poison_programid1", &ALL[..1]);
    let dir = tempfile::tempdir().unwrap();
    let j = job(
        dir.path(),
        &kafka_source(
            &broker.brokers(),
            "ztf_poison_programid1",
            "p",
            ", stop_after_idle_seconds: 4",
        ),
    );
    let mut run = spawn_run(dir.path(), "run", &j, "sqlite:live.sqlite");
    run.wait_metric(
        "ampel_dead_letters_total",
        &[("reason", "unreadable")],
        1.0,
        60,
    );
    let (st, summary) = run.finish(60);
    assert_eq!(st.code(), Some(3), "a run with a dead letter says so");
    assert_eq!(
        (summary["alerts"].as_u64(), summary["failed"].as_u64()),
        (Some(172), Some(1))
    );
    let troubles = archive(dir.path(), "live.sqlite").troubles().unwrap();
    assert_eq!(troubles.len(), 1);
    assert_eq!(
        troubles[0]["origin"],
        "kafka:ztf_poison_programid1 [member partition 0 offset 0]"
    );
    assert!(troubles[0]["payload_base64"].is_string(), "{}", troubles[0]);
}

#[test]
fn a_panicking_filter_restarts_its_actor_and_the_rest_goes_on() {
    // The object with the most alerts in the sample.
    let d = ampel::AlertDecoder::new();
    let mut names = std::collections::BTreeMap::<String, u64>::new();
    ampel::source::for_each_alert(&[data(ALL[0])], |m| {
        for a in d.decode(m.unwrap().bytes).unwrap() {
            *names.entry(a.name).or_default() += 1;
        }
        std::ops::ControlFlow::Continue(())
    });
    let (victim, n) = names.into_iter().max_by_key(|(_, n)| *n).unwrap();
    let broker = Broker::start();
    broker.create_topic("ztf_panic_programid1", 2);
    produce(&broker, "ztf_panic_programid1", &ALL[..1]);
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("job.yml");
    std::fs::write(
        &j,
        format!(
            "name: panics\nsource: {}\nchannels:\n\
             - {{channel: F, access: [ZTF, ZTF_PUB], t0_filter: {{unit: FaultInjectionFilter, config: {{panic_on: [{victim}]}}}}, t2_compute: [{{unit: T2LightCurveSummary}}]}}\n\
             - {{channel: S, access: [ZTF, ZTF_PUB], t0_filter: {{unit: FaultInjectionFilter, config: {{panic_on: []}}}}, t2_compute: [{{unit: T2LightCurveSummary}}]}}\n",
            kafka_source(&broker.brokers(), "ztf_panic_programid1", "f", ", stop_after_idle_seconds: 4")
        ),
    )
    .unwrap();
    let mut run = spawn_run(dir.path(), "run", &j, "sqlite:live.sqlite");
    run.wait_metric("ampel_alerts_consumed_total", &[], 172.0, 60);
    run.wait_metric(
        "ampel_actor_restarts_total",
        &[("actor", "channel_filter")],
        n as f64,
        30,
    );
    let s = run.scrape().unwrap();
    assert_eq!(
        metric(
            &s,
            "ampel_actor_restarts_total",
            &[("actor", "channel_filter")]
        ),
        n as f64,
        "one restart per panic"
    );
    assert_eq!(
        metric(
            &s,
            "ampel_dead_letters_total",
            &[("reason", "filter_panic")]
        ),
        n as f64
    );
    let (st, summary) = run.finish(60);
    assert!(st.success());
    assert_eq!(summary["alerts"], 172);
    assert_eq!(summary["accepted"]["F"], 172 - n, "all but the victim's");
    assert_eq!(
        summary["accepted"]["S"], 172,
        "the other channel saw everything"
    );
    let troubles = archive(dir.path(), "live.sqlite").troubles().unwrap();
    assert_eq!(troubles.len() as u64, n);
    assert!(troubles[0]["error"]
        .as_str()
        .unwrap()
        .contains("channel F: filter panicked"));
}

/// A live run of the first file's 172 alerts with an in-flight window of
/// 20 and `extra` Kafka settings: the bound holds and nothing is lost.
/// Answers the run's log.
fn run_with_small_window(name: &str, extra: &str) -> String {
    let broker = Broker::start();
    let topic = format!("ztf_{name}_programid1");
    broker.create_topic(&topic, 2);
    produce(&broker, &topic, &ALL[..1]);
    let dir = tempfile::tempdir().unwrap();
    let settings = format!(", stop_after_idle_seconds: 4, max_in_flight: 20{extra}");
    let j = job(
        dir.path(),
        &kafka_source(&broker.brokers(), &topic, name, &settings),
    );
    let run = spawn_run(dir.path(), "run", &j, "sqlite:live.sqlite");
    let log = run.log.clone();
    let (st, summary) = run.finish(120);
    assert!(st.success());
    let logs = std::fs::read_to_string(log).unwrap();
    let peak = summary["in_flight_peak"].as_u64().unwrap();
    assert!(
        peak <= 20,
        "at most max_in_flight taken and not stored: {peak}"
    );
    assert_eq!(summary["alerts"], 172);
    assert_eq!(
        contents(&archive(dir.path(), "live.sqlite")),
        services::replay_contents(&ALL[..1])
    );
    logs
}

#[test]
fn backpressure_pauses_the_consumer_and_loses_nothing() {
    let logs = run_with_small_window("bp", ", pause_after_seconds: 0");
    assert!(logs.contains("partitions paused"), "{logs}");
    assert!(logs.contains("partitions resumed"), "{logs}");
}

/// With the default `pause_after_seconds`, a window that fills and drains
/// between archive writes holds the consumer back without pausing (a
/// pause drops librdkafka's prefetch): the bound holds all the same.
#[test]
fn a_full_window_holds_the_consumer_back_without_pausing() {
    let logs = run_with_small_window("hold", "");
    assert!(!logs.contains("partitions paused"), "{logs}");
}

#[test]
fn t2_work_is_shared_with_worker_processes_through_redis() {
    let redis = Redis::start();
    let broker = Broker::start();
    broker.create_topic("ztf_workers_programid1", 2);
    produce(&broker, "ztf_workers_programid1", &ALL[..1]);
    let dir = tempfile::tempdir().unwrap();
    let j = job_with(
        dir.path(),
        &kafka_source(
            &broker.brokers(),
            "ztf_workers_programid1",
            "w",
            ", stop_after_idle_seconds: 4",
        ),
        &format!("store: {{hot: '{}'}}\nt2: {{workers: 0}}", redis.url()),
    );
    let js = j.to_str().unwrap();
    let w1 = spawn(
        dir.path(),
        "w1",
        &[
            "worker",
            "t2",
            "--job",
            js,
            "--store",
            "sqlite:live.sqlite",
            "--threads",
            "2",
        ],
    );
    let w2 = spawn(
        dir.path(),
        "w2",
        &[
            "worker",
            "t2",
            "--job",
            js,
            "--store",
            "sqlite:live.sqlite",
            "--threads",
            "1",
        ],
    );
    let run = spawn_run(dir.path(), "run", &j, "sqlite:live.sqlite");
    let (st, summary) = run.finish(120);
    assert!(st.success());
    assert_eq!(summary["t2_runs"], 0, "this process runs no T2 itself");
    let runs: u64 = [w1.term(), w2.term()]
        .iter()
        .map(|s| s["t2_runs"].as_u64().unwrap())
        .sum();
    let docs: u64 = summary["t2"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert!(summary["t2"]["OK"].as_u64().unwrap() > 0);
    assert_eq!(
        runs, docs,
        "each document ran once, in the worker processes"
    );
    assert_eq!(
        contents(&archive(dir.path(), "live.sqlite")),
        services::replay_contents(&ALL[..1])
    );
}

#[test]
fn scheduled_t3_processes_run_while_live() {
    let broker = Broker::start();
    broker.create_topic("ztf_t3_programid1", 1);
    produce(&broker, "ztf_t3_programid1", &ALL[..1]);
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("job.yml");
    std::fs::write(
        &j,
        format!(
            "name: scheduled\nsource: {}\nchannels:\n\
             - {{channel: ALL, access: [ZTF, ZTF_PUB], t0_filter: {{unit: FaultInjectionFilter, config: {{panic_on: []}}}},\n   \
             t2_compute: [{{unit: T2LightCurveSummary}}],\n   \
             t3_supervise: [{{name: tick, schedule: every 1 second, run: [{{unit: T3LogSummary}}]}}]}}\n",
            kafka_source(&broker.brokers(), "ztf_t3_programid1", "t3", "")
        ),
    )
    .unwrap();
    let mut run = spawn_run(dir.path(), "run", &j, "sqlite:live.sqlite");
    run.wait_metric("ampel_alerts_consumed_total", &[], 172.0, 60);
    run.wait_metric("ampel_t3_runs_total", &[("process", "ALL:tick")], 3.0, 60);
    let summary = run.term();
    assert!(summary["t3_runs"].as_u64().unwrap() >= 3, "{summary}");
    let t3 = archive(dir.path(), "live.sqlite").t3(None).unwrap();
    assert!(t3.len() >= 3);
}

#[test]
fn the_tutorial_runs_live_as_its_job_file_says() {
    let redis = Redis::start();
    let broker = Broker::start();
    broker.create_topic("ztf_20231018_programid1", 3);
    produce(&broker, "ztf_20231018_programid1", &ALL[..1]);
    let dir = tempfile::tempdir().unwrap();
    let j = services::tutorial_live_job(dir.path(), &broker, &redis, 4, |c| c);
    let s = run_cli(dir.path(), &j, "sqlite:live.sqlite");
    assert_eq!(s["alerts"], 172);
    assert_eq!(s["accepted"]["DEMO_SN09IP_NU"], 10, "{s}");
    let selected = std::fs::read_to_string(dir.path().join("tutorial_selected.jsonl")).unwrap();
    assert!(selected.contains("ZTF23abfcbgc"), "{selected}");
}
