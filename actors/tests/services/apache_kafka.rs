//! Apache Kafka for the tests: the broker's jars, resolved from Maven
//! Central by `tests/run` (tests/kafka/pom.xml) into
//! `~/.cache/ampel-test/kafka-VERSION/libs` (or where `AMPEL_KAFKA_LIBS`
//! says), run in KRaft mode as one combined broker and controller on free
//! loopback ports: `kafka.tools.StorageTool format`, then `kafka.Kafka
//! server.properties`. The JVM's output goes to `broker.log` in the
//! broker's directory, printed when the broker does not come up.

use super::{free_port, wait_for_port};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct ApacheKafka {
    child: Option<Child>,
    pub port: u16,
    controller_port: u16,
    /// Holds server.properties, the log dirs (the data) and broker.log.
    dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    classpath: String,
    /// KRaft node id, the controller quorum, and the replication factor of
    /// internal and new topics (1 alone, 3 in a [`KafkaCluster`]).
    node: u32,
    voters: String,
    replication: u32,
    /// A second, SASL_SSL listener ([`start_sasl_ssl`](Self::start_sasl_ssl)).
    pub sasl: Option<SaslSsl>,
}

/// A SASL_SSL listener with SCRAM-SHA-512, as the survey overlay's
/// consumers use: a self-signed certificate for 127.0.0.1 (the client's CA
/// file), one SCRAM user created when the storage is formatted.
#[derive(Clone, Debug)]
pub struct SaslSsl {
    pub port: u16,
    pub user: String,
    pub password: String,
    /// The broker's certificate, PEM: the client's `ssl.ca.location`.
    pub ca: PathBuf,
    keystore: PathBuf,
}

const KEYSTORE_PASSWORD: &str = "ampel-test";

impl SaslSsl {
    /// A key pair and self-signed certificate (SAN IP 127.0.0.1) made with
    /// the JDK's keytool into `dir`.
    fn create(dir: &Path) -> SaslSsl {
        let keystore = dir.join("broker.p12");
        let ca = dir.join("ca.pem");
        let keytool = |args: &[&str]| {
            let out = Command::new("keytool")
                .args(args)
                .output()
                .unwrap_or_else(|e| {
                    panic!("running keytool (the JDK's, for the SASL_SSL listener): {e}")
                });
            assert!(
                out.status.success(),
                "keytool {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let ks = keystore.to_str().unwrap();
        let common = ["-keystore", ks, "-storepass", KEYSTORE_PASSWORD];
        let mut gen = vec!["-genkeypair", "-alias", "broker", "-keyalg", "RSA"];
        gen.extend(["-keysize", "2048", "-validity", "2", "-storetype", "PKCS12"]);
        gen.extend(["-dname", "CN=127.0.0.1", "-ext", "SAN=ip:127.0.0.1"]);
        gen.extend(["-keypass", KEYSTORE_PASSWORD]);
        gen.extend(common);
        keytool(&gen);
        let mut export = vec!["-exportcert", "-rfc", "-alias", "broker"];
        export.extend(["-file", ca.to_str().unwrap()]);
        export.extend(common);
        keytool(&export);
        SaslSsl {
            port: free_port(),
            user: "ampel".into(),
            password: "ampel-secret".into(),
            ca,
            keystore,
        }
    }

    fn properties(&self) -> String {
        format!(
            "sasl.enabled.mechanisms=SCRAM-SHA-512\n\
             listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=\
             org.apache.kafka.common.security.scram.ScramLoginModule required;\n\
             ssl.keystore.type=PKCS12\n\
             ssl.keystore.location={}\n\
             ssl.keystore.password={KEYSTORE_PASSWORD}\n\
             ssl.key.password={KEYSTORE_PASSWORD}\n",
            self.keystore.display()
        )
    }

    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// The jars' directory: `AMPEL_KAFKA_LIBS`, else the newest
/// `~/.cache/ampel-test/kafka-*/libs` that `tests/run` completed.
fn libs() -> PathBuf {
    if let Ok(p) = std::env::var("AMPEL_KAFKA_LIBS") {
        return PathBuf::from(p);
    }
    let cache = PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/ampel-test");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&cache)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("libs"))
        .filter(|p| p.join(".complete").is_file() && p.to_string_lossy().contains("kafka-"))
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!(
            "Apache Kafka's jars not found in {}/kafka-*/libs: run tests/run (it resolves \
             org.apache.kafka:kafka_2.13 with Maven) or set AMPEL_KAFKA_LIBS",
            cache.display()
        )
    })
}

impl ApacheKafka {
    /// A fresh single-node cluster, data in a temporary directory.
    pub fn start() -> ApacheKafka {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().to_path_buf();
        Self::start_in(&dir, None, Some(temp))
    }

    /// Data in `dir`, kept across [`kill9`](Self::kill9) and
    /// [`restart`](Self::restart).
    pub fn start_persistent(dir: &Path) -> ApacheKafka {
        Self::start_in(dir, None, None)
    }

    /// On a given port (a broker that comes up late).
    pub fn start_on(port: u16) -> ApacheKafka {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().to_path_buf();
        Self::start_in(&dir, Some(port), Some(temp))
    }

    /// A single node that also serves SASL_SSL with SCRAM-SHA-512 (see
    /// [`SaslSsl`]); PLAINTEXT stays for the harness and between nodes.
    pub fn start_sasl_ssl() -> ApacheKafka {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().to_path_buf();
        let sasl = SaslSsl::create(&dir);
        Self::start_with(&dir, None, Some(temp), Some(sasl))
    }

    fn start_in(dir: &Path, port: Option<u16>, temp: Option<tempfile::TempDir>) -> ApacheKafka {
        Self::start_with(dir, port, temp, None)
    }

    fn start_with(
        dir: &Path,
        port: Option<u16>,
        temp: Option<tempfile::TempDir>,
        sasl: Option<SaslSsl>,
    ) -> ApacheKafka {
        let classpath = format!("{}/*", libs().display());
        let controller_port = free_port();
        let mut k = ApacheKafka {
            child: None,
            port: port.unwrap_or_else(free_port),
            controller_port,
            dir: dir.to_path_buf(),
            _temp: temp,
            classpath,
            node: 1,
            voters: format!("1@127.0.0.1:{controller_port}"),
            replication: 1,
            sasl,
        };
        k.write_properties();
        k.format(&cluster_id());
        let t = Instant::now();
        while !k.try_start() {
            assert!(
                t.elapsed() < Duration::from_secs(90),
                "Apache Kafka did not start on port {}: {}",
                k.port,
                k.log()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        k
    }

    fn write_properties(&self) {
        let data = self.dir.join("data");
        let (listener, map, sasl) = match &self.sasl {
            Some(s) => (
                format!(",SASL_SSL://127.0.0.1:{}", s.port),
                ",SASL_SSL:SASL_SSL",
                s.properties(),
            ),
            None => (String::new(), "", String::new()),
        };
        let props = format!(
            "process.roles=broker,controller\n\
             node.id={node}\n\
             controller.quorum.voters={voters}\n\
             listeners=PLAINTEXT://127.0.0.1:{p},CONTROLLER://127.0.0.1:{c}{listener}\n\
             advertised.listeners=PLAINTEXT://127.0.0.1:{p}{listener}\n\
             controller.listener.names=CONTROLLER\n\
             inter.broker.listener.name=PLAINTEXT\n\
             listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT{map}\n\
             {sasl}\
             log.dirs={data}\n\
             num.partitions=1\n\
             default.replication.factor={r}\n\
             min.insync.replicas={isr}\n\
             offsets.topic.replication.factor={r}\n\
             offsets.topic.num.partitions=4\n\
             transaction.state.log.replication.factor={r}\n\
             transaction.state.log.min.isr={isr}\n\
             share.coordinator.state.topic.replication.factor={r}\n\
             share.coordinator.state.topic.min.isr={isr}\n\
             group.initial.rebalance.delay.ms=0\n\
             auto.create.topics.enable=true\n",
            c = self.controller_port,
            p = self.port,
            node = self.node,
            voters = self.voters,
            r = self.replication,
            isr = self.replication.min(2),
            data = data.display(),
        );
        std::fs::write(self.dir.join("server.properties"), props).unwrap();
    }

    fn java(&self) -> Command {
        let mut c = Command::new(std::env::var("JAVA").unwrap_or_else(|_| "java".into()));
        c.args([
            "-Xms128m",
            "-Xmx512m",
            "-XX:+UseSerialGC",
            "-cp",
            &self.classpath,
        ]);
        c.current_dir(&self.dir);
        c
    }

    /// Formats the KRaft storage once (a persistent directory keeps it).
    fn format(&self, cluster: &str) {
        if self.dir.join("data/meta.properties").is_file() {
            return;
        }
        let out = self
            .java()
            .args(["kafka.tools.StorageTool", "format"])
            // One argument: a URL-safe base64 id may start with '-'.
            .arg(format!("--cluster-id={cluster}"))
            .args(["--config", "server.properties"])
            .args(self.sasl.iter().flat_map(|s| {
                let user = format!("SCRAM-SHA-512=[name={},password={}]", s.user, s.password);
                ["--add-scram".to_string(), user]
            }))
            .output()
            .unwrap_or_else(|e| panic!("running java (Apache Kafka's StorageTool): {e}"));
        assert!(
            out.status.success(),
            "kafka.tools.StorageTool format: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn try_start(&mut self) -> bool {
        self.spawn();
        let child = self.child.as_mut().expect("spawned");
        let up = wait_for_port(child, self.port, "Apache Kafka");
        up && self.metadata_ready()
    }

    /// Starts the JVM without waiting (a cluster's nodes start together:
    /// none is ready before a majority of the quorum is up).
    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("broker.log"))
            .unwrap();
        let child = self
            .java()
            .args(["kafka.Kafka", "server.properties"])
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("starting Apache Kafka (java): {e}"));
        self.child = Some(child);
    }

    /// The broker answers metadata requests (listening is not enough: the
    /// controller must have elected itself and registered the broker).
    fn metadata_ready(&self) -> bool {
        use rdkafka::consumer::{BaseConsumer, Consumer};
        let c: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", self.brokers())
            .create()
            .unwrap();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(60) {
            if let Ok(m) = c.fetch_metadata(None, Duration::from_secs(2)) {
                if !m.brokers().is_empty() {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    }

    /// The broker's output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("broker.log")).unwrap_or_default()
    }

    /// SIGKILL, no shutdown of any kind.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts again on the same ports with the same data.
    pub fn restart(&mut self) {
        self.kill9();
        let t = Instant::now();
        while !self.try_start() {
            assert!(
                t.elapsed() < Duration::from_secs(90),
                "Apache Kafka did not come back on port {}: {}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn create_topic(&self, name: &str, partitions: u32) {
        use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
        use rdkafka::client::DefaultClientContext;
        let admin: AdminClient<DefaultClientContext> = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", self.brokers())
            .create()
            .unwrap();
        let topic = NewTopic::new(
            name,
            partitions as i32,
            TopicReplication::Fixed(self.replication as i32),
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let results = rt
            .block_on(admin.create_topics(
                &[topic],
                &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
            ))
            .unwrap_or_else(|e| panic!("creating topic {name}: {e}"));
        for r in results {
            if let Err((t, e)) = r {
                panic!("creating topic {t}: {e}");
            }
        }
    }
}

/// A KRaft cluster id: 16 random bytes, URL-safe base64 without padding.
fn cluster_id() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 16];
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        ^ u128::from(std::process::id());
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (seed >> ((i % 16) * 8)) as u8 ^ (i as u8).wrapping_mul(37);
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Three KRaft nodes (each broker and controller) on loopback ports, with
/// replication factor 3 and `min.insync.replicas` 2: one broker may die
/// without losing an acknowledged message or the group's offsets.
pub struct KafkaCluster {
    pub nodes: Vec<ApacheKafka>,
    _temp: tempfile::TempDir,
}

impl KafkaCluster {
    pub fn start(n: u32) -> KafkaCluster {
        let temp = tempfile::tempdir().unwrap();
        let classpath = format!("{}/*", libs().display());
        let ports: Vec<(u16, u16)> = (0..n).map(|_| (free_port(), free_port())).collect();
        let voters: Vec<String> = ports
            .iter()
            .enumerate()
            .map(|(i, (_, c))| format!("{}@127.0.0.1:{c}", i + 1))
            .collect();
        let cluster = cluster_id();
        let nodes: Vec<ApacheKafka> = ports
            .iter()
            .enumerate()
            .map(|(i, &(port, controller_port))| {
                let dir = temp.path().join(format!("node{}", i + 1));
                std::fs::create_dir_all(&dir).unwrap();
                ApacheKafka {
                    child: None,
                    port,
                    controller_port,
                    dir,
                    _temp: None,
                    classpath: classpath.clone(),
                    node: i as u32 + 1,
                    voters: voters.join(","),
                    replication: n.min(3),
                    sasl: None,
                }
            })
            .collect();
        for k in &nodes {
            k.write_properties();
            k.format(&cluster);
        }
        let mut cluster = KafkaCluster { nodes, _temp: temp };
        cluster.start_stopped();
        cluster
    }

    pub fn brokers(&self) -> String {
        self.nodes
            .iter()
            .map(ApacheKafka::brokers)
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn create_topic(&self, name: &str, partitions: u32) {
        self.nodes[0].create_topic(name, partitions);
    }

    /// Every node killed with SIGKILL.
    pub fn kill_all(&mut self) {
        for k in &mut self.nodes {
            k.kill9();
        }
    }

    /// Every stopped node started again, together (the quorum needs a
    /// majority before any of them serves).
    pub fn start_stopped(&mut self) {
        for k in self.nodes.iter_mut().filter(|k| k.child.is_none()) {
            k.spawn();
        }
        for k in &mut self.nodes {
            let port = k.port;
            let child = k.child.as_mut().expect("spawned");
            assert!(
                wait_for_port(child, port, "Apache Kafka node") && k.metadata_ready(),
                "cluster node {} did not come up: {}",
                k.node,
                k.log()
            );
        }
    }

    /// The node (index) leading most of `topic`'s partitions.
    pub fn busiest_leader(&self, topic: &str) -> usize {
        use rdkafka::consumer::{BaseConsumer, Consumer};
        let c: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", self.brokers())
            .create()
            .unwrap();
        let m = c
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .unwrap();
        let mut count = vec![0; self.nodes.len()];
        for p in m.topics()[0].partitions() {
            if let Some(n) = count.get_mut((p.leader() - 1) as usize) {
                *n += 1;
            }
        }
        (0..count.len()).max_by_key(|&i| count[i]).unwrap()
    }
}

impl Drop for ApacheKafka {
    fn drop(&mut self) {
        self.kill9();
    }
}
