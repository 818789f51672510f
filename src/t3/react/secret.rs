//! Secrets for reactions (webhook URLs, bot tokens, HMAC keys, OIDC client
//! secrets). A config names *where* a secret is, never the secret itself:
//! `{env: SLACK_WEBHOOK_URL}`, `{file: /etc/ampel/slack-url}` or
//! `{secret: slack-url}` (a file in the mounted secrets directory,
//! `$AMPEL_SECRETS_DIR`, by default `/run/secrets/ampel`, as a Kubernetes
//! Secret volume provides). So the stored config, its id, the t3 documents
//! and the logs only ever hold the reference. A resolved value prints as
//! `***` in every `Debug`/`Display`.

use crate::config::ConfigProblem;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use thiserror::Error;

/// Where a secret is read from: exactly one of the three.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Secret {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// The default mounted secrets directory.
pub const SECRETS_DIR: &str = "/run/secrets/ampel";

#[derive(Debug, Error, PartialEq)]
pub enum SecretError {
    #[error("secret {0}: environment variable is not set")]
    EnvMissing(String),
    #[error("secret {reference}: cannot read {path}: {reason}")]
    Unreadable {
        reference: String,
        path: String,
        reason: String,
    },
    #[error("secret {0} is empty")]
    Empty(String),
    #[error("a secret reference needs exactly one of env, file or secret (got {0})")]
    Ambiguous(String),
}

impl Secret {
    pub fn env(name: &str) -> Self {
        Secret {
            env: Some(name.into()),
            ..Default::default()
        }
    }

    /// How the reference reads in messages (never the value).
    pub fn describe(&self) -> String {
        match (&self.env, &self.file, &self.secret) {
            (Some(e), None, None) => format!("env {e}"),
            (None, Some(f), None) => format!("file {}", f.display()),
            (None, None, Some(s)) => format!("mounted secret {s}"),
            _ => format!("{self:?}"),
        }
    }

    /// Reads the value (trailing newline trimmed); `secrets_dir` is the
    /// mounted directory for `{secret: NAME}`.
    pub fn resolve(&self, secrets_dir: &std::path::Path) -> Result<SecretValue, SecretError> {
        let reference = self.describe();
        let read = |path: PathBuf| {
            std::fs::read_to_string(&path).map_err(|e| SecretError::Unreadable {
                reference: reference.clone(),
                path: path.display().to_string(),
                reason: e.kind().to_string(),
            })
        };
        let raw = match (&self.env, &self.file, &self.secret) {
            (Some(e), None, None) => {
                std::env::var(e).map_err(|_| SecretError::EnvMissing(reference.clone()))?
            }
            (None, Some(f), None) => read(f.clone())?,
            (None, None, Some(s)) => read(secrets_dir.join(s))?,
            _ => return Err(SecretError::Ambiguous(reference)),
        };
        let v = raw.trim_end_matches(['\n', '\r']).to_string();
        if v.is_empty() {
            return Err(SecretError::Empty(reference));
        }
        Ok(SecretValue(v))
    }

    /// Config check: exactly one source.
    pub fn check(&self, path: &str, problems: &mut Vec<ConfigProblem>) {
        let n = [
            self.env.is_some(),
            self.file.is_some(),
            self.secret.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if n != 1 {
            problems.push(ConfigProblem::new(
                path,
                "a secret is {env: NAME}, {file: PATH} or {secret: NAME} (exactly one)",
            ));
        }
    }
}

/// The secrets directory in force: `$AMPEL_SECRETS_DIR` or [`SECRETS_DIR`].
pub fn secrets_dir() -> PathBuf {
    std::env::var_os("AMPEL_SECRETS_DIR").map_or_else(|| PathBuf::from(SECRETS_DIR), PathBuf::from)
}

/// A resolved secret. Deliberately not `Serialize`, and redacted when printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A URL given in the open or, when it carries a credential (a Slack
/// incoming-webhook URL does), as a secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum UrlSource {
    Plain(String),
    Secret(Secret),
}

impl UrlSource {
    pub fn resolve(&self, secrets_dir: &std::path::Path) -> Result<SecretValue, SecretError> {
        match self {
            UrlSource::Plain(u) => Ok(SecretValue(u.clone())),
            UrlSource::Secret(s) => s.resolve(secrets_dir),
        }
    }

    pub fn check(&self, path: &str, problems: &mut Vec<ConfigProblem>) {
        match self {
            UrlSource::Plain(u) if !(u.starts_with("http://") || u.starts_with("https://")) => {
                problems.push(ConfigProblem::new(
                    path,
                    format!("{u:?} is not an http(s) URL"),
                ))
            }
            UrlSource::Plain(_) => {}
            UrlSource::Secret(s) => s.check(path, problems),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_from_env_file_and_mounted_dir_and_never_prints_the_value() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hook"), "https://example.org/s3cr3t\n").unwrap();
        let f = Secret {
            file: Some(dir.path().join("hook")),
            ..Default::default()
        };
        let m = Secret {
            secret: Some("hook".into()),
            ..Default::default()
        };
        std::env::set_var("AMPEL_TEST_SECRET_X", "tok");
        for (s, want) in [
            (f, "https://example.org/s3cr3t"),
            (m, "https://example.org/s3cr3t"),
            (Secret::env("AMPEL_TEST_SECRET_X"), "tok"),
        ] {
            let v = s.resolve(dir.path()).unwrap();
            assert_eq!(v.expose(), want);
            assert_eq!(format!("{v:?} {v}"), "*** ***");
        }
        assert_eq!(
            Secret::env("AMPEL_TEST_SECRET_UNSET").resolve(dir.path()),
            Err(SecretError::EnvMissing(
                "env AMPEL_TEST_SECRET_UNSET".into()
            ))
        );
        let both = Secret {
            env: Some("A".into()),
            secret: Some("b".into()),
            ..Default::default()
        };
        let mut p = Vec::new();
        both.check("webhook", &mut p);
        assert_eq!(p.len(), 1, "{p:?}");
    }
}
