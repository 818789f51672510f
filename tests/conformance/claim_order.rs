//! The order of a batch claim: AMPEL's T2 worker walks its `code` index,
//! so due reruns come first, then tickets in storing order, whatever
//! their unit or key. Key order would let a backlog's lowest stocks jump
//! the queue (and, embedded, rewrite pages far apart).

use super::ticket;
use ampel::store::*;

fn claimed(a: &mut dyn Archive, max: usize) -> Vec<(i64, String)> {
    let units = ["A".to_string(), "B".to_string()];
    let docs = a.claim_t2(10.0, max, &units).unwrap();
    docs.into_iter().map(|d| (d.stock, d.unit)).collect()
}

pub fn claim_order(a: &mut dyn Archive) {
    let mut rerun = ticket(1, "B", 1, "C");
    rerun.code = code::RERUN_REQUESTED;
    let mut later = ticket(2, "A", 2, "C");
    later.code = code::RERUN_REQUESTED;
    later.retry_after = Some(99.0);
    // Stored one at a time in this order: stock 9 first, the reruns last.
    for t in [
        ticket(9, "A", 9, "C"),
        ticket(5, "B", 5, "C"),
        ticket(7, "A", 7, "C"),
        rerun,
        later,
    ] {
        a.write(vec![WriteOp::T2Ticket(t)]).unwrap();
    }
    let first = claimed(a, 2);
    assert_eq!(first, [(1, "B".into()), (9, "A".into())], "not key order");
    assert_eq!(claimed(a, 5), [(5, "B".into()), (7, "A".into())]);
    assert!(claimed(a, 5).is_empty(), "stock 2 is in back-off");
}
