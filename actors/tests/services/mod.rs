//! Real services for tests, started on free loopback ports and stopped when
//! dropped: tansu (a Kafka-protocol broker). `.ci/run` installs it; a test
//! that needs it fails with the install command when it is missing.

#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn find(bin: &str, env: &str) -> PathBuf {
    if let Ok(p) = std::env::var(env) {
        return PathBuf::from(p);
    }
    let home = std::env::var("HOME").unwrap_or_default();
    let candidates = std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|d| PathBuf::from(d).join(bin))
        .chain([PathBuf::from(home).join(".cargo/bin").join(bin)])
        .collect::<Vec<_>>();
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{bin} not found (set {env}, or install it: see .ci/run)"))
}

/// Waits until `child` listens on `port`; false when it exited first (the
/// port was taken between `free_port` and its bind: retry elsewhere).
fn wait_for_port(child: &mut Child, port: u16, what: &str) -> bool {
    let t = Instant::now();
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            // Listening, and still ours a moment later.
            std::thread::sleep(Duration::from_millis(50));
            return child.try_wait().map(|s| s.is_none()).unwrap_or(false);
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "{what} did not open port {port} in 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A tansu broker with in-memory storage.
pub struct Tansu {
    child: Child,
    pub port: u16,
    bin: PathBuf,
}

impl Tansu {
    pub fn start() -> Tansu {
        let bin = find("tansu", "TANSU");
        for _ in 0..5 {
            let port = free_port();
            let url = format!("tcp://127.0.0.1:{port}");
            let mut child = Command::new(&bin)
                .args([
                    "broker",
                    "--listener-url",
                    &url,
                    "--advertised-listener-url",
                    &url,
                ])
                .args(["--storage-engine", "memory://tansu/"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
            if wait_for_port(&mut child, port, "tansu") {
                return Tansu { child, port, bin };
            }
        }
        panic!("tansu did not start on any of 5 free ports");
    }

    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn create_topic(&self, name: &str, partitions: u32) {
        let out = Command::new(&self.bin)
            .args([
                "topic",
                "create",
                name,
                "--partitions",
                &partitions.to_string(),
            ])
            .args(["--broker", &format!("tcp://127.0.0.1:{}", self.port)])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tansu topic create {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A redis-server without persistence (a restart empties it, as a lost
/// Redis would be).
pub struct Redis {
    child: Option<Child>,
    pub port: u16,
    bin: PathBuf,
}

impl Redis {
    pub fn start() -> Redis {
        let bin = find("redis-server", "REDIS_SERVER");
        for _ in 0..5 {
            let mut r = Redis {
                child: None,
                port: free_port(),
                bin: bin.clone(),
            };
            if r.try_start() {
                return r;
            }
        }
        panic!("redis-server did not start on any of 5 free ports");
    }

    /// Starts on `self.port`; false when the port was taken.
    fn try_start(&mut self) -> bool {
        self.stop();
        let mut child = Command::new(&self.bin)
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.bin.display()));
        let up = wait_for_port(&mut child, self.port, "redis-server") && self.pong();
        self.child = Some(child);
        up
    }

    /// The port answers like Redis.
    fn pong(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let mut buf = [0u8; 7];
        s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Restarts on the same port (as a restarted Redis would come back).
    pub fn restart(&mut self) {
        assert!(
            self.try_start(),
            "redis-server did not come back on port {}",
            self.port
        );
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}
