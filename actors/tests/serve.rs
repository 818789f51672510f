//! `ampel serve` over the tutorial's archive, as a user reaches it over
//! HTTP: the stock page of ZTF23abfcbgc (light curve markers, cutouts, the
//! four T2 units), the JSON API with exact ids, 404s for bad ids, escaping
//! of archive strings, and the bearer token.

mod serve_support;

use serve_support::{get, request, tutorial_archive, Server};

/// ZTF23abfcbgc's datapoints in the tutorial archive: (detections, upper
/// limits), counted from the API's light curve.
fn markers(base: &str) -> (usize, usize) {
    let lc = get(&format!("{base}/api/v1/stocks/ZTF23abfcbgc/lightcurve")).json();
    let pts = lc["points"].as_array().unwrap();
    let ul = pts.iter().filter(|p| p["upper_limit"] == true).count();
    (pts.len() - ul, ul)
}

#[test]
fn the_tutorial_stock_page_shows_its_light_curve_cutouts_and_t2_results() {
    let d = tempfile::tempdir().unwrap();
    let store = tutorial_archive(d.path(), None);
    let s = Server::start(&store, &[]);
    let page = get(&format!("{}/stocks/ZTF23abfcbgc", s.base));
    assert_eq!(page.status, 200, "{}", page.text());
    let html = page.text();
    let (det, ul) = markers(&s.base);
    assert!(
        det > 0 && ul > 0,
        "the tutorial stock has detections and limits"
    );
    assert_eq!(
        html.matches("<circle").count(),
        det,
        "one circle per detection"
    );
    assert_eq!(
        html.matches("<polygon").count(),
        ul,
        "one triangle per upper limit"
    );
    for unit in [
        "T2LightCurveSummary",
        "T2TemplateMatch",
        "T2MultiMessMatch",
        "T2TutorialDecision",
    ] {
        assert!(
            html.contains(&format!("<td class=\"unit\">{unit}</td>")),
            "T2 table lists {unit}"
        );
    }
    for kind in ["science", "template", "difference"] {
        let png = get(&format!(
            "{}/stocks/ZTF23abfcbgc/cutouts/{kind}.png",
            s.base
        ));
        assert_eq!(
            (png.status, png.content_type.as_str()),
            (200, "image/png"),
            "{kind}"
        );
        let info = png::Decoder::new(std::io::Cursor::new(png.body))
            .read_info()
            .unwrap();
        assert_eq!(
            (info.info().width, info.info().height),
            (63, 63),
            "ZTF stamps are 63x63"
        );
    }
    assert!(
        html.contains("https://alerce.online/object/ZTF23abfcbgc"),
        "survey links"
    );
}

#[test]
fn the_api_gives_exact_ids_and_bad_ids_are_404s_with_a_message() {
    let d = tempfile::tempdir().unwrap();
    let store = tutorial_archive(d.path(), None);
    let s = Server::start(&store, &[]);
    let st = get(&format!("{}/api/v1/stocks/ZTF23abfcbgc", s.base)).json();
    let id = st["stock_str"].as_str().unwrap();
    assert_eq!(st["stock"].as_i64().unwrap().to_string(), id);
    let by_id = get(&format!("{}/api/v1/stocks/{id}/t2", s.base));
    assert_eq!(by_id.status, 200);
    assert_eq!(
        by_id.json()["t2"].as_array().unwrap().len(),
        4,
        "four units' documents"
    );
    let page = get(&format!(
        "{}/api/v1/stocks?channel=DEMO_SN09IP_NU&per_page=2",
        s.base
    ))
    .json();
    assert_eq!(page["stocks"].as_array().unwrap().len(), 2);
    assert!(page["pages"].as_u64().unwrap() >= 1);
    for (path, json) in [
        ("/api/v1/stocks/ZTF99zzzzzzz", true),
        ("/api/v1/stocks/123456789012345678/lightcurve", true),
        ("/stocks/not-a-stock", false),
        ("/stocks/ZTF23abfcbgc/cutouts/sky.png", false),
        ("/channels/NO_SUCH_CHANNEL", false),
        ("/no/such/page", false),
    ] {
        let a = get(&format!("{}{path}", s.base));
        assert_eq!(a.status, 404, "{path}: {}", a.text());
        if json {
            assert!(
                a.json()["error"].as_str().unwrap().contains("no stock"),
                "{path}"
            );
        } else {
            assert!(a.text().contains("<h1>Not Found</h1>"), "{path}");
        }
    }
    let missing = get(&format!("{}/api/v1/stocks", s.base));
    assert_eq!(missing.status, 400, "channel is required");
    let doc = get(&format!("{}/api/v1/openapi.json", s.base)).json();
    assert_eq!(doc["openapi"], "3.0.3");
}

#[test]
fn archive_strings_are_escaped() {
    let d = tempfile::tempdir().unwrap();
    let evil = "X<script>alert(1)</script>";
    let store = tutorial_archive(d.path(), Some(evil));
    let s = Server::start(&store, &[]);
    for path in [
        "/",
        "/stocks/ZTF23abfcbgc",
        "/channels/X%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    ] {
        let a = get(&format!("{}{path}", s.base));
        assert_eq!(a.status, 200, "{path}: {}", a.text());
        let html = a.text();
        assert!(!html.contains("<script>"), "{path} carries a raw <script>");
        assert!(
            html.contains("X&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{path} shows it escaped"
        );
    }
}

#[test]
fn a_token_guards_every_route_and_other_interfaces_need_one() {
    let d = tempfile::tempdir().unwrap();
    let store = tutorial_archive(d.path(), None);
    let s = Server::start(&store, &["--token", "s3cret"]);
    let url = format!("{}/api/v1/events", s.base);
    assert_eq!(get(&url).status, 401);
    assert_eq!(request("GET", &url, None, Some("wrong")).status, 401);
    let ok = request("GET", &url, None, Some("s3cret"));
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert!(ok.json()["runs"].as_u64().unwrap() >= 1);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ampel"))
        .args(["serve", "--store", &store, "--listen", "0.0.0.0:0"])
        .env_remove("AMPEL_SERVE_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--token"));
}

#[test]
fn an_unknown_store_scheme_or_a_missing_file_is_an_error() {
    for store in ["bogus:thing", "sqlite:/nonexistent/dir/a.sqlite"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ampel"))
            .args(["serve", "--store", store, "--listen", "127.0.0.1:0"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{store}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(store.split(':').next().unwrap()),
            "{store}: {err}"
        );
    }
}

#[test]
fn a_bad_query_is_a_400_that_says_what_was_wrong() {
    let d = tempfile::tempdir().unwrap();
    let store = tutorial_archive(d.path(), None);
    let s = Server::start(&store, &[]);
    let a = get(&format!(
        "{}/api/v1/stocks?channel=DEMO_SN09IP_NU&page=two",
        s.base
    ));
    assert_eq!(a.status, 400, "{}", a.text());
    assert!(
        a.json()["error"].as_str().unwrap().contains("page"),
        "{}",
        a.text()
    );
}
