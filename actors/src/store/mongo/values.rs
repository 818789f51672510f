//! Reading BSON values that other writers may have stored in another
//! type than ours.

use mongodb::bson::Bson;

/// A whole number however the server or another client stored it: MongoDB
/// compares 32- and 64-bit integers and doubles alike, so a filter on a
/// code or a counter matches any of them.
pub(super) fn int(b: Option<&Bson>) -> Option<i64> {
    match b? {
        Bson::Int64(v) => Some(*v),
        Bson::Int32(v) => Some(i64::from(*v)),
        Bson::Double(v) if v.fract() == 0.0 => Some(*v as i64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_of_any_numeric_type() {
        assert_eq!(int(Some(&Bson::Int64(-6))), Some(-6));
        assert_eq!(int(Some(&Bson::Int32(-1))), Some(-1));
        assert_eq!(int(Some(&Bson::Double(-1.0))), Some(-1));
        assert_eq!(int(Some(&Bson::Double(0.5))), None);
        assert_eq!(int(Some(&Bson::String("-1".into()))), None);
        assert_eq!(int(None), None);
    }
}
