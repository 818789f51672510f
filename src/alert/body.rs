//! Named access to a datapoint's values: a shared field-name table plus the row.

use super::value::{Row, Value};
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::collections::HashMap;
use std::sync::Arc;

/// Field names of one record type of one writer schema, built once when the
/// schema is first seen and shared by every body decoded with it.
#[derive(Debug, Default)]
pub struct FieldNames {
    names: Vec<Box<str>>,
    index: HashMap<Box<str>, usize>,
}

impl FieldNames {
    pub fn new<I: IntoIterator<Item = S>, S: Into<Box<str>>>(names: I) -> Arc<Self> {
        let names: Vec<Box<str>> = names.into_iter().map(Into::into).collect();
        let index = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        Arc::new(FieldNames { names, index })
    }

    pub fn position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    pub fn names(&self) -> &[Box<str>] {
        &self.names
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// A datapoint body: values addressed by field name. A field the writer schema
/// does not have reads as absent (`None`), a field it has but left empty reads
/// as `Some(Value::Null)`: filters distinguish the two like Python's
/// `"drb" in latest` versus `latest["drb"] is None`.
#[derive(Debug, Clone)]
pub struct Body {
    fields: Arc<FieldNames>,
    values: Vec<Value>,
}

impl Body {
    /// Pairs a decoded row with its names. Rows shorter than the table (which a
    /// well-formed datum never yields) read the missing tail as absent.
    pub fn new(fields: Arc<FieldNames>, row: Row) -> Self {
        Body {
            fields,
            values: row.0,
        }
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.position(name).and_then(|i| self.values.get(i))
    }

    /// Numeric value of a field; `None` when absent or null.
    pub fn f64(&self, name: &str) -> Option<f64> {
        self.get(name).and_then(Value::as_f64)
    }

    pub fn i64(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(Value::as_i64)
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }

    /// Replaces the value of an existing field; returns false (and changes
    /// nothing) when the schema has no such field.
    pub fn set(&mut self, name: &str, value: Value) -> bool {
        match self
            .fields
            .position(name)
            .and_then(|i| self.values.get_mut(i))
        {
            Some(slot) => {
                *slot = value;
                true
            }
            None => false,
        }
    }

    /// The number of fields the row holds.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.fields
            .names()
            .iter()
            .map(|n| &**n)
            .zip(self.values.iter())
    }
}

impl Serialize for Body {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.values.len()))?;
        for (k, v) in self.iter() {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}
