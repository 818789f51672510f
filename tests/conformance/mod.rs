//! The archive conformance suite: every behaviour the tiers rely on, checked
//! against any [`Archive`]. Included by `tests/archive_conformance.rs`
//! (embedded SQLite, always) and `actors/tests/mongo_conformance.rs`
//! (MongoDB, when AMPEL_TEST_MONGO_URI is set).

#![allow(dead_code)]

mod claims;
mod counts;
mod large_batch;
mod viewer;

use ampel::store::*;
use claims::{claim_order, t2_claims, t2_key_claims};
use counts::counts;
use large_batch::large_batch;
#[allow(unused_imports)]
pub use large_batch::large_batch_ops;
use serde_json::json;

fn meta(run: i64, action: &str, channel: &str) -> MetaRecord {
    MetaRecord {
        run,
        ts: 1000.0 + run as f64,
        tier: 0,
        process: "p".into(),
        action: action.into(),
        channel: vec![channel.into()],
        code: None,
        duration: None,
        alert: Some(7),
        extra: None,
    }
}

fn journal(run: i64, channel: &str, ts: f64) -> JournalEntry {
    JournalEntry {
        run,
        ts,
        tier: 0,
        process: "p".into(),
        action: "accept".into(),
        channel: vec![channel.into()],
        alert: Some(7),
        extra: None,
    }
}

fn dp(id: i64, stock: i64, channel: &str, tag: &str) -> DataPointDoc {
    DataPointDoc {
        id,
        stock: vec![stock],
        channel: vec![channel.into()],
        tag: vec!["ZTF".into(), tag.into()],
        meta: vec![meta(1, "ingest", channel)],
        body: json!({"jd": 2460000.5 + id as f64, "magpsf": 18.25, "fid": 1}).into(),
    }
}

fn ticket(stock: i64, unit: &str, link: i64, channel: &str) -> T2Doc {
    T2Doc {
        stock,
        unit: unit.into(),
        config: -42,
        link,
        col: None,
        channel: vec![channel.into()],
        tag: vec![],
        code: code::NEW,
        meta: vec![meta(1, "ticket", channel)],
        body: vec![],
        trials: 0,
        retry_after: None,
        claimed_at: None,
    }
}

fn key(stock: i64, unit: &str, link: i64) -> T2Key {
    T2Key {
        stock,
        unit: unit.into(),
        config: -42,
        link,
    }
}

/// Every check, each on a fresh archive from `make`.
pub fn run_all(make: &mut dyn FnMut() -> Box<dyn Archive>) {
    type Check = fn(&mut dyn Archive);
    let checks: [(&str, Check); 19] = [
        ("run ids increase", run_ids),
        ("datapoints merge channels, tags and meta", datapoints),
        (
            "a datapoint shared by stocks is stored once, read by each",
            shared_datapoints,
        ),
        ("stocks merge channels, names, journal and times", stocks),
        ("stock queries by channel, window and tags", stock_queries),
        ("states merge channels and meta", states),
        ("T2 tickets insert once and share", t2_tickets),
        (
            "T2 claims are atomic, filtered and respect back-off",
            t2_claims,
        ),
        (
            "T2 claims take due reruns, then the oldest of any unit",
            claim_order,
        ),
        (
            "T2 claims by key: once, back-off, stealing RUNNING",
            t2_key_claims,
        ),
        ("T2 results, codes and resets", t2_results),
        ("T3, events, logs, configs, troubles", others),
        ("documents round-trip exactly", round_trip),
        (
            "reactions queue once, remember items, step and re-arm",
            reactions,
        ),
        (
            "reaction claims: oldest due first, each once",
            reaction_claims,
        ),
        (
            "a large batch applies every op, in order per document",
            large_batch,
        ),
        ("T2 counts and a T3 process's last selection", counts),
        ("cutouts stored once, newest by time", viewer::cutouts),
        (
            "stocks per channel, T2 per unit and code",
            viewer::viewer_counts,
        ),
    ];
    for (name, check) in checks {
        let mut a = make();
        eprintln!("conformance: {name} ({})", a.location());
        check(a.as_mut());
    }
    archive_ids(make);
    heartbeats(make().as_mut());
}

/// A heartbeat sets a RUNNING event's time, and never touches a finished
/// one (it would reopen nothing, but must not rewrite it either).
fn heartbeats(a: &mut dyn Archive) {
    eprintln!(
        "conformance: heartbeats touch running events only ({})",
        a.location()
    );
    let event = |run: i64, code: i64| EventDoc {
        run,
        process: "job".into(),
        tier: None,
        start: 1.0,
        end: None,
        code,
        counts: Default::default(),
        version: "v".into(),
        commit: None,
        job: None,
        host: Some("h".into()),
        pid: Some(7),
        heartbeat: Some(1.0),
        note: None,
    };
    a.write(vec![
        WriteOp::Event(event(1, code::RUNNING)),
        WriteOp::Event(event(2, code::OK)),
    ])
    .unwrap();
    a.write(vec![
        WriteOp::Heartbeat { run: 1, ts: 50.0 },
        WriteOp::Heartbeat { run: 2, ts: 50.0 },
        WriteOp::Heartbeat { run: 3, ts: 50.0 },
    ])
    .unwrap();
    let events = a.events().unwrap();
    let beat = |run: i64| events.iter().find(|e| e.run == run).unwrap().heartbeat;
    assert_eq!(beat(1), Some(50.0));
    assert_eq!(beat(2), Some(1.0), "a finished run keeps its record");
    assert_eq!(events.len(), 2, "a heartbeat creates no event");
    assert_eq!(events[0].host.as_deref(), Some("h"));
    assert_eq!(events[0].pid, Some(7));
}

/// An archive's id is drawn once and kept; two archives have their own.
fn archive_ids(make: &mut dyn FnMut() -> Box<dyn Archive>) {
    let (mut a, mut b) = (make(), make());
    eprintln!(
        "conformance: archive ids are stable and distinct ({})",
        a.location()
    );
    let id = a.archive_id().unwrap();
    a.next_run_id().unwrap();
    assert_eq!(a.archive_id().unwrap(), id, "kept");
    assert_ne!(b.archive_id().unwrap(), id, "each archive its own");
}

fn run_ids(a: &mut dyn Archive) {
    let r1 = a.next_run_id().unwrap();
    let r2 = a.next_run_id().unwrap();
    assert_eq!(r2, r1 + 1);
}

fn datapoints(a: &mut dyn Archive) {
    a.write(vec![
        WriteOp::DataPoint(dp(5, 9, "A", "ZTF_PUB")),
        WriteOp::DataPoint(dp(-3, 9, "A", "ZTF_PUB")),
    ])
    .unwrap();
    let mut again = dp(5, 9, "B", "ZTF_G");
    again.body = json!({"ignored": true}).into();
    a.write(vec![WriteOp::DataPoint(again)]).unwrap();
    let got = a.datapoints(9).unwrap();
    assert_eq!(
        got.iter().map(|d| d.id).collect::<Vec<_>>(),
        [-3, 5],
        "ordered by id"
    );
    let d = &got[1];
    assert_eq!(d.channel, ["A", "B"]);
    assert_eq!(d.tag, ["ZTF", "ZTF_PUB", "ZTF_G"]);
    assert_eq!(d.meta.len(), 2);
    assert_eq!(d.body["magpsf"], 18.25, "the first body is kept");
    assert_eq!(
        a.datapoint_tags(9).unwrap(),
        [
            (-3, vec!["ZTF".to_string(), "ZTF_PUB".into()]),
            (5, vec!["ZTF".into(), "ZTF_PUB".into(), "ZTF_G".into()])
        ]
    );
    assert!(a.datapoints(10).unwrap().is_empty());
    // A projected read is the whole read cut down, in the same order; a
    // datapoint holding none of the fields keeps an empty body.
    let p = DataPointProjection::body(["fid", "jd", "absent"]);
    let cut = a.datapoints_projected(9, &p).unwrap();
    let want: Vec<DataPointDoc> = got.into_iter().map(|d| p.apply(d)).collect();
    assert_eq!(cut, want);
    assert_eq!(cut[0].body, json!({"jd": 2459997.5, "fid": 1}));
    assert!(cut[0].meta.is_empty());
    let none = DataPointProjection::body(["absent"]);
    assert_eq!(a.datapoints_projected(9, &none).unwrap()[1].body, json!({}));
    // Read by id: those stored among the ids, as the stock's projected
    // read has them, ordered by id.
    assert_eq!(
        a.datapoints_projected_among(9, &[-3, 4, 5], &p).unwrap(),
        cut
    );
    assert_eq!(a.datapoints_projected_among(9, &[5], &p).unwrap(), cut[1..]);
    assert!(a
        .datapoints_projected_among(9, &[4], &p)
        .unwrap()
        .is_empty());
}

/// A ZTF upper limit carried by two objects: one document whose stock set
/// holds both, found by each stock's reads, whichever stock came first and
/// whether both arrive in one batch or in two.
fn shared_datapoints(a: &mut dyn Archive) {
    let ul = -3352405322819025;
    // Across batches, stock 1 first; in one batch, stock 4 first.
    a.write(vec![WriteOp::DataPoint(dp(ul, 1, "A", "ZTF_PUB"))])
        .unwrap();
    a.write(vec![
        WriteOp::DataPoint(dp(11, 2, "B", "ZTF_PUB")),
        WriteOp::DataPoint(dp(ul, 2, "B", "ZTF_PUB")),
    ])
    .unwrap();
    let other = ul + 1;
    a.write(vec![
        WriteOp::DataPoint(dp(other, 4, "A", "ZTF_PUB")),
        WriteOp::DataPoint(dp(other, 3, "A", "ZTF_PUB")),
        WriteOp::DataPoint(dp(other, 4, "A", "ZTF_PUB")),
    ])
    .unwrap();
    let d = a.datapoints(1).unwrap();
    assert_eq!(d.len(), 1, "stock 1 sees the shared upper limit");
    assert_eq!(d[0].stock, [1, 2], "one document, both stocks");
    assert_eq!(d[0].channel, ["A", "B"]);
    assert_eq!(d[0].meta.len(), 2, "each ingestion recorded");
    let ids: Vec<i64> = a.datapoints(2).unwrap().iter().map(|d| d.id).collect();
    assert_eq!(ids, [ul, 11], "stock 2 sees its own and the shared point");
    assert_eq!(
        a.datapoint_tags(1).unwrap(),
        [(ul, vec!["ZTF".to_string(), "ZTF_PUB".into()])]
    );
    for s in [3, 4] {
        let d = a.datapoints(s).unwrap();
        assert_eq!(d.len(), 1, "stock {s}");
        assert_eq!(d[0].stock, [4, 3], "a set: stock 4 once");
        assert_eq!(d[0].meta.len(), 3);
    }
}

/// N archives on one store (processes of one job), writing batches that
/// touch the same stocks, datapoints and T2 tickets at once: every batch
/// lands at the first call (write conflicts are the backend's to retry:
/// MongoDB's transactions, SQLite's busy wait), nothing is duplicated.
pub fn concurrent_writers(open: &(dyn Fn() -> Box<dyn Archive> + Sync)) {
    const WRITERS: usize = 4;
    const BATCHES: usize = 50;
    // Every connection to one archive sees the one id, however many draw
    // it at once.
    let ids: std::collections::BTreeSet<i64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|_| scope.spawn(|| open().archive_id().unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(ids.len(), 1, "one archive, one id: {ids:?}");
    std::thread::scope(|scope| {
        for w in 0..WRITERS {
            scope.spawn(move || {
                let mut a = open();
                for b in 0..BATCHES {
                    let ch = format!("C{w}");
                    let ops = vec![
                        WriteOp::DataPoint(dp(-77, 1 + (b % 2) as i64, &ch, "ZTF_PUB")),
                        WriteOp::DataPoint(dp(1000 + b as i64, 1, &ch, "ZTF_PUB")),
                        stock_op(1, &ch, "ZTF17aaaaaab", 1e4 + b as f64),
                        WriteOp::T2Ticket(ticket(1, "T2Shared", 5, &ch)),
                    ];
                    if let Err(e) = a.write(ops) {
                        panic!("writer {w}, batch {b}: {e}");
                    }
                }
            });
        }
    });
    let a = open();
    let dps = a.datapoints(1).unwrap();
    assert_eq!(dps.len(), 1 + BATCHES, "every datapoint once");
    let shared = dps.iter().find(|d| d.id == -77).unwrap();
    let mut stocks = shared.stock.clone();
    stocks.sort();
    assert_eq!(stocks, [1, 2], "both stocks, once each");
    assert_eq!(shared.meta.len(), WRITERS * BATCHES, "no batch lost");
    assert_eq!(shared.channel.len(), WRITERS);
    let s = a.stock(1).unwrap().unwrap();
    assert_eq!(s.journal.len(), WRITERS * BATCHES, "every journal entry");
    assert_eq!(s.channel.len(), WRITERS);
    let t2 = a
        .t2(&T2Query {
            stock: Some(1),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(t2.len(), 1, "one shared T2 ticket");
    assert_eq!(t2[0].channel.len(), WRITERS);
}

fn stock_op(stock: i64, channel: &str, name: &str, ts: f64) -> WriteOp {
    WriteOp::Stock {
        stock,
        channel: channel.into(),
        names: vec![name.into()],
        tags: vec!["ZTF".into()],
        journal: journal(1, channel, ts),
    }
}

fn stocks(a: &mut dyn Archive) {
    a.write(vec![stock_op(9, "A", "ZTF23aaaaaab", 100.0)])
        .unwrap();
    a.write(vec![
        stock_op(9, "B", "ZTF23aaaaaab", 200.0),
        stock_op(9, "A", "ZTF23aaaaaab", 300.0),
    ])
    .unwrap();
    a.write(vec![WriteOp::Journal {
        stock: 9,
        entry: journal(2, "A", 400.0),
    }])
    .unwrap();
    a.write(vec![WriteOp::Journal {
        stock: 404,
        entry: journal(2, "A", 400.0),
    }])
    .unwrap();
    let s = a.stock(9).unwrap().unwrap();
    assert_eq!(s.channel, ["A", "B"]);
    assert_eq!(s.name, ["ZTF23aaaaaab"]);
    assert_eq!(s.tag, ["ZTF"]);
    assert_eq!(s.journal.len(), 4);
    assert_eq!(
        s.ts["A"],
        ChannelTimes {
            tied: 100.0,
            upd: 300.0
        }
    );
    assert_eq!(
        s.ts["B"],
        ChannelTimes {
            tied: 200.0,
            upd: 200.0
        }
    );
    assert_eq!(s.updated, 300.0);
    assert_eq!(a.stock_by_name("ZTF23aaaaaab").unwrap().unwrap().stock, 9);
    assert!(a.stock_by_name("nope").unwrap().is_none());
    assert!(
        a.stock(404).unwrap().is_none(),
        "a journal entry does not create a stock"
    );
}

fn stock_queries(a: &mut dyn Archive) {
    a.write(vec![
        stock_op(1, "A", "one", 10.0),
        stock_op(2, "A", "two", 20.0),
        stock_op(3, "B", "three", 30.0),
    ])
    .unwrap();
    a.write(vec![WriteOp::Stock {
        stock: 2,
        channel: "A".into(),
        names: vec![],
        tags: vec!["HOT".into()],
        journal: journal(1, "A", 25.0),
    }])
    .unwrap();
    let ids = |q: StockQuery| {
        a.stocks(&q)
            .unwrap()
            .iter()
            .map(|s| s.stock)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(StockQuery::default()), [1, 2, 3]);
    assert_eq!(
        ids(StockQuery {
            channel: Some("A".into()),
            ..Default::default()
        }),
        [1, 2]
    );
    assert_eq!(
        ids(StockQuery {
            updated_after: Some(21.0),
            ..Default::default()
        }),
        [2, 3]
    );
    assert_eq!(
        ids(StockQuery {
            updated_before: Some(25.0),
            ..Default::default()
        }),
        [1, 2]
    );
    assert_eq!(
        ids(StockQuery {
            tags: vec!["HOT".into()],
            ..Default::default()
        }),
        [2]
    );
}

fn states(a: &mut dyn Archive) {
    let s = T1Doc {
        stock: 9,
        link: -77,
        dps: vec![-3, 5],
        channel: vec!["A".into()],
        tag: vec![],
        code: 0,
        meta: vec![meta(1, "t1", "A")],
    };
    let mut b = s.clone();
    b.channel = vec!["B".into()];
    b.meta = vec![meta(2, "t1", "B")];
    a.write(vec![WriteOp::State(s)]).unwrap();
    a.write(vec![WriteOp::State(b)]).unwrap();
    let got = a.states(9).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].channel, ["A", "B"]);
    assert_eq!(got[0].dps, [-3, 5]);
    assert_eq!(got[0].meta.len(), 2);
    // By key: the same document; another link of the stock, none.
    assert_eq!(a.state(9, -77).unwrap().as_ref(), Some(&got[0]));
    assert_eq!(a.state(9, 5).unwrap(), None);
    assert_eq!(a.state(8, -77).unwrap(), None);
}

fn t2_tickets(a: &mut dyn Archive) {
    a.write(vec![
        WriteOp::T2Ticket(ticket(9, "U", 1, "A")),
        WriteOp::T2Ticket(ticket(9, "U", 1, "B")),
    ])
    .unwrap();
    a.write(vec![
        WriteOp::T2Ticket(ticket(9, "U", 2, "A")),
        WriteOp::T2Ticket(ticket(9, "V", 1, "A")),
    ])
    .unwrap();
    let all = a.t2(&T2Query::default()).unwrap();
    assert_eq!(all.len(), 3);
    let d = &a
        .t2(&T2Query {
            stock: Some(9),
            unit: Some("U".into()),
            ..Default::default()
        })
        .unwrap()[0];
    assert_eq!(
        (d.link, d.channel.clone(), d.code),
        (1, vec!["A".to_string(), "B".into()], code::NEW)
    );
    // A ticket for a document that has a result adds its channel, nothing else.
    a.write(vec![WriteOp::T2Result {
        key: key(9, "V", 1),
        code: code::OK,
        body: Some(json!({"x": 1})),
        meta: meta(2, "run", "A"),
        trials: 0,
        retry_after: None,
    }])
    .unwrap();
    a.write(vec![WriteOp::T2Ticket(ticket(9, "V", 1, "C"))])
        .unwrap();
    let v = &a
        .t2(&T2Query {
            unit: Some("V".into()),
            ..Default::default()
        })
        .unwrap()[0];
    assert_eq!((v.code, v.body.len(), v.channel.len()), (code::OK, 1, 2));
    assert_eq!(
        a.t2(&T2Query {
            channel: Some("C".into()),
            ..Default::default()
        })
        .unwrap()
        .len(),
        1
    );
    assert_eq!(
        a.t2(&T2Query {
            code: Some(code::NEW),
            ..Default::default()
        })
        .unwrap()
        .len(),
        2
    );
}

fn t2_results(a: &mut dyn Archive) {
    a.write(vec![WriteOp::T2Ticket(ticket(9, "U", 1, "A"))])
        .unwrap();
    let k = key(9, "U", 1);
    a.write(vec![WriteOp::T2Result {
        key: k.clone(),
        code: code::RERUN_REQUESTED,
        body: None,
        meta: meta(2, "run", "A"),
        trials: 1,
        retry_after: Some(123.5),
    }])
    .unwrap();
    let d = &a.t2(&T2Query::default()).unwrap()[0];
    assert_eq!(
        (d.code, d.trials, d.retry_after, d.body.len(), d.meta.len()),
        (code::RERUN_REQUESTED, 1, Some(123.5), 0, 2)
    );
    a.write(vec![WriteOp::T2Result {
        key: k.clone(),
        code: code::OK,
        body: Some(json!({"a": [1, 2.5, "x", null]})),
        meta: meta(3, "run", "A"),
        trials: 1,
        retry_after: None,
    }])
    .unwrap();
    a.write(vec![WriteOp::T2Code {
        key: k.clone(),
        code: code::NEW,
    }])
    .unwrap();
    let d = &a.t2(&T2Query::default()).unwrap()[0];
    assert_eq!(
        (d.code, d.trials, d.retry_after),
        (code::NEW, 0, None),
        "a reset clears trials and back-off"
    );
    assert_eq!(
        d.body,
        [json!({"a": [1, 2.5, "x", null]})],
        "results are kept"
    );
    assert_eq!(d.key(), k);
}

fn others(a: &mut dyn Archive) {
    let t3 = T3Doc {
        run: 4,
        process: "A:p".into(),
        unit: "T3LogSummary".into(),
        confid: 1,
        channel: "A".into(),
        stock: vec![9, 10],
        code: 0,
        meta: meta(4, "run", "A"),
        body: json!({"selected": 2}),
    };
    let event = |end: Option<f64>| EventDoc {
        run: 4,
        process: "job".into(),
        tier: None,
        start: 1.0,
        end,
        code: 0,
        counts: [("alerts".to_string(), 3i64)].into(),
        version: "v".into(),
        commit: None,
        job: None,
        host: None,
        pid: None,
        heartbeat: None,
        note: None,
    };
    let log = |stock: i64, channel: &str| LogDoc {
        run: 4,
        ts: 2.0,
        level: "info".into(),
        tier: Some(0),
        stock: Some(stock),
        channel: Some(channel.into()),
        alert: Some(1),
        msg: "rejected".into(),
        extra: Some(json!({"cut": "min_rb"})),
    };
    a.write(vec![
        WriteOp::T3(t3.clone()),
        WriteOp::Event(event(None)),
        WriteOp::Log(log(9, "A")),
        WriteOp::Log(log(10, "B")),
        WriteOp::Log(log(9, "B")),
        WriteOp::Config {
            id: 77,
            config: json!({"min_rb": 0.3}),
        },
        WriteOp::Config {
            id: 77,
            config: json!({"ignored": 1}),
        },
        WriteOp::Trouble(json!({"error": "bad"})),
    ])
    .unwrap();
    a.write(vec![WriteOp::Event(event(Some(5.0)))]).unwrap();
    assert_eq!(a.t3(Some(10)).unwrap(), [t3]);
    assert!(a.t3(Some(11)).unwrap().is_empty());
    assert_eq!(
        a.events().unwrap(),
        [event(Some(5.0))],
        "events are replaced by run"
    );
    assert_eq!(
        a.logs(&LogQuery {
            stock: Some(9),
            ..Default::default()
        })
        .unwrap()
        .len(),
        2
    );
    assert_eq!(
        a.logs(&LogQuery {
            channel: Some("B".into()),
            ..Default::default()
        })
        .unwrap()
        .len(),
        2
    );
    assert_eq!(
        a.logs(&LogQuery {
            limit: Some(1),
            ..Default::default()
        })
        .unwrap(),
        [log(9, "A")]
    );
    assert_eq!(a.config(77).unwrap(), Some(json!({"min_rb": 0.3})));
    assert_eq!(a.config(78).unwrap(), None);
    let c = a.counts().unwrap();
    assert_eq!(a.t2_count().unwrap(), c["t2"] as u64);
    assert_eq!(
        (c["t3"], c["log"], c["event"], c["conf"], c["trouble"]),
        (1, 3, 1, 1, 1)
    );
    assert_eq!(a.troubles().unwrap(), [json!({"error": "bad"})]);
    a.write(vec![]).unwrap();
}

fn round_trip(a: &mut dyn Archive) {
    // Bodies with every JSON kind and awkward floats come back identical.
    let mut d = dp(1, 9, "A", "ZTF_PUB");
    d.body = json!({
        "f32": f64::from(0.1_f32), "tiny": 5e-324, "big": 1.7976931348623157e308, "neg": -0.0,
        "int": i64::MAX, "min": i64::MIN, "s": "é\"\\\n", "n": null, "b": true, "l": [1, [2, {"x": 3}]],
    })
    .into();
    a.write(vec![WriteOp::DataPoint(d.clone())]).unwrap();
    assert_eq!(a.datapoints(9).unwrap()[0], d);
}

fn reaction(id: &str, dest: &str, items: &[(i64, &str)], created: f64) -> ReactionDoc {
    ReactionDoc {
        id: id.into(),
        destination: dest.into(),
        channel: "CH".into(),
        process: "p".into(),
        unit: "SlackPublisher".into(),
        run: 1,
        items: items.iter().map(|(s, d)| (*s, d.to_string())).collect(),
        key: Some("ZTF23aaaaaaa".into()),
        payload: json!({"text": "hi", "blocks": [{"type": "header"}]}),
        state: ReactionState::Pending,
        attempts: 0,
        next_try: created,
        error: None,
        created,
        updated: created,
    }
}

fn reactions(a: &mut dyn Archive) {
    let r1 = reaction("r1", "Slack:1", &[(10, "d10"), (11, "d11")], 100.0);
    let r2 = reaction("r2", "Slack:1", &[(12, "d12")], 101.0);
    let r3 = reaction("r3", "Gcn:2", &[(10, "g10")], 102.0);
    a.write(vec![
        WriteOp::Reaction(r1.clone()),
        WriteOp::Reaction(r2.clone()),
        WriteOp::Reaction(r3.clone()),
    ])
    .unwrap();
    // Planned again (a re-run): stored once, unchanged.
    let mut again = r1.clone();
    again.payload = json!({"text": "other"});
    a.write(vec![WriteOp::Reaction(again)]).unwrap();
    let all = a.reactions(&ReactionQuery::default()).unwrap();
    assert_eq!(all, vec![r1.clone(), r2.clone(), r3.clone()]);
    assert_eq!(a.counts().unwrap()["reaction"], 3);

    let mut items = a.reaction_items("Slack:1", &[10, 12, 99]).unwrap();
    items.sort();
    assert_eq!(
        items,
        vec![(10, "d10".to_string()), (12, "d12".to_string())]
    );
    assert_eq!(
        a.reaction_items("Gcn:2", &[10, 11]).unwrap(),
        vec![(10, "g10".to_string())]
    );

    let by = |a: &dyn Archive, q: ReactionQuery| -> Vec<String> {
        a.reactions(&q).unwrap().into_iter().map(|r| r.id).collect()
    };
    assert_eq!(
        by(
            a,
            ReactionQuery {
                destination: Some("Slack:1".into()),
                due_by: Some(100.5),
                states: vec![ReactionState::Pending],
                limit: None,
            }
        ),
        vec!["r1"]
    );
    assert_eq!(a.reactions_open("Slack:1", 100.5).unwrap(), (2, 1));
    assert_eq!(a.reactions_open("Nowhere:0", 100.5).unwrap(), (0, 0));
    assert_eq!(
        by(
            a,
            ReactionQuery {
                limit: Some(2),
                ..Default::default()
            }
        ),
        vec!["r1", "r2"]
    );

    let step = |id: &str, state, attempts, next_try, error: Option<&str>| WriteOp::ReactionState {
        id: id.into(),
        state,
        attempts,
        next_try,
        error: error.map(str::to_string),
        ts: 200.0,
    };
    a.write(vec![
        step("r1", ReactionState::Sending, 1, 100.0, None),
        step("r2", ReactionState::Failed, 5, 300.0, Some("HTTP 500")),
        step("r3", ReactionState::Uncertain, 1, 102.0, None),
    ])
    .unwrap();
    a.write(vec![step("r1", ReactionState::Delivered, 1, 100.0, None)])
        .unwrap();
    let get = |a: &dyn Archive, id: &str| {
        a.reactions(&ReactionQuery::default())
            .unwrap()
            .into_iter()
            .find(|r| r.id == id)
            .unwrap()
    };
    let d1 = get(a, "r1");
    assert_eq!(
        (d1.state, d1.attempts, d1.updated),
        (ReactionState::Delivered, 1, 200.0)
    );
    let d2 = get(a, "r2");
    assert_eq!(
        (d2.state, d2.attempts, d2.error.as_deref()),
        (ReactionState::Failed, 5, Some("HTTP 500"))
    );
    assert_eq!(
        by(
            a,
            ReactionQuery {
                states: vec![ReactionState::Failed, ReactionState::Uncertain],
                ..Default::default()
            }
        ),
        vec!["r2", "r3"]
    );

    // Re-arming a destination's failed reactions leaves others alone.
    a.write(vec![WriteOp::RearmReactions {
        destination: Some("Gcn:2".into()),
        uncertain: false,
        ts: 300.0,
    }])
    .unwrap();
    assert_eq!(get(a, "r2").state, ReactionState::Failed);
    a.write(vec![WriteOp::RearmReactions {
        destination: Some("Slack:1".into()),
        uncertain: false,
        ts: 300.0,
    }])
    .unwrap();
    let d2 = get(a, "r2");
    assert_eq!(
        (d2.state, d2.attempts, d2.next_try, d2.error.as_deref()),
        (ReactionState::Pending, 0, 300.0, Some("HTTP 500"))
    );
    assert_eq!(get(a, "r3").state, ReactionState::Uncertain);
    a.write(vec![WriteOp::RearmReactions {
        destination: None,
        uncertain: true,
        ts: 301.0,
    }])
    .unwrap();
    assert_eq!(get(a, "r3").state, ReactionState::Pending);
    assert_eq!(get(a, "r1").state, ReactionState::Delivered);
}

fn reaction_claims(a: &mut dyn Archive) {
    a.write(vec![
        WriteOp::Reaction(reaction("r1", "Slack:1", &[(10, "d10")], 100.0)),
        WriteOp::Reaction(reaction("r2", "Slack:1", &[(11, "d11")], 101.0)),
        WriteOp::Reaction(reaction("r3", "Gcn:2", &[(10, "g10")], 100.0)),
    ])
    .unwrap();
    let c = a.claim_reaction("Slack:1", 100.5).unwrap().unwrap();
    assert_eq!(
        (c.id.as_str(), c.state, c.attempts, c.updated),
        ("r1", ReactionState::Sending, 1, 100.5)
    );
    assert_eq!(
        a.claim_reaction("Slack:1", 100.5).unwrap(),
        None,
        "r2 is not due yet"
    );
    assert_eq!(
        a.claim_reaction("Slack:1", 200.0).unwrap().unwrap().id,
        "r2"
    );
    assert_eq!(
        a.claim_reaction("Slack:1", 200.0).unwrap(),
        None,
        "each once"
    );
    assert_eq!(a.reactions_open("Slack:1", 200.0).unwrap(), (2, 2));
    assert_eq!(a.claim_reaction("Gcn:2", 200.0).unwrap().unwrap().id, "r3");
    let stored = a.reactions(&ReactionQuery::default()).unwrap();
    assert!(stored
        .iter()
        .all(|r| r.state == ReactionState::Sending && r.attempts == 1));
}
