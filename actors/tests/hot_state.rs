//! Hot state (alert de-duplication): the same behaviour in memory and in a
//! real Redis; a Redis restart is survived; alerts redelivered from Kafka
//! are skipped instead of processed twice.

mod services;

use ampel::hot::{HotState, InProcessHotState, InProcessT2Queue, T2Queue};
use ampel::store::T2Key;
use ampel_actors::hot::{open_hot, RedisHotState, RedisT2Queue};
use serde_json::Value;
use services::{produce, run_cli_with, Broker, Redis};
use std::path::Path;
use std::time::Duration;

fn conforms(h: &mut dyn HotState) {
    assert_eq!(h.seen(&[1, 2, -3]).unwrap(), [false, false, false]);
    h.mark_seen(&[1, -3]).unwrap();
    assert_eq!(h.seen(&[1, 2, -3]).unwrap(), [true, false, true]);
    h.mark_seen(&[]).unwrap();
    assert!(h.seen(&[]).unwrap().is_empty());
}

#[test]
fn memory_and_redis_behave_alike() {
    conforms(&mut InProcessHotState::default());
    let redis = Redis::start();
    let mut r = RedisHotState::connect(&redis.url(), "job-a").unwrap();
    conforms(&mut r);
    // Shared between processes of a job, separate between jobs.
    assert_eq!(
        RedisHotState::connect(&redis.url(), "job-a")
            .unwrap()
            .seen(&[1])
            .unwrap(),
        [true]
    );
    assert_eq!(
        RedisHotState::connect(&redis.url(), "job-b")
            .unwrap()
            .seen(&[1])
            .unwrap(),
        [false]
    );
    assert!(open_hot("memory", "x").is_ok());
    assert!(open_hot("nonsense", "x")
        .err()
        .unwrap()
        .to_string()
        .contains("expected `memory`"));
}

fn key(unit: &str, link: i64) -> T2Key {
    T2Key {
        stock: 7,
        unit: unit.into(),
        config: 1,
        link,
    }
}

/// Two handles on one queue (two workers): each entry goes to one of them,
/// with its stream time; depth counts entries until acknowledged.
fn queue_conforms(a: &mut dyn T2Queue, b: &mut dyn T2Queue) {
    a.push(&[
        (key("U", 1), Some(1.5)),
        (key("U", 2), None),
        (key("V", 1), None),
    ])
    .unwrap();
    let first = a.pop(2, Duration::from_millis(100)).unwrap();
    let second = b.pop(10, Duration::from_millis(100)).unwrap();
    assert_eq!(first.len() + second.len(), 3);
    let mut keys: Vec<T2Key> = first.iter().chain(&second).map(|e| e.key.clone()).collect();
    keys.sort();
    assert_eq!(keys, [key("U", 1), key("U", 2), key("V", 1)]);
    let one = first
        .iter()
        .chain(&second)
        .find(|e| e.key == key("U", 1))
        .unwrap();
    assert_eq!(one.since, Some(1.5));
    assert!(first.iter().chain(&second).all(|e| !e.reclaimed));
    assert_eq!(
        a.depth().unwrap().values().sum::<u64>(),
        3,
        "in work still counts"
    );
    a.ack(&first).unwrap();
    b.ack(&second).unwrap();
    assert!(a.depth().unwrap().is_empty());
    assert!(a.pop(5, Duration::from_millis(50)).unwrap().is_empty());
}

#[test]
fn t2_queues_behave_alike_and_redis_reclaims_a_dead_workers_entries() {
    let local = InProcessT2Queue::default();
    queue_conforms(&mut local.clone(), &mut local.clone());
    let redis = Redis::start();
    let units = ["U".to_string(), "V".to_string()];
    let reclaim = Duration::from_millis(300);
    let mut a = RedisT2Queue::connect(&redis.url(), "q", &units, reclaim).unwrap();
    let mut b = RedisT2Queue::connect(&redis.url(), "q", &units, reclaim).unwrap();
    queue_conforms(&mut a, &mut b);

    // A worker takes an entry and dies without acknowledging it: after the
    // reclaim time another worker gets it, marked as reclaimed.
    a.push(&[(key("U", 9), None)]).unwrap();
    let taken = a.pop(1, Duration::from_millis(100)).unwrap();
    assert_eq!(taken.len(), 1);
    drop(a);
    std::thread::sleep(Duration::from_millis(400));
    let again = b.pop(5, Duration::from_millis(100)).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].key, key("U", 9));
    assert!(again[0].reclaimed);
    b.ack(&again).unwrap();
    assert!(b.depth().unwrap().is_empty());
}

#[test]
fn redis_stock_memos_merge_between_processes() {
    use ampel::hot::StockMemo;
    let redis = Redis::start();
    let mut a = RedisHotState::connect(&redis.url(), "memo").unwrap();
    let mut b = RedisHotState::connect(&redis.url(), "memo").unwrap();
    assert_eq!(a.stock_memos(&[5, 6]).unwrap(), [None, None]);
    let memo = |ch: &str, id: i64, tag: &str| StockMemo {
        channels: vec![ch.into()],
        datapoints: vec![(id, vec![tag.into()])],
    };
    a.remember_stocks(&[(5, memo("A", -1, "ZTF"))]).unwrap();
    b.remember_stocks(&[(5, memo("B", 2, "ZTF_PUB"))]).unwrap();
    assert_eq!(
        a.stock_memos(&[5, 6]).unwrap(),
        [
            Some(StockMemo {
                channels: vec!["A".into(), "B".into()],
                datapoints: vec![(-1, vec!["ZTF".into()]), (2, vec!["ZTF_PUB".into()])],
            }),
            None
        ]
    );
    assert!(InProcessHotState::default()
        .stock_memos(&[5])
        .unwrap()
        .iter()
        .all(Option::is_none));
}

#[test]
fn a_redis_restart_is_survived() {
    let mut redis = Redis::start();
    let mut r = RedisHotState::connect(&redis.url(), "j").unwrap();
    r.mark_seen(&[7]).unwrap();
    redis.stop();
    assert!(r.seen(&[7]).is_err(), "an outage is reported, not hidden");
    redis.restart();
    // Reconnected; the restarted (empty) Redis forgot: nothing else is lost.
    assert_eq!(r.seen(&[7]).unwrap(), [false]);
    r.mark_seen(&[8]).unwrap();
    assert_eq!(r.seen(&[8]).unwrap(), [true]);
}

fn run(dir: &Path, group: &str, broker: &Broker, hot: &str) -> Value {
    let job = dir.join(format!("{group}.yml"));
    std::fs::write(
        &job,
        format!(
            "name: dedup\nsource: {{kafka: {{brokers: '{}', topics: [ztf_dedup], group: {group}, stop_after_idle_seconds: 4}}}}\nchannels: [{{channel: A, access: [ZTF, ZTF_PUB], t0_filter: {{unit: SimpleDecentFilter, config: {{min_ndet: 1}}}}, t2_compute: [{{unit: T2LightCurveSummary}}]}}]\n",
            broker.brokers()
        ),
    )
    .unwrap();
    if group == "first" {
        produce(broker, "ztf_dedup", &["ztf_public_20231018_v4.02.tar.gz"]);
    }
    run_cli_with(dir, &job, &["--store", "sqlite:d.sqlite", "--hot", hot])
}

#[test]
fn redelivered_alerts_are_skipped() {
    let broker = Broker::start();
    broker.create_topic("ztf_dedup", 2);
    let redis = Redis::start();
    let dir = tempfile::tempdir().unwrap();
    let first = run(dir.path(), "first", &broker, &redis.url());
    assert_eq!(
        (first["alerts"].as_u64(), first["duplicates"].as_u64()),
        (Some(172), Some(0))
    );
    let archive =
        ampel::store::open_embedded(&format!("sqlite:{}", dir.path().join("d.sqlite").display()))
            .unwrap();
    use ampel::store::Archive;
    let journal = |a: &dyn Archive| -> usize {
        a.stocks(&Default::default())
            .unwrap()
            .iter()
            .map(|s| s.journal.len())
            .sum()
    };
    let before = journal(&archive);
    // Another group reads everything again: every message is a redelivery.
    let second = run(dir.path(), "second", &broker, &redis.url());
    assert_eq!(
        (second["alerts"].as_u64(), second["duplicates"].as_u64()),
        (Some(0), Some(172))
    );
    assert_eq!(journal(&archive), before, "nothing was processed twice");
    // Without shared hot state the redelivery reaches T0 again; the
    // archive finds each accepted alert already ingested: a log line
    // each, no second journal entry.
    let third = run(dir.path(), "third", &broker, "memory");
    assert_eq!(third["alerts"], 172);
    assert_eq!(third["reingested"], first["accepted"]["A"]);
    assert_eq!(journal(&archive), before);
}
