//! Editing apache-avro's generic values in place: the fields of a record by
//! name, keeping each field's Avro type and union branch, and a record of a
//! schema with every field empty (for shapes the templates never carry,
//! such as Rubin's forced photometry in early packets).

use apache_avro::schema::Schema;
use apache_avro::types::Value;

pub(crate) fn field<'a>(fields: &'a mut [(String, Value)], name: &str) -> Option<&'a mut Value> {
    fields.iter_mut().find(|(n, _)| n == name).map(|(_, v)| v)
}

pub(crate) fn unwrap_union(v: &mut Value) -> &mut Value {
    match v {
        Value::Union(_, inner) => unwrap_union(inner),
        other => other,
    }
}

/// The items of an array field (under its union), when it has some.
pub(crate) fn items<'a>(
    fields: &'a mut [(String, Value)],
    name: &str,
) -> Option<&'a mut Vec<Value>> {
    match field(fields, name).map(unwrap_union)? {
        Value::Array(items) => Some(items),
        _ => None,
    }
}

/// Sets an optional array field (`["null", {array}]`) to `values`,
/// switching its union to the array branch when it was null.
pub(crate) fn set_items(fields: &mut [(String, Value)], name: &str, values: Vec<Value>) {
    match field(fields, name) {
        Some(Value::Union(i, inner)) => {
            if matches!(**inner, Value::Null) {
                *i = 1;
            }
            **inner = Value::Array(values);
        }
        Some(v @ Value::Array(_)) => *v = Value::Array(values),
        _ => {}
    }
}

/// Drops a packet's cutouts (`["null", "bytes"]` fields set to null): 94%
/// of a ZTF packet's bytes, and no tier reads them.
pub(crate) fn drop_cutouts(fields: &mut [(String, Value)]) {
    for cut in ["cutoutScience", "cutoutTemplate", "cutoutDifference"] {
        if let Some(v @ Value::Union(1, _)) = field(fields, cut) {
            *v = Value::Union(0, Box::new(Value::Null));
        }
    }
}

/// A value of `schema` with nothing in it: null where the schema allows it,
/// else zero, false, empty. `None` for shapes it cannot make (named
/// references).
pub(crate) fn empty_of(schema: &Schema) -> Option<Value> {
    Some(match schema {
        Schema::Null => Value::Null,
        Schema::Boolean => Value::Boolean(false),
        Schema::Int => Value::Int(0),
        Schema::Long => Value::Long(0),
        Schema::Float => Value::Float(0.0),
        Schema::Double => Value::Double(0.0),
        Schema::String => Value::String(String::new()),
        Schema::Bytes => Value::Bytes(Vec::new()),
        Schema::Array(_) => Value::Array(Vec::new()),
        Schema::Union(u) => {
            let variants = u.variants();
            match variants.iter().position(|v| matches!(v, Schema::Null)) {
                Some(i) => Value::Union(i as u32, Box::new(Value::Null)),
                None => Value::Union(0, Box::new(empty_of(variants.first()?)?)),
            }
        }
        Schema::Record(r) => Value::Record(
            r.fields
                .iter()
                .map(|f| Some((f.name.clone(), empty_of(&f.schema)?)))
                .collect::<Option<Vec<_>>>()?,
        ),
        Schema::Enum(e) => Value::Enum(0, e.symbols.first()?.clone()),
        _ => return None,
    })
}

/// The record schema of the items of array field `name` of record `schema`.
pub(crate) fn item_schema<'a>(schema: &'a Schema, name: &str) -> Option<&'a Schema> {
    let Schema::Record(r) = schema else {
        return None;
    };
    let mut s = &r.fields.iter().find(|f| f.name == name)?.schema;
    if let Schema::Union(u) = s {
        s = u
            .variants()
            .iter()
            .find(|v| matches!(v, Schema::Array(_)))?;
    }
    match s {
        Schema::Array(a) => Some(&a.items),
        _ => None,
    }
}

/// Copies into a record every field `from` has with the same Avro shape
/// (name, type, union branch): a history entry filled from the alert's
/// own detection.
pub(crate) fn fill_from(prv: &mut [(String, Value)], candidate: &[(String, Value)]) {
    for (name, v) in prv.iter_mut() {
        if let Some((_, c)) = candidate.iter().find(|(n, _)| n == name) {
            let same = match (&*v, c) {
                (Value::Union(i, a), Value::Union(j, b)) => {
                    i == j && std::mem::discriminant(&**a) == std::mem::discriminant(&**b)
                }
                (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
            };
            if same {
                *v = c.clone();
            }
        }
    }
}

/// Sets a long field exactly (an f64 holds only 53 bits: candids near
/// 4e18 would round to multiples of 512 and collide).
pub(crate) fn set_long(fields: &mut [(String, Value)], name: &str, x: i64) {
    if let Some(Value::Long(l)) = field(fields, name).map(unwrap_union) {
        *l = x;
    }
}

/// Sets a numeric field, keeping its Avro type (and union branch).
pub(crate) fn set_num(fields: &mut [(String, Value)], name: &str, x: f64) {
    if let Some(v) = field(fields, name).map(unwrap_union) {
        match v {
            Value::Double(d) => *d = x,
            Value::Float(f) => *f = x as f32,
            Value::Long(l) => *l = x as i64,
            Value::Int(i) => *i = x as i32,
            _ => {}
        }
    }
}

pub(crate) fn num(fields: &mut [(String, Value)], name: &str) -> Option<f64> {
    match field(fields, name).map(unwrap_union)? {
        Value::Double(d) => Some(*d),
        Value::Float(f) => Some(f64::from(*f)),
        Value::Long(l) => Some(*l as f64),
        Value::Int(i) => Some(f64::from(*i)),
        _ => None,
    }
}
