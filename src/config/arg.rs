//! A config given as inline JSON, or as `@path` to a YAML/JSON file.

use serde_json::Value as Json;
use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigArgError {
    #[error("config {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config {path}: {reason}")]
    Yaml { path: PathBuf, reason: String },
    #[error("config is not valid JSON (line {line}, column {column}): {reason}; pass @FILE to read YAML from a file")]
    Json {
        line: usize,
        column: usize,
        reason: String,
    },
}

/// Reads `arg` as JSON, or the YAML/JSON file named by `@path`.
pub fn load_config_arg(arg: &str) -> Result<Json, ConfigArgError> {
    if let Some(path) = arg.strip_prefix('@') {
        let path = PathBuf::from(path);
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigArgError::Io {
            path: path.clone(),
            source,
        })?;
        // YAML is a superset of JSON: one parser serves both.
        return serde_norway::from_str::<Json>(&text).map_err(|e| ConfigArgError::Yaml {
            path,
            reason: e.to_string(),
        });
    }
    serde_json::from_str(arg).map_err(|e| ConfigArgError::Json {
        line: e.line(),
        column: e.column(),
        reason: e.to_string(),
    })
}
