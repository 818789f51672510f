//! The `ampel` command: replays, the live actor-based broker (`run` from
//! Kafka, `worker t2`), inspection, filtering and benchmarks.
//!
//! Exit status: 0 success, 2 bad usage or configuration, 3 when any record
//! could not be decoded or shaped (the others were still processed), 4 when
//! a catch-up Kafka run received nothing because its brokers were
//! unreachable, 5 when the archive failed during a live run (nothing
//! unstored was committed), 6 when reactions of a replay or catch-up run
//! were not delivered (they are recorded and tried again at the next run),
//! 8 when a T3 unit failed (its output is missing; the run's event is not
//! OK).

mod cli;

use clap::Parser;
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: a replay allocates and frees many
/// small documents, and glibc's malloc, free and consolidation were 13% of
/// an accept-all replay's samples (perf).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Logs go to stderr: `AMPEL_LOG` filters (default `info`; e.g.
/// `ampel_actors=debug`), `AMPEL_LOG_FORMAT=json` gives one JSON object per
/// line (with the run span's run id and job).
fn init_logs() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("AMPEL_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if std::env::var("AMPEL_LOG_FORMAT").is_ok_and(|f| f == "json") {
        b.json().init();
    } else {
        b.init();
    }
}

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    init_logs();
    match cli::run(args) {
        Ok(code) => code,
        // A closed stdout (`ampel alert show ... | head`) ends output quietly.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
