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
