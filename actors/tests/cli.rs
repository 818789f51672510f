//! The `ampel` command's contract: output keys, exit status (0 / 2 / 3),
//! errors on stderr naming file and member, and processing that continues
//! past bad records.

use serde_json::Value;
use std::process::{Command, Output};

#[path = "../../tests/common/shared_data.rs"]
mod shared_data;
use shared_data::{data, ZTF_SETS};

fn ampel(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ampel"))
        .args(args)
        .output()
        .unwrap()
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const V402: &str = "ztf_public_20231018_v4.02.tar.gz";

#[test]
fn alert_show_prints_the_identities() {
    let out = ampel(&["alert", "show", data(V402).to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = lines(&out);
    assert_eq!(rows.len(), 172);
    let keys: Vec<&String> = rows[0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "candid",
            "objectId",
            "stock",
            "datapoints",
            "link",
            "schema"
        ]
    );
    assert_eq!(rows[0]["schema"], "4.02");
    assert_eq!(rows[0]["datapoints"][0], rows[0]["candid"]);

    // Python AMPEL's values for every shared ZTF set (schema 3.0-4.02,
    // public and programid 2), public and private links.
    for set in ZTF_SETS {
        let file = data(&format!("{set}.tar.gz"));
        let expected = std::fs::read_to_string(data(&format!("expected/{set}.jsonl"))).unwrap();
        let expected: Vec<Value> = expected
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        for (access, link) in [("ZTF_PUB", "link"), ("ZTF_PRIV", "link_priv")] {
            let out = ampel(&["alert", "show", "--access", access, file.to_str().unwrap()]);
            assert!(out.status.success(), "{set}: {}", stderr(&out));
            let rows = lines(&out);
            assert_eq!(rows.len(), expected.len(), "{set}");
            for (row, exp) in rows.iter().zip(&expected) {
                for k in ["candid", "objectId", "stock", "datapoints"] {
                    assert_eq!(row[k], exp[k], "{set} {k}");
                }
                assert_eq!(row["link"], exp[link], "{set} {access}");
                assert_eq!(row["schema"], exp["schemavsn"], "{set}: schema version");
            }
        }
    }

    let lsst = lines(&ampel(&[
        "alert",
        "show",
        data("lsst_v9.0_20250905.tar.gz").to_str().unwrap(),
    ]));
    assert_eq!(lsst.len(), 100);
    assert_eq!(lsst[0]["schema"], "lsst.v9_0");
    assert_eq!(lsst[0]["objectId"], lsst[0]["stock"]);
}

#[test]
fn filter_prints_verdicts_and_reasons() {
    let cfg = r#"{"min_ndet":1,"min_tspan":0,"max_tspan":10000,"min_rb":0.3,"max_fwhm":5.5,"max_elong":1.4,"max_magdiff":1,"max_nbad":2,"min_sso_dist":20,"min_gal_lat":7,"ps1_sgveto_rad":1,"ps1_sgveto_th":0.8,"ps1_confusion_rad":3,"ps1_confusion_sg_tol":0.1,"gaia_rs":0,"gaia_pm_signif":3,"gaia_plx_signif":3,"gaia_veto_gmag_min":9,"gaia_veto_gmag_max":20,"gaia_excessnoise_sig_max":999}"#;
    let out = ampel(&[
        "filter",
        "--unit",
        "DecentFilter",
        "--config",
        cfg,
        data(V402).to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = lines(&out);
    assert_eq!(rows.len(), 172);
    let accepted: Vec<&Value> = rows.iter().filter(|r| r["accepted"] == true).collect();
    assert_eq!(
        accepted.len(),
        14,
        "Python AMPEL accepts 14 with this config"
    );
    assert!(accepted.iter().all(|r| r["reason"].is_null()));
    let rejected = rows.iter().find(|r| r["accepted"] == false).unwrap();
    assert!(
        rejected["reason"].as_str().unwrap().contains(':'),
        "{rejected}"
    );
    let keys: Vec<&String> = rows[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["candid", "objectId", "accepted", "reason"]);

    // The same config from a YAML file.
    let dir = tempfile::tempdir().unwrap();
    let yml = dir.path().join("decent.yml");
    let cfg: serde_json::Map<String, Value> = serde_json::from_str(cfg).unwrap();
    let text: String = cfg.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
    std::fs::write(&yml, text).unwrap();
    let at = format!("@{}", yml.display());
    let from_file = ampel(&[
        "filter",
        "--unit",
        "DecentFilter",
        "--config",
        &at,
        data(V402).to_str().unwrap(),
    ]);
    assert_eq!(lines(&from_file), rows);
}

/// `ampel filter` gives Python AMPEL's DecentFilter verdict for every alert
/// of every shared ZTF set, for each config of tests/reference.
#[test]
fn filter_verdicts_match_python_ampel_on_every_set() {
    let configs: serde_json::Map<String, Value> = serde_json::from_str(
        &std::fs::read_to_string(shared_data::root().join("tests/reference/decent_configs.json"))
            .unwrap(),
    )
    .unwrap();
    let mut compared = 0;
    for set in ZTF_SETS {
        let file = data(&format!("{set}.tar.gz"));
        let expected: Vec<Value> = std::fs::read_to_string(data(&format!("expected/{set}.jsonl")))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        for (name, cfg) in &configs {
            let cfg = cfg.to_string();
            let out = ampel(&[
                "filter",
                "--unit",
                "DecentFilter",
                "--config",
                &cfg,
                file.to_str().unwrap(),
            ]);
            assert!(out.status.success(), "{set} {name}: {}", stderr(&out));
            let rows = lines(&out);
            assert_eq!(rows.len(), expected.len(), "{set}");
            for (row, exp) in rows.iter().zip(&expected) {
                assert_eq!(row["candid"], exp["candid"]);
                assert_eq!(
                    row["accepted"], exp["verdicts"][name],
                    "{set} {name} candid {}: {}",
                    row["candid"], row["reason"]
                );
                compared += 1;
            }
        }
    }
    assert_eq!(compared, 356 * configs.len());
}

#[test]
fn bad_configs_exit_2_naming_the_problem() {
    let p = data(V402);
    let path = p.to_str().unwrap();
    let out = ampel(&[
        "filter",
        "--unit",
        "DecentFilter",
        "--config",
        r#"{"min_ndet": "x", "min_rbb": 1}"#,
        path,
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("min_rbb: unknown parameter (did you mean min_rb?)"),
        "{err}"
    );
    assert!(
        err.contains("min_ndet: invalid value: string \"x\", expected an integer"),
        "{err}"
    );

    let out = ampel(&["filter", "--unit", "DecentFiltr", path]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("did you mean DecentFilter?"),
        "{}",
        stderr(&out)
    );

    let out = ampel(&[
        "filter",
        "--unit",
        "ExpressionFilter",
        "--config",
        r#"{"expression": "ndet >> 2"}"#,
        path,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains('^'), "{}", stderr(&out));

    let out = ampel(&[
        "filter",
        "--unit",
        "SimpleDecentFilter",
        "--config",
        "{not json",
        path,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("line 1, column 2"),
        "{}",
        stderr(&out)
    );

    let out = ampel(&[
        "filter",
        "--unit",
        "SimpleDecentFilter",
        "--config",
        "@/no/such.yml",
        path,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/no/such.yml"), "{}", stderr(&out));
}

#[test]
fn bad_records_are_reported_and_skipped_with_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(data(V402)).unwrap();
    // A tar.gz with a good alert, a truncated one and garbage.
    let mut alerts = Vec::new();
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(&good[..]));
    for e in ar.entries().unwrap().take(3) {
        let mut e = e.unwrap();
        let name = e.path().unwrap().display().to_string();
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut buf).unwrap();
        alerts.push((name, buf));
    }
    let truncated = alerts[1].1[..alerts[1].1.len() / 3].to_vec();
    let members = [
        (alerts[0].0.clone(), alerts[0].1.clone()),
        ("bad/truncated.avro".to_string(), truncated),
        ("bad/garbage.avro".to_string(), b"this is not avro".to_vec()),
        (alerts[2].0.clone(), alerts[2].1.clone()),
    ];
    let tgz = dir.path().join("mixed.tar.gz");
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        std::fs::File::create(&tgz).unwrap(),
        flate2::Compression::fast(),
    ));
    for (name, bytes) in &members {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, &bytes[..]).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap();
    let lone = dir.path().join("lone.avro");
    std::fs::write(&lone, &alerts[0].1[..100]).unwrap();

    let out = ampel(&[
        "alert",
        "show",
        tgz.to_str().unwrap(),
        lone.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(lines(&out).len(), 2, "the good alerts around the bad ones");
    let err = stderr(&out);
    assert!(
        err.contains("mixed.tar.gz [member bad/truncated.avro at tar offset "),
        "{err}"
    );
    let garbage = err
        .lines()
        .find(|l| l.contains("mixed.tar.gz [member bad/garbage.avro at tar offset "))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(garbage.contains("]: not an Avro container"), "{garbage}");
    assert!(err.contains("lone.avro: truncated"), "{err}");
    assert_eq!(err.lines().count(), 3, "{err}");

    let out = ampel(&["alert", "show", "/no/such/file.avro"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("/no/such/file.avro: no such file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn config_hash_matches_ampel() {
    let out = ampel(&["config", "hash", r#"{"a":1,"b":2,"c":{"b":3,"a":[1,4]}}"#]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "-8986814508490313900"
    );
    let out = ampel(&["config", "hash", "[1]"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bench_t0_prints_a_json_summary_last() {
    let out = ampel(&[
        "bench",
        "t0",
        "--unit",
        "SimpleDecentFilter",
        "--rounds",
        "2",
        data(V402).to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["alerts"], 344);
    assert!(last["alerts_per_s"].as_f64().unwrap() > 0.0);
    assert!(stderr(&out).contains("round 2/2"));
    let out = ampel(&[
        "bench",
        "t0",
        "--unit",
        "SimpleDecentFilter",
        "--rounds",
        "0",
        data(V402).to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
}
