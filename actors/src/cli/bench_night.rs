//! `ampel bench night`: a whole night at scale. The night is made from the
//! job's real alerts (`crate::synth::night`: recurring objects with growing
//! histories, upper limits shared per exposure), written to disk before
//! the clock starts, then replayed slice by slice (a tenth of the night
//! each, in time order) into one archive, each slice a run with all its
//! tiers (T0, T1, T2 with tied units, the scheduled T3). Per slice: its
//! throughput, T2 runs/s, the process's RSS and the archive's size, so the
//! cost of the last tenth (into an archive holding nine) shows beside the
//! first's (into an empty one).

use super::input::{load_all, Tally};
use ampel_actors::store::open_archive;
use ampel_actors::synth::night::{Night, Templates};
use anyhow::Context;
use clap::Args;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct BenchNightArgs {
    /// Alerts in the night (ZTF's nights reach 1.2 million).
    #[arg(long, default_value_t = 100_000)]
    alerts: u64,
    /// Job file: its channels, and its alert files as the night's templates.
    #[arg(long, default_value = "config/bench/night.yml")]
    job: PathBuf,
    /// Archive to fill (e.g. mongodb://HOST:PORT/DB, emptied first is up to
    /// you); default: a fresh embedded archive in the work directory.
    #[arg(long)]
    store: Option<String>,
    /// Share of the night's alerts that are Rubin (lsst.v9_0) packets,
    /// made from the job's Rubin alerts; 0 for a ZTF-only night.
    #[arg(long, default_value_t = 0.2)]
    rubin_share: f64,
    /// Slices the night is replayed in.
    #[arg(long, default_value_t = 10)]
    slices: usize,
    /// Where the night's files and the embedded archive go (default: a
    /// temporary directory, removed afterwards).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep the night's files and the archive.
    #[arg(long)]
    keep: bool,
    /// Leave the cutouts in the packets (~16x larger files), so the job's
    /// `store: {cutouts: ...}` setting has stamps to store: what keeping
    /// them costs.
    #[arg(long)]
    with_cutouts: bool,
}

/// This process's resident set now and at its peak, bytes.
fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    (kb("VmRSS:"), kb("VmHWM:"))
}

/// Bytes of an embedded archive (with its write-ahead log); None for
/// servers.
fn archive_bytes(address: &str) -> Option<u64> {
    let path = address.strip_prefix("sqlite:")?;
    let size = |p: &str| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    Some(size(path) + size(&format!("{path}-wal")))
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

pub fn run(args: BenchNightArgs) -> anyhow::Result<ExitCode> {
    let mut pipeline = super::run::pipeline(&args.job)?;
    let (templates, _) = load_all(&pipeline.job.source.paths, &mut Tally::default());
    let bytes: Vec<Vec<u8>> = templates.iter().map(|r| r.bytes.to_vec()).collect();
    let templates = Templates::from_containers(&bytes)
        .with_context(|| format!("the templates of {}", args.job.display()))?;
    let temp = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => std::env::temp_dir().join(format!("ampel-bench-night-{}", std::process::id())),
    };
    std::fs::create_dir_all(&temp)?;
    let embedded = temp.join("night.sqlite");
    if args.store.is_none() && embedded.exists() {
        anyhow::bail!(
            "{} is left from an earlier night: a night replayed into it would measure re-ingestion (no new documents, no T2 runs); remove it or give another --dir",
            embedded.display()
        );
    }
    let made = Instant::now();
    let mut last = Instant::now();
    if !(0.0..=1.0).contains(&args.rubin_share) {
        anyhow::bail!(
            "--rubin-share {} is not a share between 0 and 1",
            args.rubin_share
        );
    }
    let night = Night::new(&templates, args.alerts, args.rubin_share)
        .with_context(|| {
            format!(
                "--rubin-share {}: the job {} has no Rubin alerts among its source paths",
                args.rubin_share,
                args.job.display()
            )
        })?
        .with_cutouts(args.with_cutouts);
    let slices = night.write(&temp, args.slices, &mut |done, total| {
        if last.elapsed().as_secs_f64() >= 2.0 || done == total {
            eprintln!("making the night: {done} of {total} alerts");
            last = Instant::now();
        }
    })?;
    let night_bytes: u64 = slices
        .iter()
        .map(|(p, _)| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    let make_seconds = made.elapsed().as_secs_f64();
    eprintln!(
        "night: {} alerts ({:.0}% Rubin) in {} slices, {:.0} MiB, made in {make_seconds:.1} s",
        args.alerts,
        args.rubin_share * 100.0,
        slices.len(),
        mib(night_bytes)
    );

    let address = args
        .store
        .clone()
        .unwrap_or_else(|| format!("sqlite:{}", embedded.display()));
    let mut archive =
        open_archive(&address).with_context(|| format!("opening the archive {address}"))?;
    let version = super::run::version();
    let mut rows = Vec::new();
    let (mut alerts, mut t2_runs, mut seconds) = (0u64, 0u64, 0f64);
    eprintln!("| slice | alerts so far | alerts/s | T2 runs/s | accepted | RSS MiB | peak MiB | archive bytes/alert |");
    for (i, (path, _)) in slices.iter().enumerate() {
        let input = ampel::run::Input::Paths(vec![path.clone()]);
        let s = pipeline.replay_from(input, archive.as_mut(), &version, &mut |_| {})?;
        alerts += s.alerts;
        t2_runs += s.t2_runs;
        seconds += s.seconds;
        let (now, peak) = rss();
        let size = archive_bytes(&address);
        let accepted: u64 = s.accepted.values().sum();
        let row = json!({
            "slice": i + 1, "alerts": alerts, "slice_alerts": s.alerts,
            "seconds": s.seconds, "alerts_per_s": s.alerts as f64 / s.seconds.max(1e-9),
            "t2_runs": s.t2_runs, "t2_runs_per_s": s.t2_runs as f64 / s.seconds.max(1e-9),
            "accepted": accepted, "accepted_by_channel": s.accepted, "failed": s.failed, "rss_bytes": now, "peak_rss_bytes": peak,
            "archive_bytes": size,
            "archive_bytes_per_alert": size.map(|b| b as f64 / alerts.max(1) as f64),
        });
        eprintln!(
            "| {} | {alerts} | {:.0} | {:.0} | {accepted} | {:.0} | {:.0} | {} |",
            i + 1,
            row["alerts_per_s"].as_f64().unwrap_or(0.0),
            row["t2_runs_per_s"].as_f64().unwrap_or(0.0),
            mib(now),
            mib(peak),
            size.map_or("n/a".into(), |b| format!(
                "{:.0}",
                b as f64 / alerts.max(1) as f64
            )),
        );
        rows.push(row);
    }
    let at = |fraction: f64| {
        let want = (fraction * alerts as f64).round() as u64;
        rows.iter()
            .find(|r| r["alerts"].as_u64().unwrap_or(0) >= want)
            .cloned()
            .unwrap_or(json!(null))
    };
    let (_, peak) = rss();
    let report = json!({
        "alerts": alerts, "seconds": seconds,
        "alerts_per_s": alerts as f64 / seconds.max(1e-9),
        "t2_runs": t2_runs, "t2_runs_per_s": t2_runs as f64 / seconds.max(1e-9),
        "peak_rss_bytes": peak,
        "archive": if address.starts_with("sqlite:") { "embedded" } else { "server" },
        "archive_bytes_per_alert": archive_bytes(&address).map(|b| b as f64 / alerts.max(1) as f64),
        "night_bytes": night_bytes, "make_seconds": make_seconds, "rubin_share": args.rubin_share, "with_cutouts": args.with_cutouts,
        "at_10_percent": at(0.1), "at_50_percent": at(0.5), "at_100_percent": at(1.0),
        "slices": rows,
    });
    drop(archive);
    if args.keep || args.dir.is_some() {
        eprintln!("night and archive kept in {}", temp.display());
    } else {
        remove(&temp);
    }
    println!("{report}");
    Ok(ExitCode::SUCCESS)
}

fn remove(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}
