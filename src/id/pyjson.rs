//! `json.dumps(obj, separators=(",", ":"))` exactly as CPython writes it:
//! `repr`-style floats (`1e-05`, `100000.0`, `1e+16`), `NaN`/`Infinity`,
//! and ASCII-only strings (`\uXXXX`, surrogate pairs above the BMP).
//! The config id hashes these bytes, so every character matters.

use serde_json::Value as Json;

/// CPython's `float.__repr__` (shortest round-trip digits, then the 'r'
/// layout: exponent form when the decimal exponent is < -4 or >= 16).
pub fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let (digits, exp) = shortest_digits(x.abs());
    let decpt = exp + 1; // position of the decimal point after the first digit
    let sign = if x.is_sign_negative() { "-" } else { "" };
    let n = digits.len() as i32;
    if decpt <= -4 || decpt > 16 {
        let rest = &digits[1..];
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{}{frac}e{esign}{:02}", &digits[..1], exp.abs())
    } else if decpt <= 0 {
        format!("{sign}0.{}{digits}", "0".repeat((-decpt) as usize))
    } else if decpt >= n {
        format!("{sign}{digits}{}.0", "0".repeat((decpt - n) as usize))
    } else {
        let (a, b) = digits.split_at(decpt as usize);
        format!("{sign}{a}.{b}")
    }
}

/// The shortest digits that read back as `x` (> 0 or 0), and the decimal
/// exponent of the first. Rust's `{:e}` finds them, but where `x` lies
/// exactly half-way between two such strings it rounds up, and Python's
/// repr (David Gay's dtoa) takes the one ending in an even digit:
/// `26.2220001220703125` (an f32 widened, common in alert packets) is
/// `26.222000122070312` in Python. About 1 in 1,000 f32 values is such a tie.
fn shortest_digits(x: f64) -> (String, i32) {
    let split = |sci: &str| {
        let (mantissa, exp) = sci.split_once('e').expect("LowerExp has an exponent");
        let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
        (digits, exp.parse::<i32>().expect("integer exponent"))
    };
    let (digits, exp) = split(&format!("{x:e}"));
    // Two shortest strings of n digits both read back only where decimals
    // of n digits are closer together than doubles: n >= 16. Below that
    // there is no tie, and no need for the exact expansion.
    if digits.len() < 16 {
        return (digits, exp);
    }
    // Every f64 has a finite decimal expansion of at most 767 significant
    // digits: this one is exact.
    let (exact, exact_exp) = split(&format!("{x:.767e}"));
    let n = digits.len();
    let tie = exact_exp == exp
        && exact.as_bytes().get(n) == Some(&b'5')
        && exact.bytes().skip(n + 1).all(|b| b == b'0');
    if !tie {
        return (digits, exp);
    }
    let below = exact[..n].to_string();
    let even = if below.as_bytes()[n - 1] % 2 == 0 {
        below
    } else {
        increment(&below)
    };
    let reads_back =
        even.len() == n && format!("{}.{}e{exp}", &even[..1], &even[1..]).parse::<f64>() == Ok(x);
    if reads_back {
        (even, exp)
    } else {
        (digits, exp)
    }
}

/// A decimal digit string plus one in its last place (it may grow by a
/// digit: `999` -> `1000`).
fn increment(digits: &str) -> String {
    let mut out: Vec<u8> = digits.bytes().collect();
    for d in out.iter_mut().rev() {
        if *d == b'9' {
            *d = b'0';
        } else {
            *d += 1;
            return String::from_utf8(out).expect("ASCII digits");
        }
    }
    out.insert(0, b'1');
    String::from_utf8(out).expect("ASCII digits")
}

/// Appends a JSON string literal with `ensure_ascii=True` escaping.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
        }
    }
    out.push('"');
}

/// Appends a scalar or container in compact Python JSON form, keys in the
/// order given.
pub fn write_value(out: &mut String, v: &Json) {
    match v {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else {
                out.push_str(&float_repr(n.as_f64().unwrap_or(f64::NAN)));
            }
        }
        Json::String(s) => write_str(out, s),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Json::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, k);
                out.push(':');
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_like_python_repr() {
        for (x, want) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (0.1, "0.1"),
            (0.3, "0.3"),
            (1e-4, "0.0001"),
            (1e-5, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (100000.0, "100000.0"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.2345e16, "1.2345e+16"),
            (123456789012345680.0, "1.2345678901234568e+17"),
            (1e100, "1e+100"),
            (-2.5, "-2.5"),
            (1.0 / 3.0, "0.3333333333333333"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            // Half-way between two shortest strings: the even one, as
            // Python (f32 values widened, from ZTF packets).
            // (26.2220001220703125, 750.66827392578125, -617.60699462890625,
            // 1223383794756801.25: written as bits, being more digits than
            // an f64 literal should carry.)
            (f64::from_bits(0x403a_38d5_0000_0000), "26.222000122070312"),
            (f64::from_bits(0x4087_7558_a000_0000), "750.6682739257812"),
            (f64::from_bits(0xc083_4cdb_2000_0000), "-617.6069946289062"),
            (f64::from_bits(0x4311_62a4_f20a_b305), "1223383794756801.2"),
        ] {
            assert_eq!(float_repr(x), want, "{x:?}");
        }
    }

    #[test]
    fn strings_like_ensure_ascii() {
        let mut s = String::new();
        write_str(&mut s, "a\"b\\c\n\u{7f}é😀\u{1}");
        assert_eq!(s, r#""a\"b\\c\n\u007f\u00e9\ud83d\ude00\u0001""#);
    }
}
