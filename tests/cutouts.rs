//! Real cutouts made viewable: the primary image of each stamp of real ZTF
//! and Rubin alerts is read, and its zscale limits equal astropy's
//! (tests/reference/zscale_reference.py), and the PNG decodes at the
//! stamp's size.

mod common;

use ampel::cutout::{to_png, zscale, Image};
use ampel::AlertDecoder;
use serde_json::Value;

#[test]
fn real_stamps_scale_as_astropy_scales_them() {
    let expected: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(common::data("expected/zscale.json")).unwrap(),
    )
    .unwrap();
    let decoder = AlertDecoder::new().keep_raw(true);
    let mut checked = 0;
    for e in &expected {
        let file = e["file"].as_str().unwrap();
        let set = file.rsplit('/').next().unwrap().trim_end_matches(".tar.gz");
        let id = e["id"].as_i64().unwrap();
        let raw = common::raw_messages(set)
            .into_iter()
            .find(|m| m.origin.to_string().contains(e["member"].as_str().unwrap()))
            .unwrap_or_else(|| panic!("{} in {file}", e["member"]));
        let alerts = decoder.decode(raw.bytes).unwrap();
        let alert = alerts.iter().find(|a| a.id == id).expect("the alert");
        let cutouts = alert.cutouts().unwrap().expect("kept raw datum");
        for (name, stamp) in [
            ("science", &cutouts.science),
            ("template", &cutouts.template),
            ("difference", &cutouts.difference),
        ] {
            let want = &e["limits"][name];
            let Some(bytes) = stamp else {
                assert!(
                    want.is_null(),
                    "{id} {name}: astropy read a stamp we did not"
                );
                continue;
            };
            let img = Image::from_fits(bytes).unwrap_or_else(|err| panic!("{id} {name}: {err}"));
            assert_eq!(
                (img.width as u64, img.height as u64),
                (want[2].as_u64().unwrap(), want[3].as_u64().unwrap()),
                "{id} {name} size"
            );
            let (lo, hi) = zscale(&img.pixels).unwrap();
            for (got, w) in [
                (lo, want[0].as_f64().unwrap()),
                (hi, want[1].as_f64().unwrap()),
            ] {
                assert!(
                    (got - w).abs() <= 1e-6 * w.abs().max(1.0),
                    "{id} {name}: zscale {lo}, {hi}; astropy {want}"
                );
            }
            let png_bytes = to_png(&img).unwrap();
            let info = png::Decoder::new(std::io::Cursor::new(png_bytes))
                .read_info()
                .unwrap();
            assert_eq!(
                (info.info().width as usize, info.info().height as usize),
                (img.width, img.height)
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 15, "3 ZTF and 2 Rubin alerts, 3 stamps each");
}

/// A packet's container with its three cutouts set to null (apache-avro,
/// independent of our decoder).
fn without_stamps(container: &[u8]) -> Vec<u8> {
    use apache_avro::types::Value as Avro;
    let reader = apache_avro::Reader::new(container).unwrap();
    let schema = reader.writer_schema().clone();
    let mut writer = apache_avro::Writer::new(&schema, Vec::new());
    for v in reader {
        let mut v = v.unwrap();
        if let Avro::Record(fields) = &mut v {
            for (name, value) in fields.iter_mut() {
                // [null, cutout] or [cutout, null]: the other branch.
                if let (true, Avro::Union(i, _)) = (name.starts_with("cutout"), &*value) {
                    *value = Avro::Union(1 - *i, Box::new(Avro::Null));
                }
            }
        }
        writer.append(v).unwrap();
    }
    writer.into_inner().unwrap()
}

#[test]
fn the_raw_datum_is_kept_for_stamps_only_when_asked_so() {
    let stamps = AlertDecoder::new().keep_stamps(true);
    let always = AlertDecoder::new().keep_raw(true);
    let real = common::raw_messages(common::ZTF_SETS[0]).remove(0).bytes;
    let bare = bytes::Bytes::from(without_stamps(&real));

    // With stamps, both modes keep the datum and the stamps decode.
    for d in [&stamps, &always] {
        let a = d.decode(real.clone()).unwrap().remove(0);
        let c = a.cutouts().unwrap().expect("raw kept");
        assert!(c.science.is_some() && c.template.is_some() && c.difference.is_some());
    }
    // Without: the same alert either way, but only `keep_raw` keeps the
    // datum (`ampel produce` re-sends it).
    let lean = stamps.decode(bare.clone()).unwrap().remove(0);
    let kept = always.decode(bare).unwrap().remove(0);
    assert!(lean.raw.is_none(), "nothing to decode again");
    assert_eq!(lean.cutouts().unwrap(), None);
    let c = kept.cutouts().unwrap().expect("raw kept");
    assert_eq!((c.science, c.template, c.difference), (None, None, None));
    assert_eq!(lean.id, kept.id);
    assert_eq!(lean.datapoints.len(), kept.datapoints.len());
    assert!(
        lean.datapoints.len() > 1,
        "history decoded past the skipped fields"
    );
}
