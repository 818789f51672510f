//! The archive conformance suite against the embedded archive, in memory and
//! on disk (MongoDB: actors/tests/mongo_conformance.rs).

mod conformance;

use ampel::store::SqliteArchive;

#[test]
fn embedded_archive_conforms() {
    conformance::run_all(&mut || Box::new(SqliteArchive::open(":memory:").unwrap()));
    let dir = tempfile::tempdir().unwrap();
    let mut n = 0;
    conformance::run_all(&mut || {
        n += 1;
        let p = dir.path().join(format!("{n}.sqlite"));
        Box::new(SqliteArchive::open(p.to_str().unwrap()).unwrap())
    });
}

#[test]
fn embedded_archive_concurrent_writers_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("shared.sqlite");
    let path = p.to_str().unwrap().to_string();
    conformance::concurrent_writers(&|| Box::new(SqliteArchive::open(&path).unwrap()));
}

#[test]
fn embedded_archive_survives_reopening() {
    use ampel::store::{Archive, WriteOp};
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.sqlite");
    {
        let mut a = SqliteArchive::open(p.to_str().unwrap()).unwrap();
        assert_eq!(a.next_run_id().unwrap(), 1);
        a.write(vec![WriteOp::Config {
            id: 1,
            config: serde_json::json!({"a": 1}),
        }])
        .unwrap();
    }
    let mut a = SqliteArchive::open(p.to_str().unwrap()).unwrap();
    assert_eq!(a.next_run_id().unwrap(), 2, "the run counter persists");
    assert_eq!(a.config(1).unwrap(), Some(serde_json::json!({"a": 1})));
}
