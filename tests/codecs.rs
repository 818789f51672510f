//! Containers written by another implementation (apache-avro) with the
//! deflate and snappy codecs, several records per file, and values the
//! shared alerts do not have (a programid 2 point), decode as expected.

mod common;

use ampel::alert::Alert;
use ampel::id::t1_link;
use ampel::AlertDecoder;
use apache_avro::types::Value as AV;
use apache_avro::{Codec, DeflateSettings, Reader, Writer};
use common::*;

/// Records and writer schema of a real alert file.
fn read(bytes: &[u8]) -> (apache_avro::Schema, Vec<AV>) {
    let reader = Reader::new(bytes).unwrap();
    let schema = reader.writer_schema().clone();
    let records = reader.map(|r| r.unwrap()).collect();
    (schema, records)
}

fn write(schema: &apache_avro::Schema, records: Vec<AV>, codec: Codec) -> Vec<u8> {
    let mut w = Writer::with_codec(schema, Vec::new(), codec);
    for r in records {
        w.append(r).unwrap();
    }
    w.into_inner().unwrap()
}

fn summary(a: &Alert) -> (i64, i64, Vec<i64>) {
    (a.id, a.stock, a.datapoint_ids(true))
}

#[test]
fn deflate_and_snappy_containers_decode_like_null() {
    let decoder = AlertDecoder::new();
    for set in ZTF_SETS {
        for m in raw_messages(set).into_iter().step_by(7) {
            let want: Vec<_> = decoder
                .decode(m.bytes.clone())
                .unwrap()
                .iter()
                .map(summary)
                .collect();
            let (schema, records) = read(&m.bytes);
            for codec in [
                Codec::Null,
                Codec::Deflate(DeflateSettings::default()),
                Codec::Snappy,
            ] {
                let file = write(&schema, records.clone(), codec);
                let got: Vec<_> = decoder
                    .decode(file.into())
                    .unwrap_or_else(|e| panic!("{} with {codec:?}: {e}", m.origin))
                    .iter()
                    .map(summary)
                    .collect();
                assert_eq!(got, want, "{} with {codec:?}", m.origin);
            }
        }
    }
}

#[test]
fn several_records_in_one_container() {
    let msgs = raw_messages(ZTF_SETS[2]);
    let decoder = AlertDecoder::new();
    let (schema, mut records) = read(&msgs[0].bytes);
    let mut want = decoder.decode(msgs[0].bytes.clone()).unwrap();
    for m in &msgs[1..5] {
        records.extend(read(&m.bytes).1);
        want.extend(decoder.decode(m.bytes.clone()).unwrap());
    }
    for codec in [
        Codec::Null,
        Codec::Deflate(DeflateSettings::default()),
        Codec::Snappy,
    ] {
        let got = decoder
            .decode(write(&schema, records.clone(), codec).into())
            .unwrap();
        assert_eq!(
            got.iter().map(summary).collect::<Vec<_>>(),
            want.iter().map(summary).collect::<Vec<_>>()
        );
    }
}

/// Sets `programid` of `prv_candidates[index]` in a decoded record.
fn set_prv_programid(record: &mut AV, index: usize, programid: i32) {
    let AV::Record(fields) = record else {
        panic!("record")
    };
    let (_, prv) = fields
        .iter_mut()
        .find(|(n, _)| n == "prv_candidates")
        .unwrap();
    let AV::Union(_, inner) = prv else {
        panic!("union")
    };
    let AV::Array(items) = inner.as_mut() else {
        panic!("array")
    };
    let AV::Record(pf) = &mut items[index] else {
        panic!("prv record")
    };
    let (_, pid) = pf.iter_mut().find(|(n, _)| n == "programid").unwrap();
    *pid = AV::Int(programid);
}

#[test]
fn private_points_leave_public_links() {
    // A v4.02 alert with history; one of its points re-encoded as programid 2.
    let decoder = AlertDecoder::new();
    let m = raw_messages(ZTF_SETS[2])
        .into_iter()
        .find(|m| decoder.decode(m.bytes.clone()).unwrap()[0].datapoints.len() > 3)
        .unwrap();
    let (schema, mut records) = read(&m.bytes);
    set_prv_programid(&mut records[0], 1, 2);
    let alert = decoder
        .decode(write(&schema, records, Codec::Null).into())
        .unwrap()
        .remove(0);

    let all = alert.datapoint_ids(true);
    let public = alert.datapoint_ids(false);
    assert_eq!(public.len(), all.len() - 1);
    assert!(!public.contains(&alert.datapoints[2].id));
    assert_eq!(alert.datapoints[2].program, Some(2));
    assert!(alert.datapoints[2].tags.contains(&"ZTF_PRIV"));
    assert_ne!(t1_link(&public), t1_link(&all));
}

/// A ZTF schema version we have no files of: the candidate record gains a
/// field and loses one, and the root gains one. Decoding is driven by the
/// writer schema, so the alert still shapes, with the new field readable.
#[test]
fn newer_schema_versions_decode() {
    let m = raw_messages(ZTF_SETS[1]).remove(0);
    let (schema, records) = read(&m.bytes);
    let mut json: serde_json::Value = serde_json::from_str(&schema.canonical_form()).unwrap();
    let fields = json["fields"].as_array_mut().unwrap();
    fields.push(
        serde_json::json!({"name": "brokerNote", "type": ["null", "string"], "default": null}),
    );
    let cand = fields
        .iter_mut()
        .find(|f| f["name"] == "candidate")
        .unwrap();
    let cfields = cand["type"]["fields"].as_array_mut().unwrap();
    let dropped = cfields.iter().position(|f| f["name"] == "tooflag").unwrap();
    cfields.remove(dropped);
    cfields
        .push(serde_json::json!({"name": "score_v9", "type": ["null", "float"], "default": null}));
    let new_schema = apache_avro::Schema::parse(&json).unwrap();

    let AV::Record(mut top) = records.into_iter().next().unwrap() else {
        panic!()
    };
    for (name, value) in top.iter_mut() {
        if name == "candidate" {
            let AV::Record(c) = value else { panic!() };
            c.retain(|(n, _)| n != "tooflag");
            c.push(("score_v9".into(), AV::Union(1, Box::new(AV::Float(0.25)))));
        }
    }
    top.push((
        "brokerNote".into(),
        AV::Union(1, Box::new(AV::String("hello".into()))),
    ));
    let file = write(&new_schema, vec![AV::Record(top)], Codec::Null);

    let decoder = AlertDecoder::new();
    let old = decoder.decode(m.bytes.clone()).unwrap().remove(0);
    let new = decoder.decode(file.into()).unwrap().remove(0);
    assert_eq!(summary(&new), summary(&old));
    assert_eq!(new.latest().body.f64("score_v9"), Some(0.25));
    assert!(!new.latest().body.contains("tooflag"));
    assert_eq!(
        new.latest().body.f64("magpsf"),
        old.latest().body.f64("magpsf")
    );
    assert_eq!(decoder.schemas_parsed(), 2);
}

/// Each distinct writer schema is parsed once, however many alerts carry it.
#[test]
fn writer_schemas_are_parsed_once() {
    let decoder = AlertDecoder::new();
    let mut n = 0;
    for set in ZTF_SETS {
        for m in raw_messages(set) {
            n += decoder.decode(m.bytes).unwrap().len();
        }
    }
    assert_eq!(n, 30 + 50 + 172 + 100 + 4);
    assert_eq!(
        decoder.schemas_parsed(),
        6,
        "one per distinct writer schema: 3.0, 3.1, 3.2, 3.3, 3.5, 4.02"
    );
}

/// A packet in the 2018 (schema 1.8) layout: no top-level `schemavsn` or
/// `publisher`, and candidate/prv_candidate records without fields that
/// later versions added (`drb`, `drbversion`, the nearest-reference and
/// Gaia fields). A field the writer schema lacks is a missing value, not an
/// error: the packet shapes to the same ids, and is reported as 1.x.
#[test]
fn schema_1_8_layout_without_schemavsn_decodes() {
    const LATER: [&str; 6] = [
        "drb",
        "drbversion",
        "neargaia",
        "maggaia",
        "nmtchps",
        "zpclrcov",
    ];
    let decoder = AlertDecoder::new();
    for m in raw_messages(ZTF_SETS[0]).into_iter().step_by(5) {
        let (schema, records) = read(&m.bytes);
        let mut json: serde_json::Value = serde_json::from_str(&schema.canonical_form()).unwrap();
        let fields = json["fields"].as_array_mut().unwrap();
        fields.retain(|f| f["name"] != "schemavsn" && f["name"] != "publisher");
        for f in fields.iter_mut() {
            let record = match f["name"].as_str() {
                Some("candidate") => &mut f["type"],
                // [array, null] in 3.0, [null, array] later.
                Some("prv_candidates") => f["type"]
                    .as_array_mut()
                    .unwrap()
                    .iter_mut()
                    .find(|b| b["type"] == "array")
                    .map(|b| &mut b["items"])
                    .unwrap(),
                _ => continue,
            };
            record["fields"]
                .as_array_mut()
                .unwrap()
                .retain(|c| !LATER.contains(&c["name"].as_str().unwrap()));
        }
        let old_schema = apache_avro::Schema::parse(&json).unwrap();
        let drop_later = |v: &mut AV| {
            if let AV::Record(r) = v {
                r.retain(|(n, _)| !LATER.contains(&n.as_str()));
            }
        };
        let AV::Record(mut top) = records.into_iter().next().unwrap() else {
            panic!()
        };
        top.retain(|(n, _)| n != "schemavsn" && n != "publisher");
        for (name, value) in top.iter_mut() {
            match (name.as_str(), value) {
                ("candidate", v) => drop_later(v),
                ("prv_candidates", AV::Union(_, list)) => {
                    if let AV::Array(items) = list.as_mut() {
                        items.iter_mut().for_each(drop_later);
                    }
                }
                _ => {}
            }
        }
        let file = write(&old_schema, vec![AV::Record(top)], Codec::Null);
        assert!(
            !String::from_utf8_lossy(&file).contains("schemavsn"),
            "the writer schema has no schemavsn"
        );

        let new = decoder.decode(m.bytes.clone()).unwrap().remove(0);
        let old = decoder
            .decode(file.into())
            .unwrap_or_else(|e| panic!("{} in the 1.8 layout: {e}", m.origin))
            .remove(0);
        assert_eq!(summary(&old), summary(&new), "{}", m.origin);
        assert_eq!(old.schema_version, ampel::survey::ztf::PRE_2_0);
        assert_eq!(new.schema_version, "3.0");
        assert!(!old.latest().body.contains("drb"));
        assert_eq!(old.latest().body.f64("drb"), None);
        assert_eq!(
            old.latest().body.f64("magpsf"),
            new.latest().body.f64("magpsf")
        );
    }
}
