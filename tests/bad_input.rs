//! Bad bytes never panic the decoder and always come back as a precise
//! error. Deterministic cases first, then proptest mutation fuzzing of the
//! decoder entry point over real alerts of every schema (failures found are
//! kept by proptest in tests/bad_input.proptest-regressions).

mod common;

use ampel::avro::{AvroError, SchemaRegistry};
use ampel::AlertDecoder;
use bytes::Bytes;
use common::*;
use proptest::prelude::*;

fn decoder() -> AlertDecoder {
    AlertDecoder::new().with_registry(SchemaRegistry::builtin())
}

fn first(set: &str) -> Bytes {
    raw_messages(set).remove(0).bytes
}

#[test]
fn every_truncation_is_an_error() {
    let d = decoder();
    for set in ZTF_SETS.iter().chain([&LSST_SET]) {
        let whole = first(set);
        assert!(d.decode(whole.clone()).is_ok());
        let step = (whole.len() / 700).max(1);
        for n in (0..whole.len())
            .step_by(step)
            .chain([whole.len() - 1, whole.len() - 16, 5, 4, 3])
        {
            assert!(
                d.decode(whole.slice(..n)).is_err(),
                "{set}: {n} of {} bytes accepted",
                whole.len()
            );
        }
    }
}

#[test]
fn precise_errors_for_broken_containers() {
    let d = decoder();
    let whole = first(ZTF_SETS[2]);
    let e = |b: Vec<u8>| d.decode(b.into()).unwrap_err();

    assert!(matches!(e(vec![]), AvroError::UnknownFraming(_)));
    assert!(matches!(e(b"hello".to_vec()), AvroError::UnknownFraming(_)));
    assert!(matches!(
        e(b"Obj\x01".to_vec()),
        AvroError::Truncated { .. }
    ));
    // A header map claiming 2^62 entries.
    let mut huge = b"Obj\x01".to_vec();
    huge.extend_from_slice(&[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    assert!(matches!(e(huge), AvroError::Truncated { .. }));
    // An 11-byte varint.
    let mut long = b"Obj\x01".to_vec();
    long.extend_from_slice(&[0xff; 11]);
    assert!(matches!(e(long), AvroError::Invalid { .. }));

    // Corrupt sync marker at the end.
    let mut bad_sync = whole.to_vec();
    let n = bad_sync.len();
    bad_sync[n - 1] ^= 0xff;
    assert!(matches!(e(bad_sync), AvroError::SyncMismatch { block: 0 }));

    // An unsupported codec, named.
    let mut zstd = whole.to_vec();
    let at = find(&zstd, b"\x08null").unwrap();
    zstd.splice(at..at + 5, *b"\x08zstd");
    match e(zstd) {
        AvroError::UnsupportedCodec(c) => assert_eq!(c, "zstd"),
        other => panic!("{other}"),
    }

    // A datum that does not fit its schema: 0xff over the candidate record
    // (varints that never end). (Most of a ZTF datum is cutout bytes, where
    // garbage still decodes; that is the cutouts' problem, not Avro's.)
    let mut garbled = whole.to_vec();
    let block = ampel::avro::OcfFile::parse(&whole).unwrap().blocks[0]
        .1
        .len();
    let datum = garbled.len() - 16 - block;
    for b in &mut garbled[datum + 48..datum + 112] {
        *b = 0xff;
    }
    assert!(matches!(e(garbled), AvroError::Datum { index: 0, .. }));
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn unknown_schemas_and_unshapeable_alerts() {
    let d = decoder();
    let whole = first(ZTF_SETS[2]).to_vec();
    // Rename the root type: no survey decoder claims it.
    let at = find(&whole, b"\"ztf.alert\"").unwrap();
    let mut renamed = whole.clone();
    renamed[at + 9] = b'X';
    match d.decode(renamed.into()).unwrap_err() {
        AvroError::UnknownSchemaName { name } => assert_eq!(name, "ztf.alerX"),
        other => panic!("{other}"),
    }

    // An objectId that is not a ZTF name: a shape error naming it.
    let name_at = find(&whole, b"ZTF2")
        .or_else(|| find(&whole, b"ZTF1"))
        .unwrap();
    let mut bad_name = whole.clone();
    bad_name[name_at] = b'X';
    match d.decode(bad_name.into()).unwrap_err() {
        AvroError::Shape { reason, .. } => assert!(reason.contains("XTF"), "{reason}"),
        other => panic!("{other}"),
    }
}

/// Cheap-to-run corpus: the first alert of each set, plus a Confluent frame.
fn corpus() -> Vec<Bytes> {
    let mut v: Vec<Bytes> = ZTF_SETS
        .iter()
        .chain([&LSST_SET])
        .map(|s| first(s))
        .collect();
    let ocf = ampel::avro::OcfFile::parse(&v[3]).unwrap();
    let mut frame = vec![0, 0, 0, 3, 0x84];
    frame.extend_from_slice(&ocf.blocks[0].1);
    v.push(frame.into());
    v
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, xor: u8 },
    Set { at: usize, byte: u8 },
    Cut { at: usize },
    Delete { at: usize, len: usize },
    Insert { at: usize, bytes: Vec<u8> },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..).prop_map(|(at, xor)| Mutation::Flip { at, xor }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Set { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Cut { at }),
        (any::<usize>(), 1usize..64).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..16)
        )
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
    ]
}

fn apply(mut b: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        if b.is_empty() {
            break;
        }
        let n = b.len();
        match m {
            Mutation::Flip { at, xor } => b[at % n] ^= xor,
            Mutation::Set { at, byte } => b[at % n] = *byte,
            Mutation::Cut { at } => b.truncate(at % n),
            Mutation::Delete { at, len } => {
                let s = at % n;
                b.drain(s..(s + len).min(n));
            }
            Mutation::Insert { at, bytes } => {
                let s = at % n;
                b.splice(s..s, bytes.iter().copied());
            }
        }
    }
    b
}

proptest! {
    // 384 cases per property in CI; PROPTEST_CASES=N for a longer campaign.
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(384)
    ))]

    /// Mutated real alerts: decode returns Ok or Err, never panics.
    #[test]
    fn mutated_alerts_never_panic(which in 0usize..5, muts in proptest::collection::vec(mutation(), 1..4)) {
        thread_local! {
            static CORPUS: Vec<Bytes> = corpus();
            static DECODER: AlertDecoder = decoder();
        }
        let input = CORPUS.with(|c| c[which].to_vec());
        let mutated = apply(input, &muts);
        DECODER.with(|d| { let _ = d.decode(mutated.into()); });
    }

    /// Mutations inside the datum only (the header stays valid, so the
    /// schema is cached and the datum decoder takes the hits).
    #[test]
    fn mutated_datums_never_panic(which in 0usize..4, at in any::<usize>(), bytes in proptest::collection::vec(any::<u8>(), 1..32)) {
        thread_local! {
            static CORPUS: Vec<Bytes> = corpus();
            static DECODER: AlertDecoder = decoder();
        }
        let mut input = CORPUS.with(|c| c[which].to_vec());
        let ocf = ampel::avro::OcfFile::parse(&Bytes::from(input.clone())).unwrap();
        let start = input.len() - 16 - ocf.blocks[0].1.len();
        let pos = start + at % ocf.blocks[0].1.len();
        let end = (pos + bytes.len()).min(input.len() - 16);
        input[pos..end].copy_from_slice(&bytes[..end - pos]);
        DECODER.with(|d| { let _ = d.decode(input.into()); });
    }

    /// Arbitrary bytes behind each framing's magic.
    #[test]
    fn random_bytes_never_panic(magic in 0usize..3, body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut input = [&b"Obj\x01"[..], &[0, 0, 0, 3, 0x84][..], &[][..]][magic].to_vec();
        input.extend(body);
        let _ = decoder().decode(input.into());
    }
}
