//! A batch of many stocks' ops in one write, as a replay batch is: every
//! op applied, in order per document (bulk writes must keep that order).

use super::*;

/// A batch as a replay writes one: `stocks` stocks, each with three
/// datapoints (one shared with the next stock), a state, a T2 ticket and
/// its result, a journal entry after the stock's own op, and a log line.
/// Ops on one document follow each other as the tiers emit them.
pub fn large_batch_ops(stocks: i64) -> Vec<WriteOp> {
    let mut ops = Vec::new();
    for s in 1..=stocks {
        for d in 0..3 {
            // Datapoint s*10+2 is also the next stock's first.
            let id = if d == 0 && s > 1 {
                (s - 1) * 10 + 2
            } else {
                s * 10 + d
            };
            let mut p = dp(id, s, "A", "ZTF_DP");
            p.meta = vec![meta(1, &format!("ingest {s}"), "A")];
            ops.push(WriteOp::DataPoint(p));
        }
        ops.push(stock_op(s, "A", &format!("ZTF{s}"), 10.0 + s as f64));
        ops.push(WriteOp::Journal {
            stock: s,
            entry: journal(1, "A", 20.0 + s as f64),
        });
        ops.push(WriteOp::State(T1Doc {
            stock: s,
            link: s * 100,
            dps: vec![s * 10, s * 10 + 1],
            channel: vec!["A".into()],
            tag: vec![],
            code: 0,
            meta: vec![meta(1, "state", "A")],
        }));
        ops.push(WriteOp::T2Ticket(ticket(s, "U", s * 100, "A")));
        ops.push(WriteOp::T2Result {
            key: key(s, "U", s * 100),
            code: code::OK,
            body: Some(json!({"n": s})),
            meta: meta(1, "t2", "A"),
            trials: 1,
            retry_after: None,
        });
        ops.push(WriteOp::Log(LogDoc {
            run: 1,
            ts: s as f64,
            level: "info".into(),
            tier: None,
            stock: Some(s),
            channel: None,
            alert: None,
            msg: format!("stock {s}"),
            extra: None,
        }));
    }
    ops
}

pub(super) fn large_batch(a: &mut dyn Archive) {
    let n = 300;
    a.write(large_batch_ops(n)).unwrap();
    for s in [1, 2, n / 2, n] {
        let stock = a.stock(s).unwrap().expect("stored");
        let times: Vec<f64> = stock.journal.iter().map(|j| j.ts).collect();
        assert_eq!(
            times,
            vec![10.0 + s as f64, 20.0 + s as f64],
            "journal order of {s}"
        );
        let q = T2Query {
            stock: Some(s),
            ..T2Query::default()
        };
        let t2 = a.t2(&q).unwrap();
        let doc = t2.first().expect("the ticket");
        assert_eq!(doc.code, code::OK, "the result after its ticket");
        assert_eq!(doc.body.len(), 1);
        assert_eq!(a.states(s).unwrap().len(), 1);
    }
    // The shared datapoint holds both stocks and both ingest records.
    let dps = a.datapoints(2).unwrap();
    let shared = dps.iter().find(|d| d.id == 12).expect("shared datapoint");
    assert_eq!(shared.stock, vec![1, 2]);
    let actions: Vec<&str> = shared.meta.iter().map(|m| m.action.as_str()).collect();
    assert_eq!(actions, vec!["ingest 1", "ingest 2"]);
    assert_eq!(a.t2_count().unwrap(), n as u64);
    let logs = a.logs(&LogQuery::default()).unwrap();
    assert_eq!(logs.len(), n as usize);
}
