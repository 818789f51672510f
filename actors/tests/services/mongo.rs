//! The tests' MongoDB: the server `AMPEL_TEST_MONGO_URI` names (e.g. a real
//! mongod), else a fresh in-memory SecantusDB (a MongoDB-wire server on
//! WiredTiger, PyPI `SecantusDB==0.7.0b3`, installed by `tests/run` into
//! `~/.cache/ampel-test/secantus`). Never skipped: without either, a test
//! that needs MongoDB fails naming what to install.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub struct Mongo {
    child: Option<Child>,
    /// `mongodb://127.0.0.1:PORT` (or the external server's URI).
    pub uri: String,
}

/// Where the SecantusDB launcher is: `AMPEL_SECANTUSD`, PATH, or the venv
/// `tests/run` makes.
fn secantusd() -> PathBuf {
    if let Ok(p) = std::env::var("AMPEL_SECANTUSD") {
        return PathBuf::from(p);
    }
    let home = std::env::var("HOME").unwrap_or_default();
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|d| PathBuf::from(d).join("secantusd-py"))
        .chain([PathBuf::from(home).join(".cache/ampel-test/secantus/bin/secantusd-py")])
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "no MongoDB for the tests: AMPEL_TEST_MONGO_URI is not set and secantusd-py was \
                 not found (run tests/run, which installs SecantusDB==0.7.0b3 into \
                 ~/.cache/ampel-test/secantus, or set AMPEL_SECANTUSD)"
            )
        })
}

impl Mongo {
    /// `AMPEL_TEST_MONGO_URI`'s server, else a fresh SecantusDB (a
    /// single-node replica-set primary: transactions on).
    pub fn start() -> Mongo {
        match std::env::var("AMPEL_TEST_MONGO_URI") {
            Ok(uri) if !uri.is_empty() => Mongo { child: None, uri },
            _ => Mongo::secantus(&[]),
        }
    }

    /// A SecantusDB with mongod's test commands on (`configureFailPoint`),
    /// whatever `AMPEL_TEST_MONGO_URI` says: for injecting server errors.
    pub fn with_fail_points() -> Mongo {
        Mongo::secantus(&["--enable-test-commands"])
    }

    fn secantus(extra: &[&str]) -> Mongo {
        let bin = secantusd();
        let mut child = Command::new(&bin)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--storage-path",
                ":memory:",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        // It picks a free port and logs `secantus listening on HOST:PORT`.
        let stderr = child.stderr.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent {
                    if let Some(addr) = line.split("listening on ").nth(1) {
                        let _ = tx.send(Ok(addr.trim().to_string()));
                        sent = true;
                        continue;
                    }
                    let _ = tx.send(Err(line));
                }
                // Keep draining, so the server never blocks on a full pipe.
            }
        });
        let mut early = Vec::new();
        let addr = loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(Ok(addr)) => break addr,
                Ok(Err(line)) => early.push(line),
                Err(_) => {
                    let _ = child.kill();
                    panic!(
                        "{} did not report its port in 60 s: {}",
                        bin.display(),
                        early.join("\n")
                    );
                }
            }
        };
        Mongo {
            child: Some(child),
            uri: format!("mongodb://{addr}"),
        }
    }

    /// Whether this is a server the harness started (not an external one).
    pub fn is_secantus(&self) -> bool {
        self.child.is_some()
    }

    /// The archive address of database `db` on this server.
    pub fn address(&self, db: &str) -> String {
        let (base, query) = match self.uri.split_once('?') {
            Some((b, q)) => (b.trim_end_matches('/'), format!("?{q}")),
            None => (self.uri.trim_end_matches('/'), String::new()),
        };
        format!("{base}/{db}{query}")
    }
}

impl Drop for Mongo {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
