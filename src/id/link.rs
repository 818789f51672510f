//! The T1 link: the identity of a state (compound) from its datapoint ids.

/// AMPEL's `T1Compiler` hash: ids sorted ascending, packed as big-endian
/// signed 64-bit integers, xxHash32 with seed 0, read as signed 32-bit.
pub fn t1_link(ids: &[i64]) -> i32 {
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    let mut buf = Vec::with_capacity(sorted.len() * 8);
    for id in sorted {
        buf.extend_from_slice(&id.to_be_bytes());
    }
    xxhash_rust::xxh32::xxh32(&buf, 0) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_does_not_matter() {
        assert_eq!(t1_link(&[3, -1, 2]), t1_link(&[-1, 2, 3]));
    }

    #[test]
    fn matches_an_independent_packing() {
        // Python: xxhash.xxh32_intdigest(struct.pack(">2q", 1, 2)) -> signed.
        let mut b = Vec::new();
        b.extend_from_slice(&1i64.to_be_bytes());
        b.extend_from_slice(&2i64.to_be_bytes());
        assert_eq!(t1_link(&[2, 1]), xxhash_rust::xxh32::xxh32(&b, 0) as i32);
    }
}
