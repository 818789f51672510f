//! `ampel config hash`: AMPEL's config id of a config.

use ampel::config::load_config_arg;
use ampel::id::config_id;
use std::process::ExitCode;

pub fn run(arg: &str) -> anyhow::Result<ExitCode> {
    let config = load_config_arg(arg)?;
    println!("{}", config_id(&config)?);
    Ok(ExitCode::SUCCESS)
}
