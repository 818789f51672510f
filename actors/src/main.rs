//! The `ampel` command: inspection, filtering and benchmarks over alert
//! archives now; the live, actor-based broker in later steps.
//!
//! Exit status: 0 success, 2 bad usage or configuration, 3 when any record
//! could not be decoded or shaped (the others were still processed), 4 when
//! a Kafka run received nothing because its brokers were unreachable.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
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
