//! Reading alerts for the CLI: sources -> decoder, with every failing record
//! reported on stderr (file, member, reason) and counted, never fatal.

use super::InputArgs;
use ampel::alert::Alert;
use ampel::avro::SchemaRegistry;
use ampel::source::{for_each_alert, Origin, RawAlert};
use ampel::AlertDecoder;
use anyhow::Context;
use std::io::Write;
use std::ops::ControlFlow;
use std::process::ExitCode;

/// Counts of one pass over the inputs.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub alerts: u64,
    pub failed: u64,
}

impl Tally {
    pub fn exit_code(&self) -> ExitCode {
        if self.failed > 0 {
            ExitCode::from(3)
        } else {
            ExitCode::SUCCESS
        }
    }
}

pub fn decoder(args: &InputArgs) -> anyhow::Result<AlertDecoder> {
    let registry = match &args.schemas {
        Some(dir) => SchemaRegistry::from_dir(dir)
            .with_context(|| format!("loading the schema registry {}", dir.display()))?,
        None => SchemaRegistry::builtin(),
    };
    Ok(AlertDecoder::new().with_registry(registry))
}

/// Reads every message under `paths` into memory (benchmarks), reporting
/// unreadable ones; returns them and the seconds it took.
pub fn load_all(paths: &[std::path::PathBuf], tally: &mut Tally) -> (Vec<RawAlert>, f64) {
    let t0 = std::time::Instant::now();
    let mut messages = Vec::new();
    for_each_alert(paths, |item| {
        match item {
            Ok(raw) => messages.push(raw),
            Err(e) => {
                tally.failed += 1;
                eprintln!("error: {e}");
            }
        }
        ControlFlow::Continue(())
    });
    (messages, t0.elapsed().as_secs_f64())
}

/// Decodes one message, reporting a failure against its origin.
pub fn decode_reported(decoder: &AlertDecoder, raw: RawAlert, tally: &mut Tally) -> Vec<Alert> {
    match decoder.decode(raw.bytes) {
        Ok(alerts) => {
            tally.alerts += alerts.len() as u64;
            alerts
        }
        Err(e) => {
            tally.failed += 1;
            report(&raw.origin, &e);
            Vec::new()
        }
    }
}

pub fn report(origin: &Origin, e: &dyn std::fmt::Display) {
    eprintln!("error: {origin}: {e}");
}

/// Streams, decodes and hands over every alert of the inputs.
pub fn for_each_decoded(args: &InputArgs, mut f: impl FnMut(Alert)) -> anyhow::Result<Tally> {
    let decoder = decoder(args)?;
    let mut tally = Tally::default();
    for_each_alert(&args.paths, |item| {
        match item {
            Ok(raw) => decode_reported(&decoder, raw, &mut tally)
                .into_iter()
                .for_each(&mut f),
            Err(e) => {
                tally.failed += 1;
                eprintln!("error: {e}");
            }
        }
        ControlFlow::Continue(())
    });
    Ok(tally)
}

/// Writes one line per alert of the inputs to stdout (buffered), as made by
/// `line`; the exit code reflects records that failed.
pub fn print_json_lines(
    args: &InputArgs,
    mut line: impl FnMut(&Alert) -> String,
) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut io_err = None;
    let tally = for_each_decoded(args, |alert| {
        if io_err.is_none() {
            if let Err(e) = writeln!(out, "{}", line(&alert)) {
                io_err = Some(e);
            }
        }
    })?;
    if let Some(e) = io_err {
        return Err(e.into());
    }
    out.flush()?;
    Ok(tally.exit_code())
}
