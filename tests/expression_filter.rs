//! The expression filter: values on real alerts, precedence, null handling,
//! and compile errors that point at the bad token.

mod common;

use ampel::alert::Alert;
use ampel::astro::icrs_to_galactic;
use ampel::t0::Expression;
use ampel::units::{build_filter, UnitContext};
use common::*;
use serde_json::json;

fn alert() -> Alert {
    alerts(ZTF_SETS[2])
        .into_iter()
        .map(|(_, a)| a)
        .find(|a| a.datapoints.len() > 5)
        .unwrap()
}

fn holds(expr: &str, a: &Alert) -> bool {
    Expression::compile(expr)
        .unwrap_or_else(|e| panic!("{e}"))
        .check(a)
        .is_ok()
}

#[test]
fn fields_and_derived_quantities() {
    let a = alert();
    let rb = a.latest().body.f64("rb").unwrap();
    let ndet = a.detections().count();
    assert!(holds(&format!("candidate.rb == {rb:?}"), &a));
    assert!(holds(
        &format!("candidate.rb > {} && ndet >= {ndet}", rb - 0.01),
        &a
    ));
    assert!(!holds(&format!("ndet > {ndet}"), &a));
    assert!(holds(&format!("ndp == {}", a.datapoints.len()), &a));
    assert!(holds(
        &format!("nupper == {}", a.datapoints.len() - ndet),
        &a
    ));
    let (l, b) = icrs_to_galactic(
        a.latest().body.f64("ra").unwrap(),
        a.latest().body.f64("dec").unwrap(),
    );
    assert!(holds(
        &format!("gal_lat == {b:?} && gal_lon == {l:?} && abs(gal_lat) >= 0"),
        &a
    ));
    assert!(holds("tspan == jd_last - jd_first && tspan >= 0", &a));
    assert!(holds(
        "latest.isdiffpos == \"t\" || latest.isdiffpos == 'f'",
        &a
    ));
    assert!(holds(
        "exists(candidate.magpsf) and not exists(candidate.nosuchfield)",
        &a
    ));
    assert!(holds(
        "max(candidate.sgscore1, candidate.sgscore2, candidate.sgscore3) <= 1",
        &a
    ));
    assert!(holds(
        "-candidate.magpsf < 0 && (1 + 2) * 3 == 9 && 7 % 4 == 3 && sqrt(16) == 4",
        &a
    ));
}

#[test]
fn precedence_and_nulls() {
    let a = alert();
    assert!(
        holds("true || false && false", &a),
        "&& binds tighter than ||"
    );
    assert!(!holds("(true || false) && false", &a));
    assert!(
        !holds("candidate.nosuchfield > 0", &a),
        "null compares false"
    );
    assert!(!holds("candidate.nosuchfield <= 0", &a));
    assert!(holds("candidate.nosuchfield == null", &a));
    assert!(
        holds("!(candidate.nosuchfield + 1 > 0)", &a),
        "null arithmetic stays null"
    );
}

#[test]
fn rejections_name_the_failing_clause() {
    let a = alert();
    let f = build_filter(
        "ExpressionFilter",
        &json!({"expression": "ndet >= 1 && candidate.rb > 2 && ndp > 0"}),
        &UnitContext::new(),
    )
    .unwrap();
    let v = f.process(&a);
    let r = v.rejection().unwrap();
    assert_eq!(r.cut, "expression");
    assert_eq!(r.detail, "`candidate.rb > 2` is false");
    let f = build_filter(
        "ExpressionFilter",
        &json!({"expression": "candidate.rb"}),
        &UnitContext::new(),
    )
    .unwrap();
    assert!(f
        .process(&a)
        .rejection()
        .unwrap()
        .detail
        .contains("not a boolean"));
}

#[test]
fn compile_errors_point_at_the_token() {
    for (src, at, msg) in [
        (
            "candidate.rb > 0.5 && ndett >= 3",
            22,
            "unknown variable `ndett`",
        ),
        ("candidate.rb = 0.5", 13, "did you mean `==`"),
        ("candidate.rb > ", 15, "unexpected end"),
        ("(ndet > 1", 9, "expected `)`"),
        ("foo(1)", 0, "unknown function `foo`"),
        ("abs(1, 2) > 0", 0, "exactly one argument"),
        ("1 < 2 < 3", 6, "do not chain"),
        ("candidate.rb > 0.5 $", 19, "unexpected character `$`"),
        ("\"open", 0, "unterminated string"),
        ("candidate rb", 10, "expected `.field`"),
    ] {
        let e = Expression::compile(src).unwrap_err();
        assert_eq!(e.at, at, "{src}: {e}");
        assert!(e.message.contains(msg), "{src}: {e}");
    }
    let e = Expression::compile("ndet > 1 && ndett >= 3").unwrap_err();
    assert_eq!(
        e.to_string().lines().skip(1).collect::<Vec<_>>(),
        ["    ndet > 1 && ndett >= 3", "                ^^^^^"]
    );
    // Through the unit registry the error names the parameter.
    let err = build_filter(
        "ExpressionFilter",
        &json!({"expression": "ndet >"}),
        &UnitContext::new(),
    )
    .err()
    .unwrap();
    assert!(
        err.to_string()
            .contains("expression: unexpected end of expression"),
        "{err}"
    );
}

#[test]
fn size_and_depth_are_bounded() {
    let deep = format!("{}1{}", "(".repeat(200), ")".repeat(200));
    assert!(Expression::compile(&deep)
        .unwrap_err()
        .message
        .contains("nested deeper"));
    let negs = format!("{}1 > 0", "-".repeat(500));
    assert!(Expression::compile(&negs).is_err());
    let long = "ndet > 0 && ".repeat(500) + "true";
    assert!(Expression::compile(&long)
        .unwrap_err()
        .message
        .contains("longer than"));
}
