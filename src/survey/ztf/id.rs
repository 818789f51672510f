//! ZTF object names <-> AMPEL stock ids (AMPEL's `ZTFIdMapper`): the seven
//! letters read as a base-26 number, shifted left 4 bits, plus `yy - 17`.

use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum ZtfNameError {
    #[error("{0:?} is not a ZTF name (expected ZTFyy followed by 7 letters a-z, yy 17..32)")]
    BadName(String),
    #[error("{0} is not a ZTF stock id (negative, or beyond ZTF32zzzzzzz)")]
    BadStock(i64),
}

/// `ZTF18abcdefg` -> stock id.
pub fn to_stock_id(name: &str) -> Result<i64, ZtfNameError> {
    let bad = || ZtfNameError::BadName(name.to_string());
    let b = name.as_bytes();
    if b.len() != 12 || &b[..3] != b"ZTF" {
        return Err(bad());
    }
    let (y1, y2) = (b[3], b[4]);
    if !y1.is_ascii_digit() || !y2.is_ascii_digit() {
        return Err(bad());
    }
    let year = i64::from((y1 - b'0') * 10 + (y2 - b'0'));
    if !(17..=32).contains(&year) {
        return Err(bad());
    }
    let mut num: i64 = 0;
    for &c in &b[5..] {
        if !c.is_ascii_lowercase() {
            return Err(bad());
        }
        num = num * 26 + i64::from(c - b'a');
    }
    Ok((num << 4) + (year - 17))
}

/// Stock id -> `ZTFyyxxxxxxx`.
pub fn from_stock_id(stock: i64) -> Result<String, ZtfNameError> {
    const MAX: i64 = (26i64.pow(7) << 4) - 1;
    if !(0..=MAX).contains(&stock) {
        return Err(ZtfNameError::BadStock(stock));
    }
    let year = (stock & 15) + 17;
    let mut num = stock >> 4;
    let mut letters = [b'a'; 7];
    for slot in letters.iter_mut().rev() {
        *slot = b'a' + (num % 26) as u8;
        num /= 26;
    }
    Ok(format!(
        "ZTF{year}{}",
        std::str::from_utf8(&letters).expect("ascii")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_examples() {
        assert_eq!(to_stock_id("ZTF17aaaaaaa"), Ok(0));
        assert_eq!(to_stock_id("ZTF18aaaaaaa"), Ok(1));
        assert_eq!(to_stock_id("ZTF17aaaaaab"), Ok(16));
        assert_eq!(to_stock_id("ZTF17aaaaaac"), Ok(32));
        assert_eq!(to_stock_id("ZTF32zzzzzzz"), Ok(128_508_962_815));
        assert!(to_stock_id("ZTF20akzzzzzz").is_err(), "13 chars");
        assert!(to_stock_id("ZTF20akzzzzz").unwrap() < 1 << 31);
        assert!(to_stock_id("ZTF20alzzzzz").unwrap() >= 1 << 31);
    }

    #[test]
    fn round_trip() {
        for name in [
            "ZTF17aaaaaaa",
            "ZTF18abcdefg",
            "ZTF23abvxyzq",
            "ZTF32zzzzzzz",
        ] {
            assert_eq!(from_stock_id(to_stock_id(name).unwrap()).unwrap(), name);
        }
        assert!(from_stock_id(-1).is_err());
        assert!(from_stock_id(128_508_962_816).is_err());
    }

    #[test]
    fn rejects_malformed_names() {
        for bad in [
            "",
            "ZTF",
            "ZTF16aaaaaaa",
            "ZTF33aaaaaaa",
            "ZTF18aaaaaaA",
            "XTF18aaaaaaa",
            "ZTF1xaaaaaaa",
        ] {
            assert!(to_stock_id(bad).is_err(), "{bad}");
        }
    }
}
