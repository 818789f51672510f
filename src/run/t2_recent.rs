//! Datapoints a T2 worker has read, kept for the next state of the same
//! stock.
//!
//! Why: a stock's next state is its last one plus the new alert's
//! datapoints, so reading each state's datapoints from the archive read
//! most of them again. In an accept-all replay of a 10k night the states
//! named 88,252 datapoints, 44,886 of them distinct, and loading them was
//! half of the T2 thread.
//!
//! Only projected datapoints are kept ([`T2Unit::body_fields`]): what units
//! naming body fields read of a datapoint (its id, tags and those fields)
//! is fixed when it is first stored, as its id is computed from it. Its
//! channel and stock lists may grow later; those units do not read them.
//!
//! [`T2Unit::body_fields`]: crate::t2::T2Unit::body_fields

use crate::store::DataPointDoc;
use hashlink::LruCache;
use std::collections::HashMap;
use std::sync::Arc;

/// Datapoints held, by stock, the stock read longest ago dropped first.
pub(super) struct RecentDatapoints {
    stocks: LruCache<i64, HashMap<i64, Arc<DataPointDoc>>>,
    /// Datapoints held, over all stocks.
    held: usize,
    /// At most this many are held (a projected ZTF datapoint is about a
    /// kilobyte in memory).
    cap: usize,
}

/// Of some ids, the datapoints held (in the ids' order, `None` where not
/// held) and the ids not held (ascending when the ids were).
pub(super) struct Lookup {
    pub found: Vec<Option<Arc<DataPointDoc>>>,
    pub missing: Vec<i64>,
}

impl RecentDatapoints {
    pub(super) fn new(cap: usize) -> Self {
        RecentDatapoints {
            stocks: LruCache::new_unbounded(),
            held: 0,
            cap,
        }
    }

    /// What is held of `stock`'s datapoints `ids`.
    pub(super) fn lookup(&mut self, stock: i64, ids: &[i64]) -> Lookup {
        let held = self.stocks.get(&stock);
        let found: Vec<Option<Arc<DataPointDoc>>> = ids
            .iter()
            .map(|id| held.and_then(|h| h.get(id)).cloned())
            .collect();
        let missing = ids
            .iter()
            .zip(&found)
            .filter(|(_, f)| f.is_none())
            .map(|(id, _)| *id)
            .collect();
        Lookup { found, missing }
    }

    /// Keeps `dps`, read for `stock`, and drops the stocks read longest
    /// ago while more than the cap is held (never the one just kept).
    pub(super) fn keep(&mut self, stock: i64, dps: &[Arc<DataPointDoc>]) {
        let held = self.stocks.entry(stock).or_insert_with(HashMap::new);
        for d in dps {
            if held.insert(d.id, d.clone()).is_none() {
                self.held += 1;
            }
        }
        while self.held > self.cap && self.stocks.len() > 1 {
            if let Some((_, dropped)) = self.stocks.remove_lru() {
                self.held -= dropped.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dp(id: i64) -> Arc<DataPointDoc> {
        Arc::new(DataPointDoc {
            id,
            stock: vec![1],
            channel: vec![],
            tag: vec![],
            meta: vec![],
            body: json!({"jd": id}).into(),
        })
    }

    #[test]
    fn finds_what_was_kept_and_names_the_rest() {
        let mut r = RecentDatapoints::new(100);
        r.keep(7, &[dp(-4), dp(2)]);
        let l = r.lookup(7, &[-9, -4, 2, 5]);
        let found: Vec<Option<i64>> = l.found.iter().map(|d| d.as_ref().map(|d| d.id)).collect();
        assert_eq!(found, [None, Some(-4), Some(2), None]);
        assert_eq!(l.missing, [-9, 5]);
        assert_eq!(r.lookup(8, &[2]).missing, [2], "held by stock");
    }

    #[test]
    fn drops_the_stock_read_longest_ago_beyond_the_cap() {
        let mut r = RecentDatapoints::new(4);
        r.keep(1, &[dp(1), dp(2)]);
        r.keep(2, &[dp(3), dp(4)]);
        r.lookup(1, &[1]); // stock 1 read again: stock 2 is now the oldest
        r.keep(3, &[dp(5)]);
        assert!(r.lookup(2, &[3]).found[0].is_none());
        assert!(r.lookup(1, &[1]).found[0].is_some());
        assert!(r.lookup(3, &[5]).found[0].is_some());
        assert_eq!(r.held, 3);
        // A stock larger than the cap is still held until the next one.
        r.keep(4, &[dp(6), dp(7), dp(8), dp(9), dp(10)]);
        assert_eq!(r.held, 5);
        assert!(r.lookup(4, &[10]).found[0].is_some());
    }
}
