//! Rubin/LSST alerts: OCF files and Confluent frames give the same shaped
//! alerts, with ids equal to those read independently with fastavro
//! (tests/reference/lsst_reference.py).

mod common;

use ampel::alert::{DataPointKind, Survey};
use ampel::avro::{AvroError, OcfFile, SchemaRegistry};
use ampel::id::t1_link;
use ampel::AlertDecoder;
use bytes::{BufMut, Bytes, BytesMut};
use common::*;

#[test]
fn lsst_ids_match_fastavro() {
    let got = alerts(LSST_SET);
    let want = expected(LSST_SET);
    assert_eq!(got.len(), want.len());
    let mut with_history = 0;
    for ((origin, alert), exp) in got.iter().zip(&want) {
        assert_eq!(alert.survey, Survey::Lsst);
        assert_eq!(alert.id, exp["candid"].as_i64().unwrap(), "{origin}");
        assert_eq!(alert.stock, exp["stock"].as_i64().unwrap(), "{origin}");
        let ids: Vec<i64> = exp["datapoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        assert_eq!(alert.datapoint_ids(true), ids, "{origin}");
        assert_eq!(i64::from(t1_link(&ids)), exp["link"].as_i64().unwrap());
        assert_eq!(alert.schema_version, "lsst.v9_0");
        assert_eq!(alert.latest().kind, DataPointKind::Detection);
        assert!(alert.latest().body.f64("psfFlux").is_some());
        with_history += usize::from(alert.datapoints.len() > 1);
    }
    assert!(
        with_history >= 1,
        "the sample includes an alert with prvDiaSources"
    );
}

/// Re-frames each OCF alert as Rubin sends it: 0x00, schema id 900, datum.
fn confluent_frames() -> Vec<Bytes> {
    raw_messages(LSST_SET)
        .into_iter()
        .map(|m| {
            let ocf = OcfFile::parse(&m.bytes).unwrap();
            assert_eq!(ocf.blocks.len(), 1);
            let mut frame = BytesMut::new();
            frame.put_u8(0);
            frame.put_u32(900);
            frame.extend_from_slice(&ocf.blocks[0].1);
            frame.freeze()
        })
        .collect()
}

#[test]
fn confluent_frames_decode_like_ocf_files() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    for registry in [
        SchemaRegistry::from_dir(&dir).unwrap(),
        SchemaRegistry::builtin(),
    ] {
        let decoder = AlertDecoder::new().with_registry(registry);
        let from_ocf = alerts(LSST_SET);
        for (frame, (_, want)) in confluent_frames().into_iter().zip(&from_ocf) {
            let got = decoder.decode(frame).unwrap();
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].id, want.id);
            assert_eq!(got[0].stock, want.stock);
            assert_eq!(got[0].datapoint_ids(true), want.datapoint_ids(true));
        }
        assert_eq!(decoder.schemas_parsed(), 1);
    }
}

#[test]
fn confluent_errors_are_precise() {
    let decoder = AlertDecoder::new().with_registry(SchemaRegistry::builtin());
    let frame = confluent_frames().remove(0);

    let mut unknown = frame.to_vec();
    unknown[1..5].copy_from_slice(&7u32.to_be_bytes());
    let e = decoder.decode(unknown.into()).unwrap_err();
    assert!(matches!(e, AvroError::UnknownSchemaId { id: 7, .. }), "{e}");

    let e = decoder.decode(frame.slice(..3)).unwrap_err();
    assert!(matches!(e, AvroError::Truncated { .. }), "{e}");

    let e = decoder.decode(frame.slice(..frame.len() - 10)).unwrap_err();
    assert!(matches!(e, AvroError::Datum { .. }), "{e}");

    let mut longer = frame.to_vec();
    longer.extend_from_slice(b"junk");
    let e = decoder.decode(longer.into()).unwrap_err();
    assert!(
        matches!(e, AvroError::TrailingBytes { trailing: 4, .. }),
        "{e}"
    );

    // Without a registry a Confluent frame is not recognised at all.
    let e = AlertDecoder::new().decode(frame).unwrap_err();
    assert!(matches!(e, AvroError::UnknownFraming(_)), "{e}");
}

#[test]
fn cutouts_decode_on_demand() {
    let keep = AlertDecoder::new().keep_raw(true);
    let lean = AlertDecoder::new();
    for set in [ZTF_SETS[0], ZTF_SETS[2], LSST_SET] {
        let m = raw_messages(set).remove(0);
        let a = keep.decode(m.bytes.clone()).unwrap().remove(0);
        let c = a.cutouts().unwrap().expect("raw kept");
        for stamp in [&c.science, &c.template, &c.difference] {
            let s = stamp.as_ref().expect("three stamps");
            match a.survey {
                Survey::Ztf => assert_eq!(&s[..2], [0x1f, 0x8b], "{set}: gzipped FITS"),
                Survey::Lsst => assert_eq!(&s[..6], b"SIMPLE", "{set}: FITS"),
            }
        }
        assert_eq!(lean.decode(m.bytes).unwrap()[0].cutouts().unwrap(), None);
    }
}
