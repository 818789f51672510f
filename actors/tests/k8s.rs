//! The Kubernetes manifests and the container build against the binary.
//! Every overlay in `k8s/overlays/` is rendered with `kubectl kustomize`
//! (Debian's kubernetes-client; `.ci/run` installs it when missing), and
//! the rendered objects are checked against what `ampel` really accepts:
//! each container's arguments parse, every environment variable is one the
//! code reads (Kafka properties are checked by librdkafka itself), the job
//! each pod mounts builds with `ampel config check`, ports, probes,
//! Services, the ServiceMonitor, PodDisruptionBudgets and autoscalers fit
//! together, and the metrics an autoscaler reads are exported. The
//! Containerfile is checked against the repository (what it copies exists,
//! the binary it builds is the one the manifests run) and against the
//! binary (its runtime packages provide every shared library it needs).

mod services;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::BaseConsumer;
use serde_json::Value as Json;
use services::kustomize::{overlays, render};
use services::promql::{label_names, metric_names};
use services::repo_root as root;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

const AMPEL: &str = env!("CARGO_BIN_EXE_ampel");

fn ampel(args: &[&str]) -> std::process::Output {
    Command::new(AMPEL).args(args).output().unwrap()
}

fn labels_match(selector: &Json, labels: &Json) -> bool {
    let sel = selector.as_object().expect("a selector's labels");
    !sel.is_empty() && sel.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Environment variable names the code reads: clap's `env =` arguments and
/// `std::env::var("...")` calls, found as string literals in the sources.
fn env_names_in_code() -> BTreeSet<String> {
    fn walk(dir: &Path, out: &mut BTreeSet<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                for part in text.split("\"AMPEL_").skip(1) {
                    let name: String = part
                        .chars()
                        .take_while(|c| c.is_ascii_uppercase() || *c == '_' || c.is_ascii_digit())
                        .collect();
                    if part[name.len()..].starts_with('"') {
                        out.insert(format!("AMPEL_{name}"));
                    }
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(&root().join("src"), &mut out);
    walk(&root().join("actors/src"), &mut out);
    out
}

/// The port of a `HOST:PORT` address.
fn port_of(addr: &str) -> i64 {
    addr.rsplit(':').next().unwrap().parse().unwrap()
}

struct Rendered {
    overlay: String,
    docs: Vec<Json>,
}

impl Rendered {
    fn of_kind(&self, kind: &str) -> Vec<&Json> {
        self.docs.iter().filter(|d| d["kind"] == kind).collect()
    }

    fn named(&self, kind: &str, name: &str) -> Option<&Json> {
        self.of_kind(kind)
            .into_iter()
            .find(|d| d["metadata"]["name"] == name)
    }

    /// The Deployments and StatefulSets (T0's, for stable pod names).
    fn workloads(&self) -> Vec<&Json> {
        let mut w = self.of_kind("Deployment");
        w.extend(self.of_kind("StatefulSet"));
        w
    }

    fn workload(&self, component: &str) -> &Json {
        self.workloads()
            .into_iter()
            .find(|d| {
                d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
                    == component
            })
            .unwrap_or_else(|| panic!("{}: no workload of component {component}", self.overlay))
    }
}

/// What one container of a workload must agree on with the binary.
/// What the manifests are checked against, read once.
struct Code {
    /// `AMPEL_*` names the sources read.
    env: BTreeSet<String>,
    /// The exporter's source: metric and label names, probe paths.
    metrics_rs: String,
    /// The operator's page, where every Secret must be documented.
    readme: String,
}

impl Code {
    fn read() -> Code {
        let read = |p: &str| std::fs::read_to_string(root().join(p)).unwrap();
        Code {
            env: env_names_in_code(),
            metrics_rs: read("actors/src/metrics.rs"),
            readme: read("k8s/README.md"),
        }
    }
}

fn check_container(r: &Rendered, deploy: &Json, code: &Code, tmp: &Path) -> Json {
    let name = deploy["metadata"]["name"].as_str().unwrap();
    let at = format!("{}: {} {name}", r.overlay, deploy["kind"]);
    let pod = &deploy["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap_or_else(|| panic!("{at}: no args"))
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();

    // The arguments parse: clap reads them in order and fails on an
    // unknown flag before it reaches --help.
    let mut help_args = args.clone();
    help_args.push("--help");
    let help = ampel(&help_args);
    assert!(
        help.status.success(),
        "{at}: `ampel {}` is refused: {}",
        args.join(" "),
        String::from_utf8_lossy(&help.stderr)
    );
    let help = String::from_utf8_lossy(&help.stdout).to_string();

    // Environment: every AMPEL_ name is read by the code; Kafka properties
    // are ones librdkafka knows (it refuses unknown names).
    let mut kafka = ClientConfig::new();
    kafka.set("group.id", "k8s-test");
    let mut env = BTreeMap::new();
    for e in c["env"].as_array().unwrap() {
        let n = e["name"].as_str().unwrap();
        let v = e["value"].as_str().unwrap_or("x");
        env.insert(n.to_string(), v.to_string());
        if let Some(p) = n.strip_prefix("AMPEL_KAFKA_PROPERTY_") {
            assert!(code.env.contains("AMPEL_KAFKA_PROPERTY_"));
            kafka.set(p.to_lowercase().replace('_', "."), v);
        } else {
            assert!(
                code.env.contains(n) || help.contains(&format!("[env: {n}=")),
                "{at}: environment variable {n} is read nowhere in the code"
            );
        }
        if let Some(s) = e["valueFrom"]["secretKeyRef"].as_object() {
            for key in ["name", "key"] {
                let v = s[key].as_str().unwrap();
                assert!(
                    code.readme.contains(&format!("`{v}`")),
                    "{at}: Secret {key} `{v}` is not documented in k8s/README.md"
                );
            }
        }
    }
    if let Err(e) = kafka.create::<BaseConsumer>() {
        panic!("{at}: librdkafka refuses the AMPEL_KAFKA_PROPERTY_ settings: {e}");
    }

    // The metrics port serves the probes and the Service.
    let metrics = env
        .get("AMPEL_METRICS_ADDR")
        .cloned()
        .or_else(|| {
            let i = args.iter().position(|a| *a == "--metrics")?;
            Some(args[i + 1].to_string())
        })
        .unwrap_or_else(|| panic!("{at}: serves no metrics (AMPEL_METRICS_ADDR)"));
    let port = c["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "metrics")
        .unwrap_or_else(|| panic!("{at}: no port named metrics"));
    assert_eq!(
        port["containerPort"].as_i64(),
        Some(port_of(&metrics)),
        "{at}"
    );
    assert!(
        metrics.starts_with("0.0.0.0:"),
        "{at}: {metrics} is not reachable from the kubelet"
    );
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        assert_eq!(c[probe]["httpGet"]["path"], path, "{at}: {probe}");
        assert_eq!(c[probe]["httpGet"]["port"], "metrics", "{at}: {probe}");
        assert!(
            code.metrics_rs.contains(&format!("\"{path}\"")),
            "the binary serves no {path}"
        );
    }

    // Non-root, as the image's user.
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{at}");
    assert_eq!(pod["securityContext"]["runAsUser"], image_user(), "{at}");

    // The job file is in the mounted ConfigMap, and builds.
    let job = args[args.iter().position(|a| *a == "--job").expect("--job") + 1];
    let job = Path::new(job);
    let mount = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| job.starts_with(m["mountPath"].as_str().unwrap()))
        .unwrap_or_else(|| panic!("{at}: the job {} is in no mounted volume", job.display()));
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap();
    let cm_name = volume["configMap"]["name"]
        .as_str()
        .expect("a ConfigMap volume");
    let cm = r
        .named("ConfigMap", cm_name)
        .unwrap_or_else(|| panic!("{at}: ConfigMap {cm_name} is not rendered"));
    let dir = tmp.join(cm_name);
    std::fs::create_dir_all(&dir).unwrap();
    for (k, v) in cm["data"].as_object().unwrap() {
        std::fs::write(dir.join(k), v.as_str().unwrap()).unwrap();
    }
    let key = job
        .strip_prefix(mount["mountPath"].as_str().unwrap())
        .unwrap();
    let check = ampel(&["config", "check", "--job", dir.join(key).to_str().unwrap()]);
    assert!(
        check.status.success(),
        "{at}: the mounted job {} does not build: {}",
        job.display(),
        String::from_utf8_lossy(&check.stderr)
    );
    let summary: Json = serde_json::from_slice(&check.stdout).unwrap();

    // Reactions read their secrets from the mounted Secret directory.
    if args[..2] == ["worker", "t3"] {
        let dir = env
            .get("AMPEL_SECRETS_DIR")
            .cloned()
            .unwrap_or_else(|| ampel::t3::react::secret::SECRETS_DIR.to_string());
        let mounted = c["volumeMounts"].as_array().unwrap().iter().any(|m| {
            m["mountPath"] == dir.as_str()
                && pod["volumes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|v| v["name"] == m["name"] && v["secret"].is_object())
        });
        let reacts = !summary["reaction_destinations"]
            .as_array()
            .unwrap()
            .is_empty();
        assert!(
            !reacts || mounted,
            "{at}: reactions, but no Secret at {dir}"
        );
    }
    summary
}

/// The runtime user of the image (`USER uid:gid`).
fn image_user() -> i64 {
    let file = std::fs::read_to_string(root().join("k8s/Containerfile")).unwrap();
    let user = file
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("the image names its user");
    user.split(':')
        .next()
        .unwrap()
        .trim()
        .parse()
        .expect("a numeric user")
}

#[test]
fn every_overlay_renders_and_agrees_with_the_binary() {
    let code = Code::read();
    let metrics_rs = &code.metrics_rs;
    let tmp = tempfile::tempdir().unwrap();
    for dir in overlays() {
        let r = Rendered {
            overlay: dir.file_name().unwrap().to_string_lossy().to_string(),
            docs: render(&dir),
        };
        let o = r.overlay.clone();

        // The three tiers' workloads, each with a matching Service.
        let t0 = r.workload("t0");
        let t2 = r.workload("t2");
        let t3 = r.workload("t3");
        let s0 = check_container(&r, t0, &code, &tmp.path().join(&o));
        assert!(
            s0["source"]["kafka"].is_object(),
            "{o}: T0 consumes no Kafka topic"
        );
        assert_eq!(
            t0["spec"]["template"]["spec"]["containers"][0]["args"][0],
            "run"
        );
        let args0 = t0["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
        assert!(
            args0.contains("--no-t3"),
            "{o}: T3 runs in ampel-t3, not in every consumer"
        );
        let s2 = check_container(&r, t2, &code, &tmp.path().join(&o));
        assert!(
            !s2["t2_units"].as_array().unwrap().is_empty(),
            "{o}: no T2 unit"
        );
        let s3 = check_container(&r, t3, &code, &tmp.path().join(&o));
        assert!(
            !s3["t3_processes"].as_array().unwrap().is_empty(),
            "{o}: no T3 process"
        );
        assert_eq!(t3["spec"]["replicas"], 1, "{o}: one T3");

        // Consumers up to the topic's partitions.
        let partitions: i64 = t0["metadata"]["annotations"]["ampel.io/topic-partitions"]
            .as_str()
            .expect("the T0 workload says its topic's partitions")
            .parse()
            .unwrap();
        let replicas = t0["spec"]["replicas"].as_i64().unwrap();
        assert!(
            (1..=partitions).contains(&replicas),
            "{o}: {replicas} consumers for {partitions} partitions"
        );

        // Services select pods and name their metrics port.
        let deployments = r.workloads();
        let services = r.of_kind("Service");
        for d in &deployments {
            let labels = &d["spec"]["template"]["metadata"]["labels"];
            assert!(
                labels_match(&d["spec"]["selector"]["matchLabels"], labels),
                "{o}: a workload's selector misses its pods"
            );
            let svc = services
                .iter()
                .find(|s| labels_match(&s["spec"]["selector"], labels))
                .unwrap_or_else(|| panic!("{o}: no Service for {}", d["metadata"]["name"]));
            for p in svc["spec"]["ports"].as_array().unwrap() {
                let target = p["targetPort"].as_str().expect("a named targetPort");
                let ports = d["spec"]["template"]["spec"]["containers"][0]["ports"]
                    .as_array()
                    .unwrap();
                assert!(
                    ports.iter().any(|cp| cp["name"] == target),
                    "{o}: targetPort {target}"
                );
            }
        }

        // The ServiceMonitor scrapes all of them on /metrics.
        let sm = r.of_kind("ServiceMonitor");
        assert_eq!(sm.len(), 1, "{o}: one ServiceMonitor");
        let sel = &sm[0]["spec"]["selector"]["matchLabels"];
        for s in &services {
            assert!(
                labels_match(sel, &s["metadata"]["labels"]),
                "{o}: {} not scraped",
                s["metadata"]["name"]
            );
            for e in sm[0]["spec"]["endpoints"].as_array().unwrap() {
                assert_eq!(e["path"], "/metrics");
                assert!(s["spec"]["ports"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["name"] == e["port"]));
            }
        }

        // Disruption budgets select running pods.
        let pdbs = r.of_kind("PodDisruptionBudget");
        assert!(pdbs.len() >= 2, "{o}: PDBs for T0 and T2");
        for p in pdbs {
            assert!(
                deployments.iter().any(|d| labels_match(
                    &p["spec"]["selector"]["matchLabels"],
                    &d["spec"]["template"]["metadata"]["labels"]
                )),
                "{o}: PDB {} selects no pod",
                p["metadata"]["name"]
            );
        }

        // T2 scales on an exported metric: an HPA or a KEDA ScaledObject.
        let t2_name = t2["metadata"]["name"].clone();
        let mut scalers = 0;
        for h in r.of_kind("HorizontalPodAutoscaler") {
            assert_eq!(h["spec"]["scaleTargetRef"]["name"], t2_name);
            for m in h["spec"]["metrics"].as_array().unwrap() {
                let n = m["external"]["metric"]["name"].as_str().unwrap();
                assert!(
                    metrics_rs.contains(&format!("\"{n}\"")),
                    "{o}: HPA metric {n} is not exported"
                );
            }
            scalers += 1;
        }
        for k in r.of_kind("ScaledObject") {
            assert_eq!(k["spec"]["scaleTargetRef"]["name"], t2_name);
            for t in k["spec"]["triggers"].as_array().unwrap() {
                let q = t["metadata"]["query"].as_str().unwrap();
                let names = metric_names(q);
                assert!(!names.is_empty(), "{o}: {q}");
                for n in names {
                    assert!(
                        metrics_rs.contains(&format!("\"{n}\"")),
                        "{o}: KEDA metric {n} is not exported"
                    );
                }
                // Labels: the metric's own, or the target labels Prometheus adds.
                for l in label_names(q) {
                    assert!(
                        ["namespace", "pod", "job"].contains(&l.as_str())
                            || metrics_rs.contains(&format!("\"{l}\"")),
                        "{o}: label {l} in {q}"
                    );
                }
            }
            scalers += 1;
        }
        assert_eq!(scalers, 1, "{o}: exactly one autoscaler for T2");

        // The alerting rules ship with every overlay, and every image is set.
        assert_eq!(r.of_kind("PrometheusRule").len(), 1, "{o}");
        for d in &deployments {
            let image = d["spec"]["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap();
            assert!(image.contains(':'), "{o}: image {image} has no tag");
        }
    }
}

/// The instructions of the Containerfile's stages: (stage name, keyword,
/// rest), with continuation lines joined.
fn containerfile() -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(root().join("k8s/Containerfile")).unwrap();
    let mut out = Vec::new();
    let mut stage = String::new();
    let mut line = String::new();
    for raw in text.lines() {
        let l = raw.trim();
        if l.starts_with('#') || l.is_empty() {
            continue;
        }
        line.push_str(l.trim_end_matches('\\'));
        line.push(' ');
        if l.ends_with('\\') {
            continue;
        }
        let (kw, rest) = line.trim().split_once(' ').unwrap();
        let (kw, rest) = (kw.to_string(), rest.trim().to_string());
        if kw == "FROM" {
            stage = rest.rsplit(' ').next().unwrap().to_string();
        }
        out.push((stage.clone(), kw, rest));
        line.clear();
    }
    out
}

/// Debian packages the runtime stage installs.
fn runtime_packages(ins: &[(String, String, String)]) -> BTreeSet<String> {
    ins.iter()
        .filter(|(s, k, _)| s == "runtime" && k == "RUN")
        .flat_map(|(_, _, r)| {
            r.split("&&")
                .filter(|c| c.contains("apt-get install"))
                .flat_map(|c| c.split_whitespace().filter(|w| !w.starts_with('-')).skip(2))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The Debian package that installed a file. With a merged /usr, dpkg
/// knows a library by whichever spelling its package used (/lib or
/// /usr/lib, the link or its target): all are asked.
fn package_of(path: &Path) -> String {
    let real = std::fs::canonicalize(path).unwrap();
    let toggled = |p: &Path| match p.strip_prefix("/usr") {
        Ok(rest) => Path::new("/").join(rest),
        Err(_) => Path::new("/usr").join(p.strip_prefix("/").unwrap()),
    };
    for p in [
        path.to_path_buf(),
        real.clone(),
        toggled(path),
        toggled(&real),
    ] {
        let out = Command::new("dpkg")
            .arg("-S")
            .arg(&p)
            .output()
            .expect("dpkg (Debian)");
        if out.status.success() {
            let text = String::from_utf8_lossy(&out.stdout);
            return text.split(':').next().unwrap().trim().to_string();
        }
    }
    panic!("{}: no Debian package owns it", path.display())
}

#[test]
fn the_container_build_matches_the_repository_and_the_binary() {
    let ins = containerfile();
    let stages: Vec<&str> = ins
        .iter()
        .filter(|(_, k, _)| k == "FROM")
        .map(|(s, _, _)| s.as_str())
        .collect();
    assert_eq!(stages, ["build", "runtime"], "a build and a runtime stage");

    // What it copies from the context exists and is not ignored.
    let ignored = std::fs::read_to_string(root().join(".dockerignore")).unwrap();
    let mut copied = BTreeSet::new();
    for (_, k, rest) in ins.iter().filter(|(_, k, _)| k == "COPY") {
        if rest.starts_with("--from") {
            continue;
        }
        let words: Vec<&str> = rest.split_whitespace().collect();
        for src in &words[..words.len() - 1] {
            assert!(
                root().join(src).exists(),
                "{k} {src}: not in the repository"
            );
            assert!(
                !ignored.lines().any(|l| l.trim_start_matches('/') == *src),
                "{src} is in .dockerignore"
            );
            copied.insert(src.to_string());
        }
    }
    // The build stage has the workspace and the schemas the code embeds;
    // the runtime image carries schemas/ and config/.
    for need in [
        "Cargo.toml",
        "Cargo.lock",
        "src",
        "actors",
        "schemas",
        "config",
    ] {
        assert!(
            copied.contains(need),
            "the image build does not copy {need}"
        );
    }

    // It builds the binary the manifests run, and starts it.
    let build = ins
        .iter()
        .find(|(s, k, r)| s == "build" && k == "RUN" && r.contains("cargo build"))
        .expect("a cargo build")
        .2
        .clone();
    let actors = std::fs::read_to_string(root().join("actors/Cargo.toml")).unwrap();
    assert!(actors.contains("name = \"ampel-actors\"") && build.contains("-p ampel-actors"));
    assert!(actors.contains("name = \"ampel\"") && build.contains("--bin ampel"));
    assert!(
        build.contains("--locked"),
        "the image builds the locked dependencies"
    );
    let entry = ins
        .iter()
        .find(|(_, k, _)| k == "ENTRYPOINT")
        .expect("an entrypoint");
    let entry: Vec<String> = serde_json::from_str(&entry.2).unwrap();
    assert!(ins.iter().any(|(s, k, r)| s == "runtime"
        && k == "COPY"
        && r.starts_with("--from=build")
        && r.ends_with(&entry[0])));
    let exposed: i64 = ins
        .iter()
        .find(|(_, k, _)| k == "EXPOSE")
        .unwrap()
        .2
        .parse()
        .unwrap();
    assert_eq!(exposed, 9100, "the manifests' metrics port");
    assert!(image_user() > 0, "the image runs as a non-root user");

    // Every shared library the binary needs comes with Debian slim itself
    // or with a package the runtime stage installs.
    let packages = runtime_packages(&ins);
    assert!(!packages.is_empty());
    let slim = ["libc6", "libgcc-s1", "zlib1g", "libstdc++6"];
    let readelf = Command::new("readelf")
        .args(["-d", AMPEL])
        .output()
        .expect("readelf (binutils)");
    let needed: Vec<String> = String::from_utf8_lossy(&readelf.stdout)
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| Some(l.split('[').nth(1)?.trim_end_matches(']').to_string()))
        .collect();
    assert!(!needed.is_empty());
    let ldd = String::from_utf8(Command::new("ldd").arg(AMPEL).output().unwrap().stdout).unwrap();
    for lib in &needed {
        let path = ldd
            .lines()
            .find_map(|l| {
                let (name, rest) = l.trim().split_once(" => ")?;
                (name == lib).then(|| rest.split(' ').next().unwrap().to_string())
            })
            .or_else(|| lib.starts_with("ld-linux").then(|| format!("/lib64/{lib}")))
            .unwrap_or_else(|| panic!("{lib}: not resolved by ldd"));
        let owner = package_of(Path::new(&path));
        assert!(
            slim.contains(&owner.as_str()) || packages.contains(&owner),
            "{lib} ({path}) comes from the package {owner}, which the runtime image does not install ({packages:?})"
        );
    }
}
