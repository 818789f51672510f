//! `ampel units`: every registered unit of each tier with its config
//! fields, types, defaults and docs; `--json` gives the schemas.

use std::process::Command;

fn ampel(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ampel"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The line of `field` in `unit`'s block of the listing.
fn field_line<'a>(listing: &'a str, unit: &str, field: &str) -> &'a str {
    let block = listing
        .split(&format!("\n  {unit}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("{unit} not listed: {listing}"));
    block
        .lines()
        .take_while(|l| l.starts_with("    "))
        .find(|l| l.trim_start().starts_with(&format!("{field} ")))
        .unwrap_or_else(|| panic!("{unit}.{field} not listed: {block}"))
}

#[test]
fn units_are_listed_per_tier_with_their_config_fields() {
    let (code, out, err) = ampel(&["units"]);
    assert_eq!(code, 0, "{err}");
    let t0 = out.find("T0 filter units").expect("T0 heading");
    let t2 = out.find("T2 units").expect("T2 heading");
    let t3 = out.find("T3 units").expect("T3 heading");
    assert!(t0 < t2 && t2 < t3);
    for (unit, tier) in [
        ("DecentFilter", t0),
        ("ExpressionFilter", t0),
        ("T2LightCurveSummary", t2),
        ("T2TemplateMatch", t2),
        ("T2MultiMessMatch", t2),
        ("T2TutorialDecision", t2),
        ("T3ChannelSummary", t3),
        ("SlackPublisher", t3),
        ("KafkaPublisher", t3),
    ] {
        let at = out
            .find(&format!("\n  {unit}\n"))
            .unwrap_or_else(|| panic!("{unit}: {out}"));
        assert!(at > tier, "{unit} under the wrong tier");
    }
    let l = field_line(&out, "T2LightCurveSummary", "limiting_magnitude");
    assert!(l.contains("number") && l.contains("default 19.5"), "{l}");
    let l = field_line(&out, "DecentFilter", "min_rb");
    assert!(l.contains("required"), "{l}");
    let l = field_line(&out, "T3ChannelSummary", "path");
    assert!(l.contains("output_dir"), "the doc is shown: {l}");
    // Nested settings, with the unit's own defaults.
    let l = field_line(&out, "SlackPublisher", "delivery.rate_per_second");
    assert!(l.contains("default 1.0"), "{l}");
    let l = field_line(&out, "KafkaPublisher", "delivery.rate_per_second");
    assert!(l.contains("default 100.0"), "{l}");
    let l = field_line(&out, "T2MultiMessMatch", "match_where");
    assert!(l.contains("latest|first|mean"), "{l}");
}

#[test]
fn one_tier_one_unit_json_and_an_unknown_name() {
    let (code, out, _) = ampel(&["units", "--tier", "t2"]);
    assert_eq!(code, 0);
    assert!(out.contains("T2TemplateMatch") && !out.contains("DecentFilter"));

    let (code, out, _) = ampel(&["units", "T2TemplateMatch", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["tier"], "t2");
    assert_eq!(v["name"], "T2TemplateMatch");
    assert_eq!(
        v["config"]["properties"]["target_model_name"]["default"],
        "SN2009ip"
    );

    let (code, _, err) = ampel(&["units", "T2TemplateMach"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no unit \"T2TemplateMach\"") && err.contains("T2TemplateMatch"),
        "{err}"
    );
}
