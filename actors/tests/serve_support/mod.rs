//! Shared by the web view's tests: an archive made by the tutorial job,
//! `ampel serve` started on a free port, and HTTP requests (reqwest on a
//! small runtime).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

#[path = "../../../tests/common/shared_data.rs"]
mod shared_data;
pub use shared_data::data;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs the tutorial job (its channel renamed to `channel` when given)
/// into `dir/ampel.sqlite`; returns the archive address.
pub fn tutorial_archive(dir: &Path, channel: Option<&str>) -> String {
    let src = repo().join("config/tutorial");
    std::fs::copy(
        src.join("neutrino_regions.yml"),
        dir.join("neutrino_regions.yml"),
    )
    .unwrap();
    let mut ch = std::fs::read_to_string(src.join("sn09ip_nu.yml")).unwrap();
    if let Some(c) = channel {
        ch = ch.replace("channel: DEMO_SN09IP_NU", &format!("channel: {c:?}"));
    }
    std::fs::write(dir.join("sn09ip_nu.yml"), ch).unwrap();
    let job = std::fs::read_to_string(src.join("job.yml"))
        .unwrap()
        .replace(
            "../../../shared/data/ztf/",
            &format!("{}/", data("").display()),
        );
    std::fs::write(dir.join("job.yml"), job).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ampel"))
        .current_dir(dir)
        .args(["run", "--job", "job.yml"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!("sqlite:{}", dir.join("ampel.sqlite").display())
}

/// A running `ampel serve`, killed when dropped.
pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    pub fn start(store: &str, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ampel"))
            .args(["serve", "--store", store, "--listen", "127.0.0.1:0"])
            .args(extra)
            .env_remove("AMPEL_SERVE_TOKEN")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let base = loop {
            let line = lines.next().expect("serve printed its address").unwrap();
            if let Some(at) = line.find("http://") {
                break line[at..].split(',').next().unwrap().trim().to_string();
            }
        };
        // Keep draining stderr so the server never blocks on it.
        std::thread::spawn(move || for _ in lines {});
        Server { child, base }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// `method url` with an optional JSON body and bearer token.
pub fn request(
    method: &str,
    url: &str,
    body: Option<&serde_json::Value>,
    token: Option<&str>,
) -> Answer {
    runtime().block_on(async {
        let client = reqwest::Client::new();
        let mut r = client.request(method.parse().unwrap(), url);
        if let Some(b) = body {
            r = r
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        if let Some(t) = token {
            r = r.header("authorization", format!("Bearer {t}"));
        }
        let res = r
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = res.status().as_u16();
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = res.bytes().await.unwrap().to_vec();
        Answer {
            status,
            content_type,
            body,
        }
    })
}

pub fn get(url: &str) -> Answer {
    request("GET", url, None, None)
}
