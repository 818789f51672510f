//! Reading a writer schema's JSON for what survey decoders need: the root
//! name and the field names of nested records, with named-type references
//! resolved. (serde_avro_fast parses the schema for decoding; this only reads
//! names, once per distinct schema.)

use super::AvroError;
use serde_json::Value as Json;
use std::collections::HashMap;

/// A writer schema's JSON with its named records indexed.
#[derive(Debug)]
pub struct SchemaJson {
    root: Json,
    named: HashMap<String, Json>,
}

impl SchemaJson {
    pub fn parse(raw: &[u8]) -> Result<Self, AvroError> {
        let root: Json =
            serde_json::from_slice(raw).map_err(|e| AvroError::Schema(e.to_string()))?;
        let mut named = HashMap::new();
        collect_named(&root, "", &mut named);
        Ok(SchemaJson { root, named })
    }

    /// Full name of the root type, e.g. `ztf.alert` or `lsst.v9_0.alert`.
    pub fn root_name(&self) -> String {
        full_name(&self.root, "").unwrap_or_default()
    }

    /// A string attribute of the root type (e.g. ZTF's `"version": "3.3"`).
    pub fn root_attr(&self, key: &str) -> Option<String> {
        self.root.get(key).and_then(Json::as_str).map(str::to_owned)
    }

    /// Field names of the record reached from the root by `path` (field names;
    /// unions are looked through to their non-null branch, arrays to their
    /// items). `Ok(None)` when the path does not exist in this schema version.
    pub fn record_fields(&self, path: &[&str]) -> Result<Option<Vec<String>>, AvroError> {
        let mut node = &self.root;
        for step in path {
            let record = self.resolve(node);
            let Some(fields) = record.get("fields").and_then(Json::as_array) else {
                return Ok(None);
            };
            match fields
                .iter()
                .find(|f| f.get("name").and_then(Json::as_str) == Some(step))
            {
                Some(f) => node = f.get("type").unwrap_or(&Json::Null),
                None => return Ok(None),
            }
        }
        let record = self.resolve(node);
        let Some(fields) = record.get("fields").and_then(Json::as_array) else {
            return Err(AvroError::Schema(format!(
                "{} is not a record",
                path.join(".")
            )));
        };
        Ok(Some(
            fields
                .iter()
                .filter_map(|f| f.get("name").and_then(Json::as_str).map(str::to_owned))
                .collect(),
        ))
    }

    /// Follows references, unions (first non-null branch) and arrays down to
    /// a concrete record/primitive node.
    fn resolve<'a>(&'a self, mut node: &'a Json) -> &'a Json {
        for _ in 0..32 {
            node = match node {
                Json::String(name) => match self.named.get(name).or_else(|| {
                    self.named
                        .iter()
                        .find(|(k, _)| k.rsplit('.').next() == Some(name))
                        .map(|(_, v)| v)
                }) {
                    Some(n) => n,
                    None => return node,
                },
                Json::Array(branches) => match branches.iter().find(|b| b.as_str() != Some("null"))
                {
                    Some(b) => b,
                    None => return node,
                },
                Json::Object(o) => match o.get("type").and_then(Json::as_str) {
                    Some("array") => o.get("items").unwrap_or(&Json::Null),
                    Some("record") | Some("error") => return node,
                    _ => match o.get("type") {
                        Some(inner @ (Json::Object(_) | Json::Array(_))) => inner,
                        _ => return node,
                    },
                },
                _ => return node,
            };
        }
        node
    }
}

fn full_name(node: &Json, enclosing_ns: &str) -> Option<String> {
    let name = node.get("name")?.as_str()?;
    if name.contains('.') {
        return Some(name.to_string());
    }
    let ns = node
        .get("namespace")
        .and_then(Json::as_str)
        .unwrap_or(enclosing_ns);
    Some(if ns.is_empty() {
        name.to_string()
    } else {
        format!("{ns}.{name}")
    })
}

fn collect_named(node: &Json, ns: &str, out: &mut HashMap<String, Json>) {
    match node {
        Json::Array(items) => items.iter().for_each(|i| collect_named(i, ns, out)),
        Json::Object(o) => {
            let mut inner_ns = ns.to_string();
            if matches!(
                o.get("type").and_then(Json::as_str),
                Some("record" | "error" | "enum" | "fixed")
            ) {
                if let Some(full) = full_name(node, ns) {
                    inner_ns = full
                        .rsplit_once('.')
                        .map(|(n, _)| n.to_string())
                        .unwrap_or_default();
                    out.insert(full, node.clone());
                }
            }
            if let Some(fields) = o.get("fields").and_then(Json::as_array) {
                for f in fields {
                    if let Some(t) = f.get("type") {
                        collect_named(t, &inner_ns, out);
                    }
                }
            }
            for key in ["items", "values"] {
                if let Some(t) = o.get(key) {
                    collect_named(t, &inner_ns, out);
                }
            }
            if let Some(t @ (Json::Object(_) | Json::Array(_))) = o.get("type") {
                collect_named(t, &inner_ns, out);
            }
        }
        _ => {}
    }
}
