//! Number parameters read the way AMPEL's pydantic models read them (lax
//! mode): an integer parameter takes `2`, `2.0` or `"2"` but not `2.5`; a
//! float parameter takes numbers and numeric strings. Channel files written
//! for Python AMPEL (where `max_nbad: 2.0` is common) keep working.

use serde::de::{self, Deserializer, Visitor};
use std::fmt;

struct F64Visitor;

impl Visitor<'_> for F64Visitor {
    type Value = f64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number")
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
        v.trim()
            .parse()
            .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}

/// A float parameter.
pub fn f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    d.deserialize_any(F64Visitor)
}

/// An integer parameter (integral floats and numeric strings accepted).
pub fn i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    struct I64Visitor;
    impl Visitor<'_> for I64Visitor {
        type Value = i64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an integer")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
            if v.fract() == 0.0 && v.abs() < 9.0e15 {
                Ok(v as i64)
            } else {
                Err(E::invalid_value(de::Unexpected::Float(v), &self))
            }
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
            v.trim()
                .parse()
                .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
        }
    }
    d.deserialize_any(I64Visitor)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize, Debug)]
    struct P {
        #[serde(deserialize_with = "super::i64")]
        n: i64,
        #[serde(deserialize_with = "super::f64")]
        x: f64,
    }

    fn p(v: serde_json::Value) -> Result<P, serde_json::Error> {
        serde_json::from_value(v)
    }

    #[test]
    fn lax_like_pydantic() {
        let ok = p(json!({"n": 2.0, "x": "0.3"})).unwrap();
        assert_eq!((ok.n, ok.x), (2, 0.3));
        let ok = p(json!({"n": "7", "x": 1})).unwrap();
        assert_eq!((ok.n, ok.x), (7, 1.0));
        assert!(p(json!({"n": 1.5, "x": 1}))
            .unwrap_err()
            .to_string()
            .contains("expected an integer"));
        assert!(p(json!({"n": 1, "x": "abc"})).is_err());
        assert!(p(json!({"n": true, "x": 1})).is_err());
        assert!(p(json!({"n": 1, "x": [1]})).is_err());
    }
}
