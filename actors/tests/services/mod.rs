//! Real services for tests, started on free loopback ports and stopped when
//! dropped: tansu (a Kafka-protocol broker), redis-server and a MongoDB
//! (SecantusDB, see [`mongo`]). `tests/run` installs them; a test that needs
//! one fails naming the install step when it is missing.

#![allow(dead_code)]

pub mod apache_kafka;
pub mod kustomize;
pub mod mongo;
pub mod promql;

#[allow(unused_imports)]
pub use apache_kafka::{ApacheKafka, KafkaCluster};

#[allow(unused_imports)]
pub use mongo::Mongo;

use ampel::store::Archive;
use serde_json::{json, Value};
use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port, never one this process handed out before: the
/// kernel may give a just-released port again at once, and a broker
/// asked for two (Kafka's listener and controller) then got the same one
/// twice and refused to start ("two listeners on the same port").
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// The repository's root (the workspace).
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("actors/ is in the workspace")
}

/// A program on PATH (or in ~/.cargo/bin, or where `env` says), or a panic
/// naming what to install.
pub fn find(bin: &str, env: &str) -> PathBuf {
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
        .unwrap_or_else(|| {
            panic!("{bin} not found (set {env}, or run tests/run, which installs it)")
        })
}

/// Waits until `child` listens on `port`; false when it exited first (the
/// port was taken between `free_port` and its bind: retry elsewhere).
pub(crate) fn wait_for_port(child: &mut Child, port: u16, what: &str) -> bool {
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
        // A JVM on a loaded 2-core machine (three cluster nodes starting
        // together beside the build) has taken more than 30 s.
        assert!(
            t.elapsed() < Duration::from_secs(90),
            "{what} did not open port {port} in 90 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A tansu broker: in-memory storage, or an SQLite file that survives a
/// kill -9 and restart.
pub struct Tansu {
    child: Option<Child>,
    pub port: u16,
    bin: PathBuf,
    storage: String,
    /// Working directory (relative SQLite storage lives there).
    dir: Option<PathBuf>,
}

impl Tansu {
    pub fn start() -> Tansu {
        Self::start_with("memory://tansu/".into(), None, None)
    }

    /// Storage in `dir` (kept across [`kill9`](Self::kill9) and
    /// [`restart`](Self::restart)).
    pub fn start_persistent(dir: &std::path::Path) -> Tansu {
        Self::start_with("sqlite://tansu.db".into(), None, Some(dir))
    }

    /// In-memory storage on a given port (a broker that comes up late).
    pub fn start_on(port: u16) -> Tansu {
        Self::start_with("memory://tansu/".into(), Some(port), None)
    }

    fn start_with(storage: String, port: Option<u16>, dir: Option<&std::path::Path>) -> Tansu {
        let bin = find("tansu", "TANSU");
        for _ in 0..5 {
            let mut t = Tansu {
                child: None,
                port: port.unwrap_or_else(free_port),
                bin: bin.clone(),
                storage: storage.clone(),
                dir: dir.map(Path::to_path_buf),
            };
            if t.try_start() {
                return t;
            }
        }
        panic!("tansu did not start on any of 5 free ports");
    }

    fn try_start(&mut self) -> bool {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let mut cmd = Command::new(&self.bin);
        if let Some(d) = &self.dir {
            cmd.current_dir(d);
        }
        let mut child = cmd
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", &self.storage])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.bin.display()));
        let up = wait_for_port(&mut child, self.port, "tansu");
        self.child = Some(child);
        up
    }

    /// SIGKILL, no shutdown of any kind.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts again on the same port with the same storage.
    pub fn restart(&mut self) {
        self.kill9();
        let t = Instant::now();
        while !self.try_start() {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "tansu did not come back on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(200));
        }
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
        self.kill9();
    }
}

/// The Kafka broker of a test: Apache Kafka or tansu, chosen by
/// `AMPEL_TEST_KAFKA=apache|tansu` (default tansu; `tests/run` runs the
/// Kafka suites on both).
pub enum Broker {
    Tansu(Tansu),
    Apache(ApacheKafka),
}

/// The `ampel` binary, set for the broker under test: on tansu, whose
/// group coordinator does not carry cooperative (incremental) rebalances
/// through (a group of consumers never settles), with the eager `range`
/// assignor; on Apache Kafka with the default, cooperative-sticky.
pub fn ampel() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ampel"));
    if !apache_kafka() {
        c.env(
            "AMPEL_KAFKA_PROPERTY_PARTITION_ASSIGNMENT_STRATEGY",
            "range",
        );
    }
    c
}

/// Which broker `AMPEL_TEST_KAFKA` asks for.
pub fn apache_kafka() -> bool {
    match std::env::var("AMPEL_TEST_KAFKA").as_deref() {
        Ok("apache") => true,
        Ok("tansu") | Ok("") | Err(_) => false,
        Ok(other) => panic!("AMPEL_TEST_KAFKA={other}: expected apache or tansu"),
    }
}

impl Broker {
    pub fn start() -> Broker {
        if apache_kafka() {
            Broker::Apache(ApacheKafka::start())
        } else {
            Broker::Tansu(Tansu::start())
        }
    }

    /// Data in `dir`, kept across [`kill9`](Self::kill9) and
    /// [`restart`](Self::restart).
    pub fn start_persistent(dir: &Path) -> Broker {
        if apache_kafka() {
            Broker::Apache(ApacheKafka::start_persistent(dir))
        } else {
            Broker::Tansu(Tansu::start_persistent(dir))
        }
    }

    pub fn start_on(port: u16) -> Broker {
        if apache_kafka() {
            Broker::Apache(ApacheKafka::start_on(port))
        } else {
            Broker::Tansu(Tansu::start_on(port))
        }
    }

    pub fn is_apache(&self) -> bool {
        matches!(self, Broker::Apache(_))
    }

    pub fn kill9(&mut self) {
        match self {
            Broker::Tansu(t) => t.kill9(),
            Broker::Apache(k) => k.kill9(),
        }
    }

    pub fn restart(&mut self) {
        match self {
            Broker::Tansu(t) => t.restart(),
            Broker::Apache(k) => k.restart(),
        }
    }

    pub fn brokers(&self) -> String {
        match self {
            Broker::Tansu(t) => t.brokers(),
            Broker::Apache(k) => k.brokers(),
        }
    }

    pub fn port(&self) -> u16 {
        match self {
            Broker::Tansu(t) => t.port,
            Broker::Apache(k) => k.port,
        }
    }

    pub fn create_topic(&self, name: &str, partitions: u32) {
        match self {
            Broker::Tansu(t) => t.create_topic(name, partitions),
            Broker::Apache(k) => k.create_topic(name, partitions),
        }
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

// ---- helpers of the Kafka and live tests ----

#[path = "../../../tests/common/shared_data.rs"]
mod shared_data;
pub use shared_data::data;

pub fn produce(broker: &Broker, topic: &str, files: &[&str]) -> Value {
    let mut cmd = ampel();
    cmd.args(["produce", "--brokers", &broker.brokers(), "--topic", topic]);
    if !broker.is_apache() {
        // tansu 0.6 loses messages: a fetch starting inside a batch of
        // several messages returns from the next batch on (seeking to 4721
        // returned 4753 first, with librdkafka and kafka-python alike).
        // Consumers fetch from inside batches after every pause or
        // rebalance, so on tansu each message goes in its own batch.
        cmd.args(["--property", "batch.num.messages=1"]);
    }
    for f in files {
        cmd.arg(data(f));
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

pub fn job(dir: &Path, source: &str) -> PathBuf {
    job_with(dir, source, "")
}

/// A job with two channels (A: DecentFilter, B: SimpleDecentFilter, with
/// T2 units) over `source`, plus `extra` top-level YAML lines.
pub fn job_with(dir: &Path, source: &str, extra: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let standard = json!({"min_ndet": 1, "min_tspan": 0, "max_tspan": 10000, "min_rb": 0.3, "max_fwhm": 5.5,
        "max_elong": 1.4, "max_magdiff": 1, "max_nbad": 2, "min_sso_dist": 20, "min_gal_lat": 7,
        "ps1_sgveto_rad": 1, "ps1_sgveto_th": 0.8, "ps1_confusion_rad": 3, "ps1_confusion_sg_tol": 0.1,
        "gaia_rs": 0, "gaia_pm_signif": 3, "gaia_plx_signif": 3, "gaia_veto_gmag_min": 9,
        "gaia_veto_gmag_max": 20, "gaia_excessnoise_sig_max": 999});
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let p = dir.join(format!("job-{n}.yml"));
    std::fs::write(
        &p,
        format!(
            "name: live\nsource: {source}\n{extra}\nchannels:\n\
             - {{channel: A, access: [ZTF, ZTF_PUB], t0_filter: {{unit: DecentFilter, config: {standard}}}, t2_compute: [{{unit: T2LightCurveSummary}}]}}\n\
             - {{channel: B, access: [ZTF, ZTF_PUB], t0_filter: {{unit: SimpleDecentFilter, config: {{min_ndet: 3}}}}, t2_compute: [{{unit: T2LightCurveSummary}}, {{unit: T2TemplateMatch}}]}}\n"
        ),
    )
    .unwrap();
    p
}

/// `config/tutorial/live.yml` in `dir`, pointed at `broker` and `redis`,
/// as a catch-up run ending after `idle` s; its channel file's text goes
/// through `channel` first. Returns the job file.
pub fn tutorial_live_job(
    dir: &Path,
    broker: &Broker,
    redis: &Redis,
    idle: u32,
    channel: impl Fn(String) -> String,
) -> PathBuf {
    let src = repo_root().join("config/tutorial");
    std::fs::copy(
        src.join("neutrino_regions.yml"),
        dir.join("neutrino_regions.yml"),
    )
    .unwrap();
    let text = std::fs::read_to_string(src.join("sn09ip_nu.yml")).unwrap();
    std::fs::write(dir.join("sn09ip_nu.yml"), channel(text)).unwrap();
    let job = std::fs::read_to_string(src.join("live.yml"))
        .unwrap()
        .replace("127.0.0.1:9092", &broker.brokers())
        .replace("redis://127.0.0.1:6379", &redis.url())
        .replace(
            "group: ampel-tutorial",
            &format!("group: ampel-tutorial\n    stop_after_idle_seconds: {idle}"),
        );
    let j = dir.join("live.yml");
    std::fs::write(&j, job).unwrap();
    j
}

pub fn run_cli(dir: &Path, job: &Path, store: &str) -> Value {
    run_cli_with(dir, job, &["--store", store])
}

/// `ampel run --job JOB ARGS...` in `dir`, which must succeed; its summary.
pub fn run_cli_with(dir: &Path, job: &Path, args: &[&str]) -> Value {
    let out = ampel()
        .current_dir(dir)
        .args(["run", "--job"])
        .arg(job)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap()
}

/// What must match between a live run and a replay.
pub fn contents(a: &dyn Archive) -> Value {
    ampel::store::fingerprint(a).unwrap()
}

/// The real alert sets the live tests stream: ALL, and the sets produced
/// after the first (REST).
pub const ALL: [&str; 3] = [
    "ztf_public_20231018_v4.02.tar.gz",
    "ztf_public_20200101_v3.3.tar.gz",
    "ztf_public_20180819_mod1000.tar.gz",
];
pub const REST: [&str; 2] = [
    "ztf_public_20200101_v3.3.tar.gz",
    "ztf_public_20180819_mod1000.tar.gz",
];

/// Whether `group` has committed every partition of `topic` up to its end
/// (what it consumed is stored: offsets are committed only after that).
pub fn committed_to_end(broker: &Broker, group: &str, topic: &str) -> bool {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::Offset;
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", broker.brokers())
        .set("group.id", group)
        .create()
        .unwrap();
    let t = Duration::from_secs(5);
    let Ok(md) = c.fetch_metadata(Some(topic), t) else {
        return false;
    };
    let mut tpl = rdkafka::TopicPartitionList::new();
    for p in md.topics().iter().flat_map(|t| t.partitions()) {
        tpl.add_partition(topic, p.id());
    }
    if tpl.count() == 0 {
        return false;
    }
    let Ok(done) = c.committed_offsets(tpl, t) else {
        return false;
    };
    done.elements().iter().all(|e| {
        let high = c.fetch_watermarks(topic, e.partition(), t).map(|w| w.1);
        matches!((e.offset(), high), (Offset::Offset(o), Ok(h)) if o >= h)
    })
}

/// The fingerprint of the embedded archive `file` in `dir`.
pub fn sqlite_contents(dir: &Path, file: &str) -> Value {
    let a = ampel::store::open_embedded(&format!("sqlite:{}", dir.join(file).display())).unwrap();
    contents(&a)
}

/// What a replay of `files` stores with the channels of [`job`]: the clean
/// run a live or faulted run must equal.
pub fn replay_contents(files: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<String> = files
        .iter()
        .map(|f| data(f).display().to_string())
        .collect();
    let j = job(dir.path(), &format!("{{paths: [{}]}}", paths.join(", ")));
    run_cli(dir.path(), &j, "sqlite:replay.sqlite");
    sqlite_contents(dir.path(), "replay.sqlite")
}

pub fn http_get(port: u16, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    (
        status,
        out.split("\r\n\r\n").nth(1).unwrap_or("").to_string(),
    )
}

/// Sum of a metric's samples whose labels include `labels`.
pub fn metric(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            prometheus_parse::Value::Histogram(ref h) => {
                h.iter().map(|b| b.count).fold(0.0, f64::max)
            }
            _ => 0.0,
        })
        .sum()
}

/// A running `ampel` process with its metrics port and log file.
pub struct Proc {
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
    pub out: PathBuf,
}

pub fn spawn(dir: &Path, name: &str, args: &[&str]) -> Proc {
    spawn_env(dir, name, args, &[])
}

/// [`spawn`] with environment variables set (AMPEL_KAFKA_PROPERTY_...).
pub fn spawn_env(dir: &Path, name: &str, args: &[&str], env: &[(&str, &str)]) -> Proc {
    let port = free_port();
    let log = dir.join(format!("{name}.log"));
    let out = dir.join(format!("{name}.out"));
    let child = ampel()
        .current_dir(dir)
        .envs(env.iter().copied())
        .args(args)
        .args(["--metrics", &format!("127.0.0.1:{port}")])
        .stdout(File::create(&out).unwrap())
        .stderr(File::create(&log).unwrap())
        .spawn()
        .unwrap();
    Proc {
        child,
        port,
        log,
        out,
    }
}

pub fn spawn_run(dir: &Path, name: &str, job: &Path, store: &str) -> Proc {
    spawn(
        dir,
        name,
        &["run", "--job", job.to_str().unwrap(), "--store", store],
    )
}

/// A test that fails must not leave its process running.
impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Proc {
    /// Alerts consumed so far (0 while its metrics do not answer).
    pub fn consumed(&self) -> f64 {
        self.scrape()
            .map_or(0.0, |s| metric(&s, "ampel_alerts_consumed_total", &[]))
    }

    pub fn scrape(&self) -> Option<prometheus_parse::Scrape> {
        std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        let (_, body) = http_get(self.port, "/metrics");
        prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).ok()
    }

    /// Waits until the metric reaches `at_least`.
    pub fn wait_metric(&mut self, name: &str, labels: &[(&str, &str)], at_least: f64, secs: u64) {
        let t = Instant::now();
        loop {
            if let Some(s) = self.scrape() {
                if metric(&s, name, labels) >= at_least {
                    return;
                }
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!(
                    "exited ({st}) before {name} reached {at_least}: {}",
                    self.logs()
                );
            }
            assert!(
                t.elapsed() < Duration::from_secs(secs),
                "{name} did not reach {at_least} in {secs} s: {}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn wait_log(&self, text: &str, secs: u64) {
        let t = Instant::now();
        while !self.logs().contains(text) {
            assert!(
                t.elapsed() < Duration::from_secs(secs),
                "no {text:?} in the log: {}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn signal(&self, sig: &str) {
        assert!(Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success());
    }

    /// Waits for the exit (at most `secs`); the status and the last stdout
    /// line as JSON.
    pub fn finish(mut self, secs: u64) -> (ExitStatus, Value) {
        let t = Instant::now();
        let st = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            if t.elapsed() > Duration::from_secs(secs) {
                let _ = self.child.kill();
                panic!("did not exit in {secs} s: {}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let out = std::fs::read_to_string(&self.out).unwrap();
        let last = out.lines().last().unwrap_or("null").to_string();
        (st, serde_json::from_str(&last).unwrap_or(Value::Null))
    }

    /// SIGTERM, then the exit, which must be 0.
    pub fn term(self) -> Value {
        self.signal("-TERM");
        let log = self.log.clone();
        let (st, summary) = self.finish(90);
        assert!(
            st.success(),
            "exit {st}: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        summary
    }
}

/// How the test HTTP server answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// 200 with `{"ok": true}` (what Slack's Web API and webhooks say).
    Ok,
    /// This status, with `Retry-After` when given.
    Status(u16, Option<u32>),
    /// Holds the connection without answering (until the answer changes).
    Hang,
}

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    /// Header names in lower case.
    pub headers: std::collections::BTreeMap<String, String>,
    pub body: Vec<u8>,
    /// What it was answered (None: not answered, or not yet).
    pub answered: Option<u16>,
    pub at: Instant,
}

impl Request {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// An HTTP server on loopback that records requests and answers as told:
/// the stand-in for Slack and webhook receivers, which are out of reach.
pub struct HttpSink {
    pub port: u16,
    answer: std::sync::Arc<std::sync::Mutex<Answer>>,
    log: std::sync::Arc<std::sync::Mutex<Vec<Request>>>,
}

impl HttpSink {
    pub fn start() -> HttpSink {
        use std::io::{BufRead, BufReader, Read, Write};
        use std::sync::{Arc, Mutex};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let answer = Arc::new(Mutex::new(Answer::Ok));
        let log: Arc<Mutex<Vec<Request>>> = Arc::default();
        let (a, l) = (answer.clone(), log.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (a, l) = (a.clone(), l.clone());
                std::thread::spawn(move || {
                    let mut r = BufReader::new(stream.try_clone().unwrap());
                    let mut line = String::new();
                    if r.read_line(&mut line).is_err() || line.is_empty() {
                        return;
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                    let mut headers = std::collections::BTreeMap::new();
                    loop {
                        let mut h = String::new();
                        r.read_line(&mut h).unwrap();
                        let h = h.trim_end();
                        if h.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':') {
                            headers.insert(k.trim().to_lowercase(), v.trim().to_string());
                        }
                    }
                    let n: usize = headers
                        .get("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let mut body = vec![0; n];
                    r.read_exact(&mut body).unwrap();
                    let at = Instant::now();
                    let idx = {
                        let mut log = l.lock().unwrap();
                        log.push(Request {
                            path,
                            headers,
                            body,
                            answered: None,
                            at,
                        });
                        log.len() - 1
                    };
                    let current = a.lock().unwrap().clone();
                    if current == Answer::Hang {
                        // Never answered: held until the answer changes,
                        // then closed (the client gave up long before).
                        while *a.lock().unwrap() == Answer::Hang {
                            std::thread::sleep(Duration::from_millis(50));
                        }
                        return;
                    }
                    let (status, extra) = match current {
                        Answer::Ok => (200, String::new()),
                        Answer::Status(s, Some(ra)) => (s, format!("Retry-After: {ra}\r\n")),
                        Answer::Status(s, None) => (s, String::new()),
                        Answer::Hang => unreachable!(),
                    };
                    let body_out = if status == 200 {
                        "{\"ok\":true}"
                    } else {
                        "{\"ok\":false}"
                    };
                    l.lock().unwrap()[idx].answered = Some(status);
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status} X\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body_out}",
                        body_out.len()
                    );
                });
            }
        });
        HttpSink { port, answer, log }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn answer(&self, a: Answer) {
        *self.answer.lock().unwrap() = a;
    }

    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }

    /// Requests answered 200.
    pub fn delivered(&self) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.answered == Some(200))
            .collect()
    }

    /// Waits until `n` requests were answered 200.
    pub fn wait_delivered(&self, n: usize, secs: u64) -> Vec<Request> {
        let t = Instant::now();
        loop {
            let d = self.delivered();
            if d.len() >= n {
                return d;
            }
            assert!(
                t.elapsed() < Duration::from_secs(secs),
                "{} of {n} requests delivered in {secs} s",
                d.len()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Every message on `topic` (from the start) until `n` or `secs`:
/// (key, payload, headers).
pub fn consume_topic(
    broker: &Broker,
    topic: &str,
    n: usize,
    secs: u64,
) -> Vec<(String, Vec<u8>, std::collections::BTreeMap<String, String>)> {
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::{Headers, Message};
    static G: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let g = G.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.brokers())
        .set(
            "group.id",
            format!("check-{topic}-{g}-{}", std::process::id()),
        )
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "50")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut out = Vec::new();
    let t = Instant::now();
    while out.len() < n && t.elapsed() < Duration::from_secs(secs) {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            let mut h = std::collections::BTreeMap::new();
            if let Some(hs) = m.headers() {
                for x in hs.iter() {
                    h.insert(
                        x.key.to_string(),
                        String::from_utf8_lossy(x.value.unwrap_or_default()).to_string(),
                    );
                }
            }
            out.push((
                String::from_utf8_lossy(m.key().unwrap_or_default()).to_string(),
                m.payload().unwrap_or_default().to_vec(),
                h,
            ));
        }
    }
    out
}
