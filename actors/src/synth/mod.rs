//! Synthetic alert streams for load tests: distinct copies of real ZTF
//! alerts. Copy `k` of an alert gets its own object name (so its own
//! stock), candids shifted by `k` steps (its own alert and detection ids)
//! and non-detection times moved by `k` × 86 ms (their own upper-limit
//! ids);
//! all measurements are the real ones. Copies of one object's alerts stay
//! one object. Decoding and re-encoding use apache-avro's generic values
//! (this runs once, before a benchmark's clock starts).

use apache_avro::types::Value;
use apache_avro::{Codec, Reader, Writer};

pub mod night;
mod rubin;
mod value;

use value::{field, unwrap_union};

const CANDID_STEP: i64 = 7_919_000_000_000;
/// The resolution of upper-limit ids: 1e-6 days (86 ms).
const JD_STEP: f64 = 1e-6;

/// The object name of copy `k` (same `ZTFyy` prefix, letters shifted).
pub fn copy_name(name: &str, k: u64) -> String {
    if k == 0 || name.len() != 12 || !name.starts_with("ZTF") {
        return name.to_string();
    }
    let letters = &name.as_bytes()[5..];
    let mut n: u64 = 0;
    for b in letters {
        n = n * 26 + u64::from(b.saturating_sub(b'a')).min(25);
    }
    let m = (n + k * 1_000_003) % 26u64.pow(7);
    let mut out = [b'a'; 7];
    let mut v = m;
    for slot in out.iter_mut().rev() {
        *slot = b'a' + (v % 26) as u8;
        v /= 26;
    }
    format!("{}{}", &name[..5], String::from_utf8_lossy(&out))
}

fn shift_candid(v: Option<&mut Value>, k: i64) {
    if let Some(v) = v {
        if let Value::Long(c) = unwrap_union(v) {
            *c += k * CANDID_STEP;
        }
    }
}

pub(crate) fn copy(mut alert: Value, k: u64) -> Value {
    let ki = k as i64;
    if let Value::Record(fields) = &mut alert {
        if let Some(Value::String(s)) = field(fields, "objectId").map(unwrap_union) {
            *s = copy_name(s, k);
        }
        shift_candid(field(fields, "candid"), ki);
        if let Some(Value::Record(c)) = field(fields, "candidate") {
            shift_candid(field(c, "candid"), ki);
        }
        if let Some(Value::Array(prv)) = field(fields, "prv_candidates").map(unwrap_union) {
            for p in prv {
                if let Value::Record(pf) = unwrap_union(p) {
                    let detection =
                        matches!(field(pf, "candid").map(unwrap_union), Some(Value::Long(_)));
                    if detection {
                        shift_candid(field(pf, "candid"), ki);
                    } else if let Some(Value::Double(jd)) = field(pf, "jd").map(unwrap_union) {
                        *jd += ki as f64 * JD_STEP;
                    }
                }
            }
        }
    }
    alert
}

/// `copies` distinct copies of each ZTF alert container in `messages`
/// (copy 0 is the original), as (key, container bytes), copy by copy.
pub fn ztf_copies(
    messages: &[Vec<u8>],
    copies: u64,
) -> Result<Vec<(String, Vec<u8>)>, apache_avro::Error> {
    let mut decoded = Vec::with_capacity(messages.len());
    for m in messages {
        let reader = Reader::new(&m[..])?;
        let schema = reader.writer_schema().clone();
        for v in reader {
            decoded.push((schema.clone(), v?));
        }
    }
    let mut out = Vec::with_capacity(decoded.len() * copies as usize);
    for k in 0..copies {
        for (schema, v) in &decoded {
            let c = copy(v.clone(), k);
            let key = match &c {
                Value::Record(f) => f
                    .iter()
                    .find(|(n, _)| n == "objectId")
                    .and_then(|(_, v)| match v {
                        Value::String(s) => Some(s.clone()),
                        _ => None,
                    })
                    .unwrap_or_default(),
                _ => String::new(),
            };
            let mut w = Writer::with_codec(schema, Vec::new(), Codec::Null);
            w.append(c)?;
            out.push((key, w.into_inner()?));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_names_are_distinct_valid_and_stable() {
        let n = "ZTF23abfcbgc";
        assert_eq!(copy_name(n, 0), n);
        let a = copy_name(n, 1);
        assert_eq!(a.len(), 12);
        assert!(a.starts_with("ZTF23"));
        assert!(a[5..].bytes().all(|b| b.is_ascii_lowercase()));
        assert_ne!(a, n);
        assert_eq!(a, copy_name(n, 1));
        assert_ne!(copy_name(n, 2), a);
    }
}
