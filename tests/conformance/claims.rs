//! T2 claims: atomic, filtered, respecting back-off, by batch or by key,
//! and in AMPEL's order. AMPEL's T2 worker walks its `code` index, so
//! due reruns come first, then tickets in storing order, whatever their
//! unit or key. Key order would let a backlog's lowest stocks jump the
//! queue (and, embedded, rewrite pages far apart).

use super::{key, meta, ticket};
use ampel::store::*;

fn claimed(a: &mut dyn Archive, max: usize) -> Vec<(i64, String)> {
    let units = ["A".to_string(), "B".to_string()];
    let docs = a.claim_t2(10.0, max, &units).unwrap();
    docs.into_iter().map(|d| (d.stock, d.unit)).collect()
}

/// A RERUN_REQUESTED document, in back-off until `after` if given.
fn rerun(stock: i64, unit: &str, link: i64, after: Option<f64>) -> T2Doc {
    let mut t = ticket(stock, unit, link, "A");
    t.code = code::RERUN_REQUESTED;
    t.retry_after = after;
    t
}

/// Due reruns first, then the oldest tickets of any unit.
pub fn claim_order(a: &mut dyn Archive) {
    // Stored one at a time in this order: stock 9 first, the reruns last.
    for t in [
        ticket(9, "A", 9, "A"),
        ticket(5, "B", 5, "A"),
        ticket(7, "A", 7, "A"),
        rerun(1, "B", 1, None),
        rerun(2, "A", 2, Some(99.0)),
    ] {
        a.write(vec![WriteOp::T2Ticket(t)]).unwrap();
    }
    let first = claimed(a, 2);
    assert_eq!(first, [(1, "B".into()), (9, "A".into())], "not key order");
    assert_eq!(claimed(a, 5), [(5, "B".into()), (7, "A".into())]);
    assert!(claimed(a, 5).is_empty(), "stock 2 is in back-off");
}

/// A batch claim takes each claimable document once, stamps it, and
/// leaves one in back-off until its time.
pub fn t2_claims(a: &mut dyn Archive) {
    a.write(vec![
        WriteOp::T2Ticket(ticket(9, "U", 1, "A")),
        WriteOp::T2Ticket(ticket(9, "U", 2, "A")),
        WriteOp::T2Ticket(rerun(9, "U", 3, Some(500.0))),
        WriteOp::T2Ticket(ticket(9, "Other", 1, "A")),
    ])
    .unwrap();
    let units = ["U".to_string()];
    let first = a.claim_t2(100.0, 1, &units).unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].code, code::RUNNING);
    assert_eq!(first[0].claimed_at, Some(100.0), "a claim is stamped");
    let rest = a.claim_t2(100.0, 10, &units).unwrap();
    assert_eq!(rest.len(), 1, "the back-off of link 3 is not over");
    assert_ne!(rest[0].link, first[0].link, "never claimed twice");
    assert!(a.claim_t2(100.0, 10, &units).unwrap().is_empty());
    let later = a.claim_t2(600.0, 10, &units).unwrap();
    assert_eq!(later.iter().map(|d| d.link).collect::<Vec<_>>(), [3]);
    assert_eq!(
        a.t2(&T2Query {
            code: Some(code::RUNNING),
            ..Default::default()
        })
        .unwrap()
        .len(),
        3
    );
    assert_eq!(
        a.t2(&T2Query {
            unit: Some("Other".into()),
            ..Default::default()
        })
        .unwrap()[0]
            .code,
        code::NEW
    );
}

/// A claim by key: once per key, back-off respected, and a RUNNING
/// document taken over only when asked to steal it.
pub fn t2_key_claims(a: &mut dyn Archive) {
    a.write(vec![
        WriteOp::T2Ticket(ticket(9, "U", 1, "A")),
        WriteOp::T2Ticket(ticket(9, "U", 2, "A")),
        WriteOp::T2Ticket(rerun(9, "U", 3, Some(500.0))),
    ])
    .unwrap();
    let keys = [key(9, "U", 1), key(9, "U", 3), key(9, "U", 7)];
    // A key queued twice and taken in one claim runs once.
    let twice = [keys[0].clone(), keys[0].clone()];
    let got = a.claim_t2_keys(&twice, 100.0, false).unwrap();
    assert_eq!(
        got.iter().map(|d| (d.link, d.code)).collect::<Vec<_>>(),
        [(1, code::RUNNING)],
        "link 3 is backing off, link 7 does not exist"
    );
    assert!(
        a.claim_t2_keys(&keys, 100.0, false).unwrap().is_empty(),
        "never claimed twice"
    );
    let later = a.claim_t2_keys(&keys, 600.0, false).unwrap();
    assert_eq!(later.iter().map(|d| d.link).collect::<Vec<_>>(), [3]);
    // A reclaimed queue entry: its worker died while RUNNING.
    let stolen = a.claim_t2_keys(&keys[..1], 600.0, true).unwrap();
    assert_eq!(stolen.len(), 1);
    assert_eq!(stolen[0].code, code::RUNNING);
    assert_eq!(stolen[0].claimed_at, Some(600.0), "the new claim's time");
    let stored = a
        .t2(&T2Query {
            code: Some(code::RUNNING),
            ..Default::default()
        })
        .unwrap();
    assert!(
        stored
            .iter()
            .any(|d| d.link == 1 && d.claimed_at == Some(600.0)),
        "the claim time is stored"
    );
    let done = key(9, "U", 1);
    a.write(vec![WriteOp::T2Result {
        key: done.clone(),
        code: code::OK,
        body: Some(serde_json::json!({"x": 1})),
        meta: meta(2, "run", "A"),
        trials: 0,
        retry_after: None,
    }])
    .unwrap();
    assert!(
        a.claim_t2_keys(&[done], 700.0, true).unwrap().is_empty(),
        "a finished document is never claimed"
    );
    assert_eq!(
        a.t2(&T2Query {
            code: Some(code::NEW),
            ..Default::default()
        })
        .unwrap()
        .iter()
        .map(|d| d.link)
        .collect::<Vec<_>>(),
        [2]
    );
}
