//! The archive's hot queries read by index: their query plans (SQLite's
//! `EXPLAIN QUERY PLAN`) are checked, since a plan that scans a table costs
//! nothing on a test archive and grows with a real one.

use super::claims::CLAIM_T2;
use super::members::STOCK_DATAPOINT_TAGS;
use super::*;

fn plan(a: &SqliteArchive, sql: &str, args: &[&dyn rusqlite::ToSql]) -> String {
    let mut st = a
        .conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .expect("plan");
    let rows = st
        .query_map(args, |r| r.get::<_, String>(3))
        .expect("plan rows");
    rows.map(|r| r.expect("row")).collect::<Vec<_>>().join("\n")
}

#[test]
fn claims_walk_the_claimable_index_without_sorting() {
    let a = SqliteArchive::open(":memory:").unwrap();
    let p = plan(&a, CLAIM_T2, &[&"T2LightCurveSummary", &0.0, &10]);
    assert!(p.contains("USING INDEX t2_due"), "{p}");
    assert!(!p.contains("TEMP B-TREE"), "a claim must not sort: {p}");
}

#[test]
fn a_channels_recent_stocks_are_read_along_the_time_index() {
    let a = SqliteArchive::open(":memory:").unwrap();
    let p = plan(&a, CHANNEL_STOCKS_UPDATED, &[&"CH", &0.0, &1.0]);
    assert!(p.contains("SEARCH s USING INDEX stock_updated"), "{p}");
    assert!(!p.contains("SCAN c"), "channel membership by key: {p}");
}

#[test]
fn a_t3_process_finds_its_last_run_by_index() {
    let a = SqliteArchive::open(":memory:").unwrap();
    let p = plan(&a, T3_LAST_SELECTED, &[&"CH:proc"]);
    assert!(p.contains("USING INDEX t3_process"), "{p}");
}

#[test]
fn unfinished_work_is_counted_from_the_index() {
    let a = SqliteArchive::open(":memory:").unwrap();
    let q = T2Query {
        unit: Some("T2X".into()),
        code: Some(-1),
        config: Some(7),
        ..Default::default()
    };
    let (filter, args) = t2_where(&q);
    let sql = format!("SELECT COUNT(*) FROM t2{filter}");
    let args: Vec<&dyn rusqlite::ToSql> = args.iter().map(|v| v as &dyn rusqlite::ToSql).collect();
    let p = plan(&a, &sql, &args);
    assert!(p.contains("COVERING INDEX t2_code_unit"), "{p}");
}

#[test]
fn a_runs_t2_counts_per_code_read_only_the_index() {
    let a = SqliteArchive::open(":memory:").unwrap();
    let p = plan(&a, T2_CODES, &[]);
    assert!(p.contains("COVERING INDEX t2_code_unit"), "{p}");
}

#[test]
fn a_stocks_t2_documents_are_read_by_key() {
    let a = SqliteArchive::open(":memory:").unwrap();
    let q = T2Query {
        stock: Some(42),
        unit: Some("T2X".into()),
        ..Default::default()
    };
    let (filter, args) = t2_where(&q);
    let sql = format!("SELECT doc FROM t2{filter} ORDER BY stock, unit, config, link");
    let args: Vec<&dyn rusqlite::ToSql> = args.iter().map(|v| v as &dyn rusqlite::ToSql).collect();
    let p = plan(&a, &sql, &args);
    assert!(
        p.contains("SEARCH t2 USING INDEX sqlite_autoindex_t2_1"),
        "{p}"
    );
}

#[test]
fn datapoints_by_id_are_found_by_the_id_index_without_sorting() {
    let a = SqliteArchive::open(":memory:").unwrap();
    let p = plan(&a, DATAPOINTS_AMONG, &[&"[3, 5]"]);
    assert!(
        p.contains("SEARCH t0 USING INDEX sqlite_autoindex_t0_1 (id=?)"),
        "{p}"
    );
    assert!(!p.contains("TEMP B-TREE"), "ids come in order: {p}");
}

#[test]
fn a_stocks_datapoint_tags_are_one_range_of_the_member_index() {
    let a = SqliteArchive::open(":memory:").unwrap();
    let p = plan(&a, STOCK_DATAPOINT_TAGS, &[&7]);
    assert!(p.contains("SEARCH m USING PRIMARY KEY (stock=?)"), "{p}");
    assert!(!p.contains("TEMP B-TREE"), "members come in id order: {p}");
    assert!(!p.contains("SCAN"), "{p}");
}
