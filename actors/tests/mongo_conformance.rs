//! The archive conformance suite (tests/conformance) against MongoDB: the
//! server `AMPEL_TEST_MONGO_URI` names, else a SecantusDB the harness starts
//! (never skipped). Each check gets its own database, dropped afterwards.
//! Then the concurrent-writers check, and the fallback for servers without
//! transactions (a standalone mongod answers a transaction's first op with
//! IllegalOperation, code 20): the whole suite in op-by-op mode, and the
//! switch itself, provoked with mongod's `failCommand` fail point (a
//! standalone SecantusDB still accepts transactions, so it cannot show it).

#[path = "../../tests/conformance/mod.rs"]
mod conformance;
mod services;

use ampel_actors::store::MongoArchive;
use services::Mongo;

type Connect = fn(&str, Option<&str>) -> Result<MongoArchive, ampel::store::StoreError>;

fn suite(mongo: &Mongo, tag: &str, connect: Connect) -> usize {
    let mut n = 0;
    let mut made = Vec::new();
    conformance::run_all(&mut || {
        n += 1;
        let name = format!("ampel_{tag}_{}_{n}", std::process::id());
        made.push(name.clone());
        Box::new(connect(&mongo.uri, Some(&name)).unwrap_or_else(|e| panic!("{e}")))
    });
    let shared = format!("ampel_{tag}_concurrent_{}", std::process::id());
    conformance::concurrent_writers(&|| {
        Box::new(connect(&mongo.uri, Some(&shared)).unwrap_or_else(|e| panic!("{e}")))
    });
    made.push(shared);
    for name in &made {
        MongoArchive::connect(&mongo.uri, Some(name))
            .unwrap()
            .drop_database()
            .unwrap();
    }
    made.len()
}

#[test]
fn mongo_archive_conforms() {
    let mongo = Mongo::start();
    let n = suite(&mongo, "conformance", MongoArchive::connect);
    eprintln!("MongoDB conformance on {}: {n} databases", mongo.uri);
}

#[test]
fn op_by_op_batches_conform_too() {
    let mongo = Mongo::start();
    suite(&mongo, "op_by_op", MongoArchive::connect_op_by_op);
}

#[test]
fn a_refused_transaction_switches_to_op_by_op_and_loses_nothing() {
    use ampel::store::{Archive, WriteOp};
    let mongo = Mongo::with_fail_points();
    let db = format!("ampel_failpoint_{}", std::process::id());
    let mut archive = MongoArchive::connect(&mongo.uri, Some(&db)).unwrap();
    assert!(archive.uses_transactions());
    // The next write command fails as on a standalone mongod.
    let admin = mongodb::sync::Client::with_uri_str(&mongo.uri).unwrap();
    admin
        .database("admin")
        .run_command(mongodb::bson::doc! {
            "configureFailPoint": "failCommand",
            "mode": {"times": 1},
            "data": {"failCommands": ["update", "insert", "findAndModify"], "errorCode": 20},
        })
        .run()
        .unwrap();
    let batch = (1..=3)
        .map(|id| WriteOp::Config {
            id,
            config: serde_json::json!({"n": id}),
        })
        .collect();
    archive.write(batch).unwrap();
    assert!(!archive.uses_transactions(), "switched to op by op");
    for id in 1..=3 {
        assert_eq!(
            archive.config(id).unwrap(),
            Some(serde_json::json!({"n": id}))
        );
    }
    // And it stays usable.
    archive
        .write(vec![WriteOp::Config {
            id: 4,
            config: serde_json::json!({}),
        }])
        .unwrap();
    assert_eq!(archive.config(4).unwrap(), Some(serde_json::json!({})));
}

/// A batch reaches the server as one command per collection (plus the
/// transaction's commit), not one per op: 300 stocks' worth of ops (3,000
/// ops over five collections) in at most six round trips, counted by the
/// driver's command monitoring.
#[test]
fn a_batch_is_one_command_per_collection() {
    use ampel::store::Archive;
    let mongo = Mongo::start();
    let modes: [(&str, Connect); 2] = [
        ("bulk_txn", MongoArchive::connect),
        ("bulk_op_by_op", MongoArchive::connect_op_by_op),
    ];
    for (tag, connect) in modes {
        let db = format!("ampel_{tag}_{}", std::process::id());
        let mut a = connect(&mongo.uri, Some(&db)).unwrap();
        let ops = conformance::large_batch_ops(300);
        let n = ops.len();
        let before = a.commands_sent();
        a.write(ops).unwrap();
        let sent = a.commands_sent() - before;
        let max = if a.uses_transactions() { 6 } else { 5 };
        eprintln!("{tag}: {n} ops in {sent} commands");
        assert!(sent <= max, "{tag}: {sent} commands for {n} ops");
        a.drop_database().unwrap();
    }
}
