//! Questions the archive answers without handing back documents: how many
//! T2 documents a query selects (and per code), and when a T3 process last selected.

use super::*;

pub fn counts(a: &mut dyn Archive) {
    let mut ops = Vec::new();
    for s in 1..=6 {
        ops.push(WriteOp::T2Ticket(ticket(s, "U", s * 100, "A")));
        ops.push(WriteOp::T2Ticket(ticket(s, "V", s * 100, "B")));
    }
    ops.push(WriteOp::T2Code {
        key: key(2, "U", 200),
        code: code::RUNNING,
    });
    a.write(ops).unwrap();
    let queries = [
        T2Query::default(),
        T2Query {
            unit: Some("U".into()),
            code: Some(code::NEW),
            config: Some(-42),
            ..Default::default()
        },
        T2Query {
            unit: Some("U".into()),
            config: Some(-41),
            ..Default::default()
        },
        T2Query {
            stock: Some(2),
            code: Some(code::RUNNING),
            ..Default::default()
        },
        T2Query {
            channel: Some("B".into()),
            ..Default::default()
        },
    ];
    let want = [12, 5, 0, 1, 6];
    for (q, n) in queries.iter().zip(want) {
        assert_eq!(a.count_t2(q).unwrap(), n, "{q:?}");
        assert_eq!(a.t2(q).unwrap().len(), n, "{q:?}");
    }
    // Per code, as a run's summary counts them (12 tickets, one RUNNING).
    let codes = a.t2_codes().unwrap();
    assert_eq!(
        codes.into_iter().collect::<Vec<_>>(),
        [(code::RUNNING, 1), (code::NEW, 11)]
    );

    assert_eq!(a.t3_last_selected("A:p").unwrap(), None);
    let t3 = |run: i64, process: &str, selected_at: Option<f64>| {
        let mut m = meta(run, "run", "A");
        m.extra = selected_at.map(|t| json!({"selected_at": t}));
        WriteOp::T3(T3Doc {
            run,
            process: process.into(),
            unit: "T3LogSummary".into(),
            confid: 1,
            channel: "A".into(),
            stock: vec![],
            code: 0,
            meta: m,
            body: json!({}),
        })
    };
    a.write(vec![
        t3(1, "A:p", Some(50.5)),
        t3(2, "A:p", Some(70.25)),
        t3(3, "A:p", None),
        t3(4, "A:q", Some(99.0)),
    ])
    .unwrap();
    assert_eq!(a.t3_last_selected("A:p").unwrap(), Some(70.25));
    assert_eq!(a.t3_last_selected("A:q").unwrap(), Some(99.0));
    assert_eq!(a.t3_last_selected("B:p").unwrap(), None);
}
