//! Mongo-style conditions on JSON documents, for T3 selections:
//! `{"target_match": true}`, `{"best_match.pull": {"$lt": 2}}`,
//! `{"$or": [{...}, {...}]}`. Operators: `$eq $ne $gt $gte $lt $lte $in
//! $nin $exists $and $or`; dotted paths (numeric segments index arrays).
//! Numbers compare by value (`1 == 1.0`); ordering only between two numbers
//! or two strings; a missing field matches only `$ne`, `$nin` and
//! `$exists: false`, as in MongoDB.

use serde_json::{Map, Value as Json};
use std::cmp::Ordering;

/// Checks a condition once, when the channel loads: unknown operators and
/// malformed operands are errors naming where they are.
pub fn validate(cond: &Json) -> Result<(), String> {
    let Json::Object(m) = cond else {
        return Err(format!("a condition must be a mapping, got {cond}"));
    };
    for (k, v) in m {
        match k.as_str() {
            "$and" | "$or" => match v {
                Json::Array(items) if !items.is_empty() => items.iter().try_for_each(validate)?,
                _ => return Err(format!("{k} takes a non-empty list of conditions")),
            },
            op if op.starts_with('$') => return Err(format!("unknown top-level operator {op}")),
            field => {
                if let Json::Object(ops) = v {
                    if ops.keys().any(|o| o.starts_with('$')) {
                        for (op, arg) in ops {
                            match op.as_str() {
                                "$eq" | "$ne" | "$gt" | "$gte" | "$lt" | "$lte" => {}
                                "$in" | "$nin" if arg.is_array() => {}
                                "$in" | "$nin" => return Err(format!("{field}: {op} takes a list")),
                                "$exists" if arg.is_boolean() => {}
                                "$exists" => return Err(format!("{field}: $exists takes true or false")),
                                other => {
                                    return Err(format!(
                                        "{field}: unknown operator {other} (known: $eq $ne $gt $gte $lt $lte $in $nin $exists)"
                                    ))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// Whether `doc` satisfies `cond` (validated beforehand).
pub fn matches(doc: &Json, cond: &Json) -> bool {
    let Json::Object(m) = cond else { return false };
    m.iter().all(|(k, v)| match k.as_str() {
        "$and" => v
            .as_array()
            .is_some_and(|c| c.iter().all(|c| matches(doc, c))),
        "$or" => v
            .as_array()
            .is_some_and(|c| c.iter().any(|c| matches(doc, c))),
        path => field_matches(get(doc, path), v),
    })
}

pub fn get<'a>(doc: &'a Json, path: &str) -> Option<&'a Json> {
    path.split('.').try_fold(doc, |cur, seg| match cur {
        Json::Object(m) => m.get(seg),
        Json::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

fn is_operator_map(v: &Json) -> Option<&Map<String, Json>> {
    match v {
        Json::Object(m) if m.keys().any(|k| k.starts_with('$')) => Some(m),
        _ => None,
    }
}

fn field_matches(value: Option<&Json>, cond: &Json) -> bool {
    match is_operator_map(cond) {
        None => value.is_some_and(|v| eq(v, cond)),
        Some(ops) => ops.iter().all(|(op, arg)| match (op.as_str(), value) {
            ("$exists", v) => arg.as_bool() == Some(v.is_some()),
            ("$ne", None) | ("$nin", None) => true,
            (_, None) => false,
            ("$eq", Some(v)) => eq(v, arg),
            ("$ne", Some(v)) => !eq(v, arg),
            ("$in", Some(v)) => arg.as_array().is_some_and(|a| a.iter().any(|x| eq(v, x))),
            ("$nin", Some(v)) => arg.as_array().is_some_and(|a| !a.iter().any(|x| eq(v, x))),
            (op, Some(v)) => match cmp(v, arg) {
                Some(o) => match op {
                    "$gt" => o == Ordering::Greater,
                    "$gte" => o != Ordering::Less,
                    "$lt" => o == Ordering::Less,
                    "$lte" => o != Ordering::Greater,
                    _ => false,
                },
                None => false,
            },
        }),
    }
}

fn eq(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn cmp(a: &Json, b: &Json) -> Option<Ordering> {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Json::String(x), Json::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(cond: Json, want: bool) {
        let doc = json!({"a": 1, "b": {"c": "x", "d": [1, 2]}, "t": true, "n": null, "f": 2.5});
        validate(&cond).unwrap_or_else(|e| panic!("{cond}: {e}"));
        assert_eq!(matches(&doc, &cond), want, "{cond}");
    }

    #[test]
    fn operators() {
        check(json!({"a": 1}), true);
        check(json!({"a": 1.0}), true);
        check(json!({"a": 2}), false);
        check(json!({"t": true}), true);
        check(json!({"b.c": "x"}), true);
        check(json!({"b.d.1": 2}), true);
        check(json!({"a": {"$gt": 0, "$lt": 2}}), true);
        check(json!({"f": {"$gte": 2.5}}), true);
        check(json!({"f": {"$lte": 2.4}}), false);
        check(json!({"b.c": {"$gt": "w"}}), true);
        check(json!({"a": {"$gt": "0"}}), false);
        check(json!({"a": {"$in": [3, 1]}}), true);
        check(json!({"a": {"$nin": [3, 1]}}), false);
        check(json!({"zz": {"$nin": [3, 1]}}), true);
        check(json!({"zz": {"$ne": 1}}), true);
        check(json!({"a": {"$ne": 1}}), false);
        check(json!({"zz": {"$exists": false}}), true);
        check(json!({"n": {"$exists": true}}), true);
        check(json!({"n": null}), true);
        check(json!({"zz": {"$gt": 0}}), false);
        check(json!({"$or": [{"a": 2}, {"t": true}]}), true);
        check(json!({"$and": [{"a": 1}, {"t": false}]}), false);
        check(json!({"b": {"c": "x", "d": [1, 2]}}), true);
    }

    #[test]
    fn validation_names_the_problem() {
        assert!(validate(&json!({"a": {"$regex": "x"}}))
            .unwrap_err()
            .contains("unknown operator $regex"));
        assert!(validate(&json!({"$nor": []})).unwrap_err().contains("$nor"));
        assert!(validate(&json!({"a": {"$in": 3}}))
            .unwrap_err()
            .contains("takes a list"));
        assert!(validate(&json!({"$or": []})).is_err());
        assert!(validate(&json!([1])).is_err());
    }
}
