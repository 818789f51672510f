//! The tutorial's stock page in a real browser: Debian's chromium, driven
//! headless through chromedriver (WebDriver). The light curve SVG holds one
//! marker per detection and per upper limit, the three cutout images
//! decode, the T2 table lists the tutorial's four units; the screenshot is
//! kept at `target/test-artifacts/stock_page_ZTF23abfcbgc.png`.
//!
//! `tests/run` installs chromium and chromium-driver; `AMPEL_CHROMEDRIVER`
//! and `AMPEL_CHROMIUM` name other binaries.

mod serve_support;

use serde_json::{json, Value};
use serve_support::{get, repo, request, tutorial_archive, Server};
use std::process::{Child, Command, Stdio};

struct Driver {
    child: Child,
    base: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_driver() -> Driver {
    let bin =
        std::env::var("AMPEL_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    let port = free_port();
    let mut child = Command::new(&bin)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{bin}: {e} (tests/run installs chromium-driver)"));
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Driver { child, base };
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("chromedriver did not listen on {port}");
}

fn webdriver(d: &Driver, method: &str, path: &str, body: Value) -> Value {
    let body = (!body.is_null()).then_some(&body);
    let a = request(method, &format!("{}{path}", d.base), body, None);
    assert_eq!(a.status, 200, "{method} {path}: {}", a.text());
    a.json()["value"].clone()
}

/// Counts what the browser sees on the page.
const INSPECT: &str = r#"
const svg = document.querySelector('#lightcurve svg');
return {
  circles: svg ? svg.querySelectorAll('circle').length : -1,
  polygons: svg ? svg.querySelectorAll('polygon').length : -1,
  images: [...document.querySelectorAll('img.cutout')].map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight]),
  units: [...document.querySelectorAll('#t2 td.unit')].map(td => td.textContent),
};
"#;

#[test]
fn the_stock_page_renders_in_chromium() {
    let d = tempfile::tempdir().unwrap();
    let store = tutorial_archive(d.path(), None);
    let s = Server::start(&store, &[]);
    let lc = get(&format!("{}/api/v1/stocks/ZTF23abfcbgc/lightcurve", s.base)).json();
    let pts = lc["points"].as_array().unwrap();
    let ul = pts.iter().filter(|p| p["upper_limit"] == true).count();
    let det = pts.len() - ul;

    let driver = start_driver();
    let chromium = std::env::var("AMPEL_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
        "binary": chromium,
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--window-size=1280,2200"]}}}});
    let session = webdriver(&driver, "POST", "/session", caps);
    let sid = session["sessionId"].as_str().unwrap().to_string();
    let url = format!("{}/stocks/ZTF23abfcbgc", s.base);
    webdriver(
        &driver,
        "POST",
        &format!("/session/{sid}/url"),
        json!({"url": url}),
    );
    let seen = webdriver(
        &driver,
        "POST",
        &format!("/session/{sid}/execute/sync"),
        json!({"script": INSPECT, "args": []}),
    );
    let shot = webdriver(
        &driver,
        "GET",
        &format!("/session/{sid}/screenshot"),
        Value::Null,
    );
    let _ = request(
        "DELETE",
        &format!("{}/session/{sid}", driver.base),
        None,
        None,
    );

    use base64::Engine;
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot.as_str().unwrap())
        .unwrap();
    let artifacts = repo().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::write(artifacts.join("stock_page_ZTF23abfcbgc.png"), &png).unwrap();

    assert_eq!(seen["circles"], det, "one marker per detection: {seen}");
    assert_eq!(seen["polygons"], ul, "one marker per upper limit: {seen}");
    let images = seen["images"].as_array().unwrap();
    assert_eq!(images.len(), 3, "{seen}");
    for i in images {
        assert_eq!(
            (&i[1], &i[2], &i[3]),
            (&json!(true), &json!(63), &json!(63)),
            "decoded: {i}"
        );
    }
    let units: Vec<&str> = seen["units"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for u in [
        "T2LightCurveSummary",
        "T2TemplateMatch",
        "T2MultiMessMatch",
        "T2TutorialDecision",
    ] {
        assert!(units.contains(&u), "{u} in {units:?}");
    }
}
