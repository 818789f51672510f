//! Inspecting an archive: `stock show`, `t2 show`, `t2 reset`, `event show`,
//! `log show`. JSON with `--json`, readable tables otherwise.

use ampel::store::{code, Archive, LogQuery, StockDoc, T2Query, WriteOp};
use ampel_actors::store::{embedded_path, is_mongo, open_archive, open_archive_read_only};
use anyhow::{bail, Context};
use clap::Args;
use serde_json::{json, Value as Json};
use std::io::Write;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct StoreArg {
    /// Archive address (sqlite:PATH or mongodb://...).
    #[arg(long, env = "AMPEL_STORE", default_value = ampel::job::DEFAULT_ARCHIVE)]
    pub(crate) store: String,
    /// Use the archive of this job file (its `store.archive`) instead of
    /// --store.
    #[arg(long, value_name = "FILE")]
    pub(crate) job: Option<std::path::PathBuf>,
    /// JSON output (one document per line) instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

impl StoreArg {
    /// The archive's address: the job's, or --store.
    fn address(&self) -> anyhow::Result<String> {
        match &self.job {
            Some(file) => Ok(ampel::job::Job::load(file)
                .map_err(|e| anyhow::anyhow!("{e}"))
                .with_context(|| format!("reading the job {}", file.display()))?
                .archive),
            None => Ok(self.store.clone()),
        }
    }

    /// Opens the archive for reading only: inspection changes nothing
    /// (and works on a file it may not write).
    pub(crate) fn open(&self) -> anyhow::Result<Box<dyn Archive>> {
        let address = self.address()?;
        Self::exists(&address)?;
        open_archive_read_only(&address).with_context(|| format!("opening {address}"))
    }

    /// Opens the archive for writing (`t2 reset`).
    pub(crate) fn open_writable(&self) -> anyhow::Result<Box<dyn Archive>> {
        let address = self.address()?;
        Self::exists(&address)?;
        open_archive(&address).with_context(|| format!("opening {address}"))
    }

    /// An embedded archive must exist: inspection never creates one.
    fn exists(address: &str) -> anyhow::Result<()> {
        if is_mongo(address) {
            return Ok(());
        }
        let path = embedded_path(address)?;
        if path != ":memory:" && !std::path::Path::new(path).exists() {
            bail!(
                "no archive at {path} (run a job first, or pass --store sqlite:PATH or --job FILE)"
            );
        }
        Ok(())
    }
}

/// A T2 code by name (`OK`, `ERROR`, `UNIT_3`...) or number.
fn parse_code(s: &str) -> Result<i64, String> {
    s.parse::<i64>().ok().or_else(|| code::from_name(s)).ok_or_else(|| {
        format!("{s:?} is not a T2 code: a number or a name such as OK, NEW, ERROR, EXCEPTION, RUNNING, UNIT_1")
    })
}

fn code_text(c: i64) -> String {
    format!("{c} {}", code::name(c))
}

fn short(v: &Json, n: usize) -> String {
    let s = v.to_string();
    if s.chars().count() > n {
        format!("{}...", s.chars().take(n).collect::<String>())
    } else {
        s
    }
}

/// A T2 document as a table row: stock, unit, config, link, code,
/// channels, latest body (cut to `width`).
fn t2_row(d: &ampel::store::T2Doc, width: usize) -> Vec<String> {
    vec![
        d.stock.to_string(),
        d.unit.clone(),
        d.config.to_string(),
        d.link.to_string(),
        code_text(d.code),
        d.channel.join(","),
        d.latest_body().map(|b| short(b, width)).unwrap_or_default(),
    ]
}

fn table(out: &mut impl Write, headers: &[&str], rows: Vec<Vec<String>>) -> std::io::Result<()> {
    let mut w: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = w[i]))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    writeln!(
        out,
        "{}",
        line(headers.iter().map(|h| h.to_string()).collect())
    )?;
    for r in rows {
        writeln!(out, "{}", line(r))?;
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct StockShowArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Stock id or name (e.g. ZTF23abcdefg).
    id: String,
}

fn find_stock(a: &dyn Archive, id: &str) -> anyhow::Result<StockDoc> {
    let found = match id.parse::<i64>() {
        Ok(n) => a.stock(n)?,
        Err(_) => a.stock_by_name(id)?,
    };
    found.with_context(|| format!("no stock {id} in {}", a.location()))
}

pub fn stock_show(args: StockShowArgs) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let a = args.store.open()?;
    let s = find_stock(a.as_ref(), &args.id)?;
    let dps = a.datapoints(s.stock)?;
    let states = a.states(s.stock)?;
    let t2 = a.t2(&T2Query {
        stock: Some(s.stock),
        ..Default::default()
    })?;
    let t3 = a.t3(Some(s.stock))?;
    if args.store.json {
        writeln!(
            out,
            "{}",
            json!({"stock": s, "datapoints": dps, "states": states, "t2": t2, "t3": t3})
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "stock {}  names {:?}  channels {:?}  tags {:?}",
        s.stock, s.name, s.channel, s.tag
    )?;
    writeln!(out, "\njournal")?;
    table(
        &mut out,
        &["run", "tier", "process", "action", "channel", "alert"],
        s.journal
            .iter()
            .map(|j| {
                vec![
                    j.run.to_string(),
                    j.tier.to_string(),
                    j.process.clone(),
                    j.action.clone(),
                    j.channel.join(","),
                    j.alert.map(|x| x.to_string()).unwrap_or_default(),
                ]
            })
            .collect(),
    )?;
    writeln!(out, "\ndatapoints ({})", dps.len())?;
    table(
        &mut out,
        &["id", "tags", "channels", "jd"],
        dps.iter()
            .map(|d| {
                vec![
                    d.id.to_string(),
                    d.tag.join(","),
                    d.channel.join(","),
                    // ZTF's jd; Rubin's MJD (TAI) as a Julian date.
                    d.body
                        .get("jd")
                        .map(|v| v.to_string())
                        .or_else(|| {
                            let mjd = d.body.get("midpointMjdTai")?.as_f64()?;
                            Some(format!("{:.6}", mjd + 2_400_000.5))
                        })
                        .unwrap_or_default(),
                ]
            })
            .collect(),
    )?;
    writeln!(out, "\nstates")?;
    table(
        &mut out,
        &["link", "datapoints", "channels"],
        states
            .iter()
            .map(|s| {
                vec![
                    s.link.to_string(),
                    s.dps.len().to_string(),
                    s.channel.join(","),
                ]
            })
            .collect(),
    )?;
    writeln!(out, "\nt2")?;
    table(
        &mut out,
        &["unit", "config", "link", "code", "channels", "body"],
        t2.iter().map(|d| t2_row(d, 80)[1..].to_vec()).collect(),
    )?;
    writeln!(out, "\nt3")?;
    table(
        &mut out,
        &["run", "process", "unit", "code"],
        t3.iter()
            .map(|d| {
                vec![
                    d.run.to_string(),
                    d.process.clone(),
                    d.unit.clone(),
                    code_text(d.code),
                ]
            })
            .collect(),
    )?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct T2ShowArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Only documents of this unit.
    #[arg(long)]
    unit: Option<String>,
    /// Only documents with this code: a name (OK, ERROR, NEW, UNIT_1...)
    /// or a number.
    #[arg(long, allow_hyphen_values = true, value_parser = parse_code)]
    code: Option<i64>,
    /// Only this stock (id or name).
    #[arg(long)]
    stock: Option<String>,
}

pub fn t2_show(args: T2ShowArgs) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let a = args.store.open()?;
    let stock = match &args.stock {
        Some(s) => Some(find_stock(a.as_ref(), s)?.stock),
        None => None,
    };
    if let Some(unit) = &args.unit {
        let units: std::collections::BTreeSet<String> =
            a.t2_outcomes()?.into_keys().map(|(u, _)| u).collect();
        if !units.contains(unit) {
            let known: Vec<&str> = units.iter().map(String::as_str).collect();
            bail!(
                "no T2 documents of unit {unit} in {} (units there: {})",
                a.location(),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            );
        }
    }
    let docs = a.t2(&T2Query {
        stock,
        unit: args.unit.clone(),
        code: args.code,
        ..Default::default()
    })?;
    if args.store.json {
        for d in &docs {
            writeln!(
                out,
                "{}",
                json!({"stock": d.stock, "unit": d.unit, "config": d.config, "link": d.link,
                    "channel": d.channel, "code": d.code, "body": d.latest_body()})
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    table(
        &mut out,
        &[
            "stock", "unit", "config", "link", "code", "channels", "body",
        ],
        docs.iter().map(|d| t2_row(d, 60)).collect(),
    )?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct T2ResetArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Only documents of this unit.
    #[arg(long)]
    unit: Option<String>,
    /// Only documents with this code: a name (EXCEPTION, ERROR...) or a
    /// number (-4).
    #[arg(long, allow_hyphen_values = true, value_parser = parse_code)]
    code: Option<i64>,
    /// Only this stock (id or name).
    #[arg(long)]
    stock: Option<String>,
}

/// Sets matching T2 documents back to NEW (trials cleared), so the next run
/// computes them again; results already stored are kept in the body history.
pub fn t2_reset(args: T2ResetArgs) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let mut a = args.store.open_writable()?;
    let stock = match &args.stock {
        Some(s) => Some(find_stock(a.as_ref(), s)?.stock),
        None => None,
    };
    if args.unit.is_none() && args.code.is_none() && stock.is_none() {
        bail!("name what to reset: --unit, --code and/or --stock");
    }
    let docs = a.t2(&T2Query {
        stock,
        unit: args.unit,
        code: args.code,
        ..Default::default()
    })?;
    let n = docs.len();
    a.write(
        docs.into_iter()
            .map(|d| WriteOp::T2Code {
                key: d.key(),
                code: code::NEW,
            })
            .collect(),
    )?;
    eprintln!("reset {n} T2 document(s) to NEW");
    if args.store.json {
        writeln!(out, "{}", json!({"reset": n}))?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn event_show(args: StoreArg) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let a = args.open()?;
    let events = a.events()?;
    if args.json {
        for e in &events {
            writeln!(out, "{}", serde_json::to_string(e)?)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    table(
        &mut out,
        &[
            "run", "process", "start", "seconds", "code", "counts", "version", "note",
        ],
        events
            .iter()
            .map(|e| {
                vec![
                    e.run.to_string(),
                    e.process.clone(),
                    format!("{:.0}", e.start),
                    e.end
                        .map(|x| format!("{:.2}", x - e.start))
                        .unwrap_or_else(|| "running?".into()),
                    code_text(e.code),
                    short(&json!(e.counts), 70),
                    format!("{} {}", e.version, e.commit.clone().unwrap_or_default()),
                    // Why a run ended as it did (interrupted, closed by a
                    // later run): the code alone does not say.
                    e.note.clone().unwrap_or_default(),
                ]
            })
            .collect(),
    )?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct LogShowArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Only lines of this run.
    #[arg(long)]
    run: Option<i64>,
    /// Only lines about this stock (id or name, e.g. ZTF23abfcbgc).
    #[arg(long)]
    stock: Option<String>,
    /// Only lines of this channel.
    #[arg(long)]
    channel: Option<String>,
    /// At most this many lines.
    #[arg(long, default_value_t = 1000)]
    limit: usize,
}

pub fn log_show(args: LogShowArgs) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let a = args.store.open()?;
    let stock = match &args.stock {
        Some(s) => Some(find_stock(a.as_ref(), s)?.stock),
        None => None,
    };
    let logs = a.logs(&LogQuery {
        run: args.run,
        stock,
        channel: args.channel.clone(),
        limit: Some(args.limit),
    })?;
    if args.store.json {
        for l in &logs {
            writeln!(out, "{}", serde_json::to_string(l)?)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    table(
        &mut out,
        &[
            "run", "level", "tier", "channel", "stock", "alert", "msg", "extra",
        ],
        logs.iter()
            .map(|l| {
                vec![
                    l.run.to_string(),
                    l.level.clone(),
                    l.tier.map(|t| t.to_string()).unwrap_or_default(),
                    l.channel.clone().unwrap_or_default(),
                    l.stock.map(|x| x.to_string()).unwrap_or_default(),
                    l.alert.map(|x| x.to_string()).unwrap_or_default(),
                    l.msg.clone(),
                    l.extra.as_ref().map(|e| short(e, 80)).unwrap_or_default(),
                ]
            })
            .collect(),
    )?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct TroubleShowArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Write each dead letter's message into DIR (as NNN.avro), to feed a
    /// later run once the cause is fixed.
    #[arg(long, value_name = "DIR")]
    export: Option<std::path::PathBuf>,
}

/// Dead letters (messages that could not be processed, with the reason and
/// the message itself) and other trouble reports.
pub fn trouble_show(args: TroubleShowArgs) -> anyhow::Result<ExitCode> {
    use base64::Engine;
    let mut out = std::io::stdout().lock();
    let a = args.store.open()?;
    let troubles = a.troubles()?;
    if let Some(dir) = &args.export {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut n = 0;
        for (i, t) in troubles.iter().enumerate() {
            if let Some(p) = t.get("payload_base64").and_then(Json::as_str) {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(p)
                    .with_context(|| format!("dead letter {i}: payload is not base64"))?;
                let path = dir.join(format!("{i:06}.avro"));
                std::fs::write(&path, bytes)
                    .with_context(|| format!("writing {}", path.display()))?;
                n += 1;
            }
        }
        eprintln!("exported {n} dead letter(s) to {}", dir.display());
    }
    if args.store.json {
        for t in &troubles {
            writeln!(out, "{t}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    table(
        &mut out,
        &["run", "kind", "origin", "bytes", "error"],
        troubles
            .iter()
            .map(|t| {
                let s = |k: &str| {
                    t.get(k)
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                        .unwrap_or_default()
                };
                vec![s("run"), s("kind"), s("origin"), s("bytes"), s("error")]
            })
            .collect(),
    )?;
    Ok(ExitCode::SUCCESS)
}
