//! `ampel serve`: the web view of an archive (see `ampel_actors::serve`).

use ampel_actors::serve::{run, ServeConfig};
use clap::Args;
use std::net::SocketAddr;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Archive address (sqlite:PATH or mongodb://...), opened read-only.
    #[arg(long, env = "AMPEL_STORE", default_value = ampel::job::DEFAULT_ARCHIVE)]
    store: String,
    /// Address to listen on; anything but loopback needs --token.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Bearer token every request must carry (`Authorization: Bearer
    /// TOKEN`).
    #[arg(long, env = "AMPEL_SERVE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Worker threads, each with its own archive connection.
    #[arg(long, default_value_t = 2)]
    workers: usize,
}

pub fn run_serve(a: ServeArgs) -> anyhow::Result<ExitCode> {
    run(ServeConfig {
        store: a.store,
        listen: a.listen,
        token: a.token.filter(|t| !t.is_empty()),
        workers: a.workers,
    })?;
    Ok(ExitCode::SUCCESS)
}
