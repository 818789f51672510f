//! `ampel units`: the registered units of each tier with their config
//! fields (type, default or required, what it means), from the JSON schema
//! each unit's config type derives; `--json` prints the schemas.

use ampel::t2::T2UnitRegistration;
use ampel::t3::T3UnitRegistration;
use ampel::units::FilterUnit;
use clap::{Args, ValueEnum};
use serde_json::{json, Value as Json};
use std::io::Write;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Tier {
    T0,
    T2,
    T3,
}

#[derive(Debug, Args)]
pub struct UnitsArgs {
    /// Only this tier's units.
    #[arg(long, value_enum)]
    tier: Option<Tier>,
    /// Only this unit (its AMPEL name, e.g. DecentFilter).
    unit: Option<String>,
    /// One JSON object per unit: tier, name and the config's JSON schema.
    #[arg(long)]
    json: bool,
}

/// A unit as listed: tier, name, config schema.
struct Listed {
    tier: Tier,
    name: &'static str,
    schema: Json,
}

fn registered() -> Vec<Listed> {
    let listed = |tier, name, schema| Listed { tier, name, schema };
    let t0 = FilterUnit::all()
        .into_iter()
        .map(|u| listed(Tier::T0, u.name, u.config_schema()));
    let t2 = T2UnitRegistration::all()
        .into_iter()
        .map(|u| listed(Tier::T2, u.name, u.config_schema()));
    let t3 = T3UnitRegistration::all()
        .into_iter()
        .map(|u| listed(Tier::T3, u.name, u.config_schema()));
    t0.chain(t2).chain(t3).collect()
}

pub fn run(args: UnitsArgs) -> anyhow::Result<ExitCode> {
    let all = registered();
    let chosen: Vec<&Listed> = all
        .iter()
        .filter(|u| args.tier.is_none_or(|t| t == u.tier))
        .filter(|u| args.unit.as_deref().is_none_or(|n| n == u.name))
        .collect();
    if let (Some(name), true) = (&args.unit, chosen.is_empty()) {
        let names: Vec<&str> = all.iter().map(|u| u.name).collect();
        anyhow::bail!(
            "no unit {name:?} is registered; units: {}",
            names.join(", ")
        );
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        for u in chosen {
            let tier = format!("{:?}", u.tier).to_lowercase();
            writeln!(
                out,
                "{}",
                json!({"tier": tier, "name": u.name, "config": u.schema})
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut tier = None;
    for u in chosen {
        if tier != Some(u.tier) {
            tier = Some(u.tier);
            writeln!(out, "{}", heading(u.tier))?;
        }
        writeln!(out, "  {}", u.name)?;
        let rows = fields(&u.schema, &u.schema, "", 0);
        if rows.is_empty() {
            writeln!(out, "    (no config)")?;
        }
        let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
        let twidth = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
        for (name, ty, need, about) in rows {
            writeln!(
                out,
                "    {name:width$}  {ty:twidth$}  {need}{}",
                if about.is_empty() {
                    String::new()
                } else {
                    format!("  {about}")
                }
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn heading(t: Tier) -> &'static str {
    match t {
        Tier::T0 => "T0 filter units (a channel's t0_filter.unit):",
        Tier::T2 => "T2 units (a channel's t2_compute[].unit):",
        Tier::T3 => "T3 units (a channel's t3_supervise[].run[].unit):",
    }
}

/// Rows of (field, type, default or "required", first sentence of its
/// doc) for an object schema; fields of nested config types follow their
/// parent as `parent.field`.
fn fields(
    root: &Json,
    schema: &Json,
    prefix: &str,
    depth: usize,
) -> Vec<(String, String, String, String)> {
    let schema = resolve(root, schema);
    let Some(props) = schema.get("properties").and_then(Json::as_object) else {
        return Vec::new();
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Json::as_array)
        .map(|r| r.iter().filter_map(Json::as_str).collect())
        .unwrap_or_default();
    let mut rows = Vec::new();
    for (name, p) in props {
        let need = match p.get("default") {
            _ if required.contains(&name.as_str()) => "required".to_string(),
            Some(d) => format!("default {d}"),
            None => "optional".to_string(),
        };
        let about = p
            .get("description")
            .or_else(|| resolve(root, p).get("description"))
            .and_then(Json::as_str)
            .map(first_sentence)
            .unwrap_or_default();
        let full = format!("{prefix}{name}");
        rows.push((full.clone(), type_name(root, p), need, about));
        let nested = nested_object(root, p);
        if let (Some(n), true) = (nested, depth < 3) {
            let mut sub = fields(root, n, &format!("{full}."), depth + 1);
            // The parent's default (a unit's own delivery settings) wins
            // over the nested type's.
            if let Some(d) = p.get("default").and_then(Json::as_object) {
                for row in &mut sub {
                    let key = row.0.rsplit('.').next().unwrap_or_default();
                    if let (Some(v), true) = (d.get(key), row.2.starts_with("default")) {
                        row.2 = format!("default {v}");
                    }
                }
            }
            rows.extend(sub);
        }
    }
    rows
}

/// `#/$defs/X` references resolved (once).
fn resolve<'a>(root: &'a Json, s: &'a Json) -> &'a Json {
    s.get("$ref")
        .and_then(Json::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
        .and_then(|n| root.get("$defs").and_then(|d| d.get(n)))
        .unwrap_or(s)
}

/// The object schema a field holds, directly or as an optional.
fn nested_object<'a>(root: &'a Json, p: &'a Json) -> Option<&'a Json> {
    let direct = resolve(root, p);
    if direct.get("properties").is_some() {
        return Some(direct);
    }
    p.get("anyOf")
        .and_then(Json::as_array)?
        .iter()
        .map(|b| resolve(root, b))
        .find(|b| b.get("properties").is_some())
}

/// `integer`, `number?`, `[string]`, `a|b|c`, `DeliverySettings`.
fn type_name(root: &Json, p: &Json) -> String {
    if let Some(r) = p.get("$ref").and_then(Json::as_str) {
        let name = r.rsplit('/').next().unwrap_or(r);
        let def = resolve(root, p);
        if def.get("properties").is_none() {
            // An enum or alias: say what it holds.
            let inner = type_name(root, def);
            if !inner.is_empty() && inner != "any" {
                return inner;
            }
        }
        return name.to_string();
    }
    if let Some(vals) = p.get("enum").and_then(Json::as_array) {
        return vals
            .iter()
            .map(|v| v.as_str().map_or(v.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join("|");
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(branches) = p.get(key).and_then(Json::as_array) {
            let null = branches
                .iter()
                .any(|b| b.get("type") == Some(&json!("null")));
            let names: Vec<String> = branches
                .iter()
                .filter(|b| b.get("type") != Some(&json!("null")))
                .map(|b| match b.get("const") {
                    Some(c) => c.as_str().map_or(c.to_string(), str::to_string),
                    None => type_name(root, b),
                })
                .collect();
            return format!("{}{}", names.join("|"), if null { "?" } else { "" });
        }
    }
    match p.get("type") {
        Some(Json::String(t)) if t == "array" => {
            format!(
                "[{}]",
                p.get("items").map_or("any".into(), |i| type_name(root, i))
            )
        }
        Some(Json::String(t)) => t.clone(),
        Some(Json::Array(ts)) => {
            let null = ts.contains(&json!("null"));
            let mut names: Vec<String> = ts
                .iter()
                .filter(|t| *t != "null")
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect();
            if names.len() == 1 && names[0] == "array" {
                names[0] = format!(
                    "[{}]",
                    p.get("items").map_or("any".into(), |i| type_name(root, i))
                );
            }
            format!("{}{}", names.join("|"), if null { "?" } else { "" })
        }
        _ => "any".to_string(),
    }
}

/// Up to the first full stop that ends a sentence (not `e.g.`'s).
fn first_sentence(s: &str) -> String {
    let flat = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let end = flat.match_indices(". ").map(|(i, _)| i).find(|&i| {
        let before = &flat[..i];
        !(before.ends_with("e.g") || before.ends_with("i.e"))
    });
    match end {
        Some(i) => flat[..=i].to_string(),
        None => flat,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sentence_ends_at_a_full_stop_not_at_an_abbreviation() {
        assert_eq!(
            first_sentence("e.g. `a > 1`, or more. Then this."),
            "e.g. `a > 1`, or more."
        );
        assert_eq!(first_sentence("One line"), "One line");
    }
}
