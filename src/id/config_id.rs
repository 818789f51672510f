//! Config ids: AMPEL's `build_unsafe_dict_id(config)` (compact Python JSON
//! of the flattened config, xxHash64, read as signed 64-bit).
//!
//! What Python really does (ampel-core 0.10, `ampel.util.hash`): it calls
//! `flatten_dict(d, ".", sort_keys=True, flatten_list_members=True,
//! sort_lists, flatten_lists)` *positionally* against a signature whose last
//! two parameters are in the other order, so lists are **not** flattened by
//! index but kept, and **sorted** by `str(x)` (stable), dicts inside lists
//! flattened and then ordered by their first key. The worked example
//! `{"a":1,"b":2,"c":{"b":3,"a":[1,4]}} -> -8986814508490313900` hashes
//! `{"a":1,"b":2,"c.a":[1,4],"c.b":3}`. We reproduce that behaviour, since
//! the ids must equal the ones already in AMPEL databases.

use super::pyjson;
use serde_json::{Map, Value as Json};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigIdError {
    #[error("a config must be a mapping (or null), not {0}")]
    NotAnObject(&'static str),
    #[error("{0}: an empty mapping inside a list of mappings has no first key to sort by (Python AMPEL fails here too)")]
    EmptyDictInList(String),
}

/// The config id of a unit config, as Python AMPEL computes it.
pub fn config_id(config: &Json) -> Result<i64, ConfigIdError> {
    let empty = Map::new();
    let map = match config {
        Json::Object(m) => m,
        Json::Null => &empty,
        Json::Bool(_) => return Err(ConfigIdError::NotAnObject("a boolean")),
        Json::Number(_) => return Err(ConfigIdError::NotAnObject("a number")),
        Json::String(_) => return Err(ConfigIdError::NotAnObject("a string")),
        Json::Array(_) => return Err(ConfigIdError::NotAnObject("a list")),
    };
    let flat = flatten(map)?;
    let mut out = String::with_capacity(256);
    pyjson::write_value(&mut out, &Json::Object(flat.into_iter().collect()));
    Ok(xxhash_rust::xxh64::xxh64(out.as_bytes(), 0) as i64)
}

/// The flattened config whose JSON is hashed (keys in hashing order).
pub fn flatten(map: &Map<String, Json>) -> Result<Vec<(String, Json)>, ConfigIdError> {
    let mut out = Vec::new();
    flatten_into(map, "", &mut out)?;
    Ok(out)
}

fn flatten_into(
    map: &Map<String, Json>,
    prefix: &str,
    out: &mut Vec<(String, Json)>,
) -> Result<(), ConfigIdError> {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    for k in keys {
        let key = format!("{prefix}{k}");
        match &map[k] {
            Json::Object(m) => flatten_into(m, &format!("{key}."), out)?,
            Json::Array(items) => {
                let mut list = Vec::with_capacity(items.len());
                for item in items {
                    list.push(match item {
                        Json::Object(m) => Json::Object(flatten(m)?.into_iter().collect()),
                        other => other.clone(),
                    });
                }
                // sorted(v, key=str), stable.
                let mut keyed: Vec<(String, Json)> =
                    list.into_iter().map(|v| (py_str(&v), v)).collect();
                keyed.sort_by(|a, b| a.0.cmp(&b.0));
                let mut list: Vec<Json> = keyed.into_iter().map(|(_, v)| v).collect();
                if list.iter().all(Json::is_object) {
                    let mut firsts = Vec::with_capacity(list.len());
                    for v in &list {
                        let first = v.as_object().and_then(|m| m.keys().next().cloned());
                        firsts.push(
                            first.ok_or_else(|| ConfigIdError::EmptyDictInList(key.clone()))?,
                        );
                    }
                    let mut idx: Vec<usize> = (0..list.len()).collect();
                    idx.sort_by(|a, b| firsts[*a].cmp(&firsts[*b]));
                    list = idx.into_iter().map(|i| list[i].clone()).collect();
                }
                out.push((key, Json::Array(list)));
            }
            v => out.push((key, v.clone())),
        }
    }
    Ok(())
}

/// Python's `str(x)` of a JSON-loaded value (the list sort key).
fn py_str(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// Python's `repr(x)` of a JSON-loaded value.
fn py_repr(v: &Json) -> String {
    match v {
        Json::Null => "None".into(),
        Json::Bool(true) => "True".into(),
        Json::Bool(false) => "False".into(),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.to_string(),
            (_, Some(u)) => u.to_string(),
            _ => {
                let f = n.as_f64().unwrap_or(f64::NAN);
                if f.is_nan() {
                    "nan".into()
                } else if f.is_infinite() {
                    if f > 0.0 { "inf" } else { "-inf" }.into()
                } else {
                    pyjson::float_repr(f)
                }
            }
        },
        Json::String(s) => py_str_repr(s),
        Json::Array(items) => format!(
            "[{}]",
            items.iter().map(py_repr).collect::<Vec<_>>().join(", ")
        ),
        Json::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", py_str_repr(k), py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Python's `repr(str)`: single quotes unless the text has ' and no ".
fn py_str_repr(s: &str) -> String {
    let q = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f || (0x80..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(q);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(v: Json) -> i64 {
        config_id(&v).unwrap()
    }

    /// Values printed by Python AMPEL (ampel-core 0.10.6a28,
    /// `build_unsafe_dict_id`) for these inputs.
    #[test]
    fn matches_python_ampel() {
        assert_eq!(
            id(json!({"a": 1, "b": 2, "c": {"b": 3, "a": [1, 4]}})),
            -8986814508490313900
        );
        assert_eq!(id(json!({"c": {"a": [4, "r", 1]}})), 4378191273800592761);
        assert_eq!(
            id(json!({"a": [{"z": 1, "b": [3, 2]}, {"a": 2}]})),
            3296958017212654832
        );
        assert_eq!(id(json!({"a": [[3, 1], [2]]})), 4211997792443107645);
        assert_eq!(id(json!({"a": [{"b": 1}, 3]})), 6138299595860955018);
        assert_eq!(
            id(json!({"a": [10, 9, "x", true, null, 1.5]})),
            4744710839625665997
        );
    }

    #[test]
    fn flattening_keeps_sorted_lists() {
        let Json::Object(m) = json!({"d": {"e": 1}, "a": [{"c": 2}, {"b": {"f": [3, 1, 2]}}]})
        else {
            unreachable!()
        };
        let flat = flatten(&m).unwrap();
        let text = serde_json::to_string(&flat).unwrap();
        assert_eq!(text, r#"[["a",[{"b.f":[1,2,3]},{"c":2}]],["d.e",1]]"#);
    }

    #[test]
    fn null_is_empty_and_non_mappings_fail() {
        assert_eq!(id(Json::Null), id(json!({})));
        assert!(config_id(&json!([1])).is_err());
        assert!(config_id(&json!({"a": [{}]})).is_err());
    }
}
