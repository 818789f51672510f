//! Typed unit configs, validated in stages so that a user sees every problem
//! of a config at once: unknown parameters (with suggestions), then each
//! mistyped parameter, then missing ones, then semantic checks
//! ([`Validate`]).

use serde::de::{self, DeserializeOwned, Visitor};
use serde_json::{Map, Value as Json};
use std::fmt;

/// One problem in a config, at a key path.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigProblem {
    pub path: String,
    pub message: String,
}

impl ConfigProblem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigProblem {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// All problems of one unit's config.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitConfigError {
    pub unit: String,
    pub problems: Vec<ConfigProblem>,
}

impl UnitConfigError {
    pub fn unknown_unit(name: &str, known: &[&str]) -> Self {
        let hint = suggest(name, known.iter().copied())
            .map(|s| format!(" (did you mean {s}?)"))
            .unwrap_or_default();
        UnitConfigError {
            unit: name.to_string(),
            problems: vec![ConfigProblem::new(
                "unit",
                format!("unknown unit {name:?}{hint}; known: {}", known.join(", ")),
            )],
        }
    }
}

impl fmt::Display for UnitConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid config for unit {}:", self.unit)?;
        for p in &self.problems {
            write!(f, "\n  - {}: {}", p.path, p.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for UnitConfigError {}

/// Semantic checks after a config parsed (ranges, combinations, resources).
pub trait Validate {
    fn validate(&self, _problems: &mut Vec<ConfigProblem>) {}
}

/// Parses and validates the config of `unit`.
pub fn parse_unit_config<T: DeserializeOwned + Validate>(
    unit: &str,
    config: &Json,
) -> Result<T, UnitConfigError> {
    let fail = |problems| UnitConfigError {
        unit: unit.to_string(),
        problems,
    };
    let mut work: Map<String, Json> = match config {
        Json::Object(m) => m.clone(),
        Json::Null => Map::new(),
        other => {
            return Err(fail(vec![ConfigProblem::new(
                "(config)",
                format!("expected a mapping of parameters, got {}", kind(other)),
            )]))
        }
    };
    let mut problems = Vec::new();

    // Stage 1: unknown parameters.
    if let Some(known) = struct_fields::<T>() {
        let unknown: Vec<String> = work
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .cloned()
            .collect();
        for k in unknown {
            let hint = suggest(&k, known.iter().copied())
                .map(|s| format!(" (did you mean {s}?)"))
                .unwrap_or_default();
            problems.push(ConfigProblem::new(&k, format!("unknown parameter{hint}")));
            work.remove(&k);
        }
    }

    // Stage 2: types and missing parameters, one serde pass per problem.
    for _ in 0..=work.len() + 1 {
        match serde_path_to_error::deserialize::<_, T>(Json::Object(work.clone())) {
            Ok(parsed) => {
                if problems.is_empty() {
                    // Stage 3: semantics.
                    parsed.validate(&mut problems);
                    if problems.is_empty() {
                        return Ok(parsed);
                    }
                }
                return Err(fail(problems));
            }
            Err(e) => {
                let path = e.path().to_string();
                let msg = e.inner().to_string();
                if path == "." || path.is_empty() {
                    // A struct-level problem: a missing field ends parsing.
                    let (p, m) = match msg.strip_prefix("missing field `") {
                        Some(rest) => (
                            rest.trim_end_matches('`').to_string(),
                            "missing required parameter".to_string(),
                        ),
                        None => ("(config)".to_string(), msg),
                    };
                    // A mistyped key removed above reads as missing now:
                    // it is reported already.
                    if !problems.iter().any(|q| q.path == p) {
                        problems.push(ConfigProblem::new(p, m));
                    }
                    return Err(fail(problems));
                }
                let top = path.split(['.', '[']).next().unwrap_or(&path).to_string();
                problems.push(ConfigProblem::new(path, msg));
                if work.remove(&top).is_none() {
                    return Err(fail(problems));
                }
            }
        }
    }
    Err(fail(problems))
}

fn kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "a mapping",
    }
}

/// The closest candidate within edit distance 2.
pub fn suggest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (levenshtein(word, c), c))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The field names serde's derive declares for `T` (asks its
/// `deserialize_struct` call; `None` for non-struct types).
fn struct_fields<T: DeserializeOwned>() -> Option<&'static [&'static str]> {
    struct Probe<'a>(&'a mut Option<&'static [&'static str]>);

    #[derive(Debug)]
    struct Stop;
    impl fmt::Display for Stop {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("probe")
        }
    }
    impl std::error::Error for Stop {}
    impl de::Error for Stop {
        fn custom<M: fmt::Display>(_: M) -> Self {
            Stop
        }
    }

    impl<'de> de::Deserializer<'de> for Probe<'_> {
        type Error = Stop;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            *self.0 = Some(fields);
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }

    let mut out = None;
    let _ = T::deserialize(Probe(&mut out));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Cfg {
        min_rb: f64,
        min_ndet: i64,
        #[serde(default)]
        name: String,
    }
    impl Validate for Cfg {
        fn validate(&self, p: &mut Vec<ConfigProblem>) {
            if self.min_rb > 1.0 {
                p.push(ConfigProblem::new("min_rb", "must be <= 1"));
            }
        }
    }

    #[test]
    fn reports_every_problem() {
        let e = parse_unit_config::<Cfg>(
            "U",
            &json!({"min_rbb": 1, "min_ndet": "two", "name": 3, "min_rb": 0.1}),
        )
        .unwrap_err();
        let paths: Vec<&str> = e.problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["min_rbb", "min_ndet", "name"], "{e}");
        assert!(e.problems[0].message.contains("did you mean min_rb"), "{e}");
        assert!(e.problems[1].message.contains("expected i64"), "{e}");
    }

    #[test]
    fn missing_and_semantic() {
        let e = parse_unit_config::<Cfg>("U", &json!({"min_rb": 0.1})).unwrap_err();
        assert_eq!(
            e.problems,
            [ConfigProblem::new("min_ndet", "missing required parameter")]
        );
        let e = parse_unit_config::<Cfg>("U", &json!({"min_rb": 2, "min_ndet": 1})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid config for unit U:\n  - min_rb: must be <= 1"
        );
        assert!(parse_unit_config::<Cfg>("U", &json!({"min_rb": 0.5, "min_ndet": 1})).is_ok());
        assert!(parse_unit_config::<Cfg>("U", &json!([1])).is_err());
    }
}
