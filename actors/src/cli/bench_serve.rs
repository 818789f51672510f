//! `ampel bench serve`: how long the web view takes to render the stock
//! page of a stock with N datapoints (the archive read, the SVG light curve
//! and the HTML), on a fresh embedded archive holding that one stock with
//! four T2 results.

use ampel::store::{code, Archive, DataPointDoc, JournalEntry, SqliteArchive, T2Doc, WriteOp};
use clap::Args;
use serde_json::json;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct BenchServeArgs {
    /// Datapoints of the stock (a third of them upper limits).
    #[arg(long, default_value_t = 1000)]
    datapoints: usize,
    /// Renders timed.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
}

const STOCK: i64 = 227_235_878; // ZTF23abfcbgc

fn datapoints(n: usize) -> Vec<WriteOp> {
    (0..n)
        .map(|i| {
            let jd = 2_460_000.5 + i as f64 * 0.37;
            let fid = 1 + (i % 2) as i64;
            let (id, body) = if i % 3 == 2 {
                (-(1_000_000 + i as i64), json!({"jd": jd, "fid": fid, "diffmaglim": 20.5, "rcid": 3, "programid": 1}))
            } else {
                let mag = 19.0 + (i as f64 * 0.05).sin();
                (2_400_000_000_000_000_000 + i as i64, json!({"jd": jd, "fid": fid, "magpsf": mag, "sigmapsf": 0.08, "ra": 128.45, "dec": 15.46}))
            };
            WriteOp::DataPoint(DataPointDoc {
                id,
                stock: vec![STOCK],
                channel: vec!["BENCH".into()],
                tag: vec!["ZTF".into()],
                meta: vec![],
                body: body.into(),
            })
        })
        .collect()
}

fn t2(unit: &str) -> WriteOp {
    WriteOp::T2Ticket(T2Doc {
        stock: STOCK,
        unit: unit.into(),
        config: 1,
        link: 7,
        col: None,
        channel: vec!["BENCH".into()],
        tag: vec![],
        code: code::NEW,
        meta: vec![],
        body: vec![json!({"ndet": 666, "note": "a result body"})],
        trials: 0,
        retry_after: None,
        claimed_at: None,
    })
}

pub fn run(args: BenchServeArgs) -> anyhow::Result<ExitCode> {
    let dir = std::env::temp_dir().join(format!("ampel-bench-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("serve.sqlite");
    let mut a = SqliteArchive::open(path.to_str().expect("utf-8 temp path"))?;
    let mut ops = datapoints(args.datapoints);
    ops.push(WriteOp::Stock {
        stock: STOCK,
        channel: "BENCH".into(),
        names: vec!["ZTF23abfcbgc".into()],
        tags: vec!["ZTF".into()],
        journal: JournalEntry {
            run: 1,
            ts: 1.7e9,
            tier: 0,
            process: "bench".into(),
            action: "accept".into(),
            channel: vec!["BENCH".into()],
            alert: Some(1),
            extra: None,
        },
    });
    for u in [
        "T2LightCurveSummary",
        "T2TemplateMatch",
        "T2MultiMessMatch",
        "T2TutorialDecision",
    ] {
        ops.push(t2(u));
    }
    a.write(ops)?;
    drop(a);
    let ro = ampel_actors::store::open_archive_read_only(&format!("sqlite:{}", path.display()))?;
    let first = ampel_actors::serve::render_stock_page(ro.as_ref(), "ZTF23abfcbgc")?
        .expect("the stock was written");
    let mut times = Vec::with_capacity(args.rounds as usize);
    for _ in 0..args.rounds {
        let t = Instant::now();
        let page = ampel_actors::serve::render_stock_page(ro.as_ref(), "ZTF23abfcbgc")?;
        times.push(t.elapsed().as_secs_f64());
        assert!(page.is_some());
    }
    drop(ro);
    let _ = std::fs::remove_dir_all(&dir);
    times.sort_by(f64::total_cmp);
    let pct = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "{}",
        json!({
            "datapoints": args.datapoints, "rounds": args.rounds, "page_bytes": first.len(),
            "markers": first.matches("<circle").count() + first.matches("<polygon").count(),
            "render_seconds_p50": pct(0.5), "render_seconds_p95": pct(0.95), "render_seconds_max": pct(1.0),
        })
    );
    Ok(ExitCode::SUCCESS)
}
