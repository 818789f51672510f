//! The k8s overlays' Kafka settings against a real broker: each overlay's
//! T0 pod is run as its manifest says (arguments, environment, the job in
//! its ConfigMap), with only the addresses and secrets a cluster would
//! supply filled in, against Apache Kafka. The survey overlay's consumers
//! speak SASL_SSL with SCRAM-SHA-512, so the broker serves that too (a
//! self-signed certificate, one SCRAM user). The broker must accept every
//! setting: the consumer joins its group as a static member named by the
//! pod, with the cooperative-sticky assignor and a session timeout inside
//! the broker's bounds (`group.min/max.session.timeout.ms`, read from the
//! broker), and consumes the topic.
//!
//! Apache Kafka only (tansu ignores static membership and runs no
//! cooperative rebalances); it says so on tansu.

mod services;

use ampel_actors::kafka::assignment::describe_group;
use serde_json::Value as Json;
use services::kustomize::{overlays, render};
use services::{produce, spawn_env, ApacheKafka, Broker, Redis, ALL};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// The broker's own value of `name` (DescribeConfigs on broker 1).
fn broker_config(brokers: &str, name: &str) -> i64 {
    use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
    use rdkafka::client::DefaultClientContext;
    let admin: AdminClient<DefaultClientContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let opts = AdminOptions::new().request_timeout(Some(Duration::from_secs(10)));
    let res = rt
        .block_on(admin.describe_configs(&[ResourceSpecifier::Broker(1)], &opts))
        .unwrap();
    let cfg = res.into_iter().next().unwrap().expect("broker configs");
    cfg.get(name)
        .and_then(|e| e.value.as_deref())
        .unwrap_or_else(|| panic!("the broker has no {name}"))
        .parse()
        .unwrap()
}

/// The T0 pod's environment as a cluster would give it: field references
/// resolved for pod 0, Secrets from the test's services.
fn pod_env(
    container: &Json,
    pod: &str,
    broker: &ApacheKafka,
    store: &str,
    hot: &str,
) -> BTreeMap<String, String> {
    let sasl = broker.sasl.as_ref().unwrap();
    let mut env = BTreeMap::new();
    for e in container["env"].as_array().unwrap() {
        let name = e["name"].as_str().unwrap().to_string();
        let value = if let Some(v) = e["value"].as_str() {
            v.to_string()
        } else if e["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name" {
            pod.to_string()
        } else {
            match name.as_str() {
                "AMPEL_KAFKA_PROPERTY_SASL_USERNAME" => sasl.user.clone(),
                "AMPEL_KAFKA_PROPERTY_SASL_PASSWORD" => sasl.password.clone(),
                "AMPEL_STORE" => store.to_string(),
                "AMPEL_HOT" => hot.to_string(),
                other => panic!("{other}: a value the test does not know how to supply"),
            }
        };
        env.insert(name, value);
    }
    // The harness serves the metrics on a free port (--metrics).
    env.remove("AMPEL_METRICS_ADDR");
    let secure = env
        .get("AMPEL_KAFKA_PROPERTY_SECURITY_PROTOCOL")
        .is_some_and(|p| p == "SASL_SSL");
    let brokers = if secure {
        // The cluster's CA; a real cluster's is in the system's store.
        let ca = sasl.ca.display().to_string();
        env.insert("AMPEL_KAFKA_PROPERTY_SSL_CA_LOCATION".into(), ca);
        sasl.brokers()
    } else {
        broker.brokers()
    };
    env.insert("AMPEL_KAFKA_BROKERS".into(), brokers);
    env
}

/// The ConfigMap files the T0 pod mounts, written to `dir`; the job's
/// path there.
fn mounted_job(docs: &[Json], pod: &Json, dir: &Path) -> std::path::PathBuf {
    let container = &pod["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let job = args[args.iter().position(|a| *a == "--job").unwrap() + 1];
    // The volume mounted where the job is; its ConfigMap (kustomize adds
    // a hash to the name).
    let mount = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| Path::new(job).starts_with(m["mountPath"].as_str().unwrap()))
        .expect("the job is in a mounted volume");
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the mount's volume");
    let name = &volume["configMap"]["name"];
    let cm = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == *name)
        .expect("the job's ConfigMap");
    for (k, v) in cm["data"].as_object().unwrap() {
        std::fs::write(dir.join(k), v.as_str().unwrap()).unwrap();
    }
    dir.join(Path::new(job).file_name().unwrap())
}

#[test]
fn every_overlays_t0_settings_are_accepted_by_apache_kafka() {
    if !services::apache_kafka() {
        let _ = writeln!(
            std::io::stderr(),
            "every_overlays_t0_settings_are_accepted_by_apache_kafka: not run on tansu (no static \
             membership, no cooperative rebalances, no SASL_SSL); run with AMPEL_TEST_KAFKA=apache \
             (tests/run does)"
        );
        return;
    }
    let redis = Redis::start();
    for overlay in overlays() {
        let o = overlay.file_name().unwrap().to_string_lossy().to_string();
        let docs = render(&overlay);
        let t0 = docs
            .iter()
            .find(|d| {
                d["kind"] == "StatefulSet"
                    && d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
                        == "t0"
            })
            .unwrap_or_else(|| panic!("{o}: T0 is a StatefulSet (stable pod names)"));
        let name = t0["metadata"]["name"].as_str().unwrap();
        let pod = format!("{name}-0");
        let container = &t0["spec"]["template"]["spec"]["containers"][0];

        let kafka = ApacheKafka::start_sasl_ssl();
        let broker = Broker::Apache(kafka);
        let Broker::Apache(kafka) = &broker else {
            unreachable!()
        };
        // The job's topics are `^ztf_.*_programid1$`.
        broker.create_topic("ztf_k8s_programid1", 2);
        produce(&broker, "ztf_k8s_programid1", &ALL[..1]);
        let dir = tempfile::tempdir().unwrap();
        let job = mounted_job(&docs, &t0["spec"]["template"]["spec"], dir.path());
        let store = format!("sqlite:{}", dir.path().join("t0.sqlite").display());
        let env = pod_env(container, &pod, kafka, &store, &redis.url());

        // The session timeout is inside the broker's bounds.
        let session: i64 = env["AMPEL_KAFKA_PROPERTY_SESSION_TIMEOUT_MS"]
            .parse()
            .unwrap();
        let min = broker_config(&kafka.brokers(), "group.min.session.timeout.ms");
        let max = broker_config(&kafka.brokers(), "group.max.session.timeout.ms");
        assert!(
            (min..=max).contains(&session),
            "{o}: session.timeout.ms {session} outside the broker's [{min}, {max}]"
        );

        let args: Vec<String> = container["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .map(|a| {
                if a.ends_with(".yml") {
                    job.display().to_string()
                } else {
                    a
                }
            })
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let p = spawn_env(dir.path(), &o, &args, &env);
        let t = Instant::now();
        let group = loop {
            if let Some(g) = describe_group(&kafka.brokers(), "ampel-ztf") {
                break g;
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "{o}: the T0 pod never joined its group: {}\n--- broker ---\n{}",
                p.logs(),
                kafka.log()
            );
            std::thread::sleep(Duration::from_millis(300));
        };
        assert_eq!(group.protocol, "cooperative-sticky", "{o}");
        assert_eq!(group.members.len(), 1, "{o}: {group:?}");
        assert!(
            group.members[0].0.starts_with(&pod),
            "{o}: a static member named by the pod: {group:?}"
        );
        let mut p = p;
        p.wait_metric("ampel_alerts_consumed_total", &[], 172.0, 60);
        let summary = p.term();
        assert_eq!(summary["failed"], 0, "{o}: {summary}");
        assert_eq!(summary["alerts"], 172, "{o}: {summary}");
    }
}
