//! Reactions end to end with real peers on loopback: an HTTP server of the
//! test's own (Slack and webhook receivers are out of reach here) that
//! records requests and answers 200, 429 with Retry-After, 500 or hangs,
//! and tansu for GCN notices and output topics (consumed back and
//! checked). Replays and live runs of the tutorial channel.

mod services;

use ampel::store::{Archive, ReactionQuery, ReactionState, SqliteArchive};
use serde_json::{json, Value};
use services::*;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

const SLACK_TOKEN: &str = "xoxb-test-token-5ecret";
const HOOK_KEY: &str = "hook-key-5ecret";
const SLACK_HOOK_PATH: &str = "/services/T000/B000/5ecretpath";

/// The tutorial's channel files in `dir`, with `processes` (YAML list items
/// under `t3_supervise`) added after its own.
fn tutorial_channel(dir: &Path, processes: &str) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/tutorial");
    std::fs::copy(
        src.join("neutrino_regions.yml"),
        dir.join("neutrino_regions.yml"),
    )
    .unwrap();
    let ch = std::fs::read_to_string(src.join("sn09ip_nu.yml")).unwrap();
    std::fs::write(dir.join("sn09ip_nu.yml"), format!("{ch}{processes}")).unwrap();
}

fn replay_job(dir: &Path) -> PathBuf {
    let j = dir.join("job.yml");
    std::fs::write(
        &j,
        format!(
            "name: reactions\nsource:\n  paths: [{}]\nchannels:\n  - sn09ip_nu.yml\n",
            data("ztf_public_20231018_v4.02.tar.gz").display()
        ),
    )
    .unwrap();
    j
}

/// `ampel run` with the test's secrets in the environment and the mounted
/// secrets directory.
fn ampel(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    std::fs::create_dir_all(dir.join("secrets")).unwrap();
    std::fs::write(dir.join("secrets/hook-key"), format!("{HOOK_KEY}\n")).unwrap();
    let mut c = services::ampel();
    c.current_dir(dir)
        .args(args)
        .env("TEST_SLACK_TOKEN", SLACK_TOKEN)
        .env("AMPEL_SECRETS_DIR", dir.join("secrets"));
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn run(dir: &Path, job: &Path, env: &[(&str, &str)]) -> Output {
    ampel(
        dir,
        &[
            "run",
            "--job",
            job.to_str().unwrap(),
            "--store",
            "sqlite:a.sqlite",
        ],
        env,
    )
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn reactions(dir: &Path) -> Vec<ampel::store::ReactionDoc> {
    SqliteArchive::open(dir.join("a.sqlite").to_str().unwrap())
        .unwrap()
        .reactions(&ReactionQuery::default())
        .unwrap()
}

fn states(dir: &Path) -> Vec<ReactionState> {
    reactions(dir).iter().map(|r| r.state).collect()
}

fn react_processes(slack: &HttpSink, hook: &HttpSink, broker: &Broker, hook_file: &Path) -> String {
    format!(
        r##"
  - name: react
    filter:
      t2:
        - unit: T2TutorialDecision
          match: {{decision: true}}
    run:
      - unit: SlackPublisher
        config:
          bot_token: {{env: TEST_SLACK_TOKEN}}
          slack_channel: "#transients"
          api_url: {api}
          t2info_from: [T2TemplateMatch, T2MultiMessMatch]
      - unit: WebhookPublisher
        config: {{url: {hook_url}, hmac_key: {{secret: hook-key}}}}
      - unit: GcnNoticePublisher
        config:
          kafka: {{brokers: "{brokers}"}}
          topic: gcn.notices.ampel.test
          alert_tense: test
          classification: [{{label: SN2009ip-like, unit: T2TutorialDecision, field: target_match}}]
      - unit: KafkaPublisher
        config: {{kafka: {{brokers: "{brokers}"}}, topic: ampel-out, format: avro}}
  - name: digest
    filter:
      t2:
        - unit: T2LightCurveSummary
          match: {{num_detections: {{$gte: 1}}}}
    run:
      - unit: SlackPublisher
        config: {{webhook: {{file: {hook_file}}}, batch_above: 3}}
"##,
        api = slack.url("/api"),
        hook_url = hook.url("/hook"),
        brokers = broker.brokers(),
        hook_file = hook_file.display(),
    )
}

#[test]
fn a_replay_posts_selected_transients_everywhere_once_and_a_rerun_repeats_nothing() {
    let broker = Broker::start();
    broker.create_topic("gcn.notices.ampel.test", 1);
    broker.create_topic("ampel-out", 2);
    let (slack, hook) = (HttpSink::start(), HttpSink::start());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let hook_file = d.join("slack-webhook-url");
    std::fs::write(&hook_file, slack.url(SLACK_HOOK_PATH)).unwrap();
    tutorial_channel(d, &react_processes(&slack, &hook, &broker, &hook_file));
    let job = replay_job(d);
    let out = run(d, &job, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let summary: Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(summary["accepted"]["DEMO_SN09IP_NU"], 10, "{summary}");
    assert!(
        text(&out).contains("reactions: 5 delivered, 0 failed"),
        "{}",
        text(&out)
    );

    // Slack, chat.postMessage: one Block Kit message for the selected stock.
    let posts: Vec<Request> = slack
        .delivered()
        .into_iter()
        .filter(|r| r.path == "/api/chat.postMessage")
        .collect();
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0].headers["authorization"],
        format!("Bearer {SLACK_TOKEN}")
    );
    let m = posts[0].json();
    assert_eq!(m["channel"], "#transients");
    let blocks = m["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["text"], "ZTF23abfcbgc");
    let section = blocks[1]["text"]["text"].as_str().unwrap();
    assert!(
        section.contains("<https://alerce.online/object/ZTF23abfcbgc|ZTF23abfcbgc>"),
        "{section}"
    );
    assert!(
        section.contains("RA ") && section.contains("detections; latest ztf"),
        "{section}"
    );
    let fields = blocks[2]["fields"].to_string();
    assert!(
        fields.contains("T2TemplateMatch") && fields.contains("T2MultiMessMatch"),
        "{fields}"
    );
    assert!(
        !fields.contains("T2LightCurveSummary"),
        "only t2info_from: {fields}"
    );
    let why = blocks[3]["elements"][0]["text"].as_str().unwrap();
    assert!(
        why.contains("selected because T2TutorialDecision matches {\"decision\":true}"),
        "{why}"
    );

    // Slack, incoming webhook: the 10 accepted stocks, more than
    // batch_above, as one summary message.
    let batch: Vec<Request> = slack
        .delivered()
        .into_iter()
        .filter(|r| r.path == SLACK_HOOK_PATH)
        .collect();
    assert_eq!(batch.len(), 1);
    let b = batch[0].json();
    assert_eq!(
        b["blocks"][0]["text"]["text"],
        "10 transients selected by DEMO_SN09IP_NU"
    );
    assert_eq!(
        b["blocks"][1]["text"]["text"]
            .as_str()
            .unwrap()
            .matches("• ")
            .count(),
        10
    );

    // Webhook: signed, with the reaction id as idempotency key.
    let hooks = hook.delivered();
    assert_eq!(hooks.len(), 1);
    let sig = &hooks[0].headers["x-ampel-signature"];
    let t: u64 = sig[2..sig.find(',').unwrap()].parse().unwrap();
    assert_eq!(
        *sig,
        ampel::t3::react::signature_header(HOOK_KEY.as_bytes(), t, &hooks[0].body)
    );
    let w = hooks[0].json();
    assert_eq!(w["channel"], "DEMO_SN09IP_NU");
    assert_eq!(w["stocks"][0]["name"], "ZTF23abfcbgc");
    assert!(
        w["stocks"][0]["ra"].is_number() && w["stocks"][0]["latest"]["mag"].is_number(),
        "{w}"
    );

    // GCN notice, consumed back from the broker.
    let gcn = consume_topic(&broker, "gcn.notices.ampel.test", 1, 30);
    assert_eq!(gcn.len(), 1);
    let (key, payload, headers) = &gcn[0];
    assert_eq!(key, "ZTF23abfcbgc");
    let n: Value = serde_json::from_slice(payload).unwrap();
    for (k, want) in [
        ("mission", json!("AMPEL")),
        ("instrument", json!("ZTF")),
        ("messenger", json!("EM")),
        ("alert_type", json!("initial")),
        ("alert_tense", json!("test")),
        ("record_number", json!(1)),
        ("id", json!(["ZTF23abfcbgc"])),
        ("classification", json!({"SN2009ip-like": 1.0})),
    ] {
        assert_eq!(n[k], want, "{k}: {n}");
    }
    for k in ["ra", "dec", "ra_dec_error", "containment_probability"] {
        assert!(n[k].is_number(), "{k}: {n}");
    }
    assert!(n["alert_datetime"].as_str().unwrap().ends_with('Z'));
    assert!(
        n["trigger_time"].as_str().unwrap().starts_with("2023-10-"),
        "{n}"
    );
    assert!(n["photometry"]["mag"].is_number());
    let ids: Vec<String> = reactions(d).iter().map(|r| r.id.clone()).collect();
    assert!(ids.contains(&headers["ampel-reaction-id"]));

    // Output topic, Avro with the documented schema.
    let out_msgs = consume_topic(&broker, "ampel-out", 1, 30);
    assert_eq!(out_msgs.len(), 1);
    let schema = apache_avro::Schema::parse_str(ampel::t3::react::OUTPUT_SCHEMA).unwrap();
    let v = apache_avro::from_avro_datum(&schema, &mut &out_msgs[0].1[..], None).unwrap();
    let v: Value = apache_avro::from_value::<Value>(&v).unwrap();
    assert_eq!(v["name"], "ZTF23abfcbgc");
    assert_eq!(v["channel"], "DEMO_SN09IP_NU");
    let tm: Value =
        serde_json::from_str(v["results"]["T2TemplateMatch"].as_str().unwrap()).unwrap();
    assert_eq!(tm["target_match"], true);

    // The archive: every reaction delivered and journaled on its stocks.
    assert_eq!(states(d), vec![ReactionState::Delivered; 5]);
    let a = SqliteArchive::open(d.join("a.sqlite").to_str().unwrap()).unwrap();
    let stock = a.stock_by_name("ZTF23abfcbgc").unwrap().unwrap();
    let journal: Vec<&str> = stock.journal.iter().map(|j| j.action.as_str()).collect();
    for unit in [
        "SlackPublisher",
        "WebhookPublisher",
        "GcnNoticePublisher",
        "KafkaPublisher",
    ] {
        assert!(
            journal.contains(&format!("{unit}: delivered").as_str()),
            "{journal:?}"
        );
    }

    // Secrets are in no stored byte and no log line.
    let stored = std::fs::read(d.join("a.sqlite")).unwrap();
    let stored = String::from_utf8_lossy(&stored);
    for secret in [SLACK_TOKEN, HOOK_KEY, "5ecretpath"] {
        assert!(!stored.contains(secret), "{secret} stored");
        assert!(!text(&out).contains(secret), "{secret} logged");
    }

    // The same job again: the same selection says nothing new.
    let again = run(d, &job, &[]);
    assert!(again.status.success(), "{}", text(&again));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(slack.requests().len(), 2);
    assert_eq!(hook.requests().len(), 1);
    assert_eq!(
        consume_topic(&broker, "gcn.notices.ampel.test", 2, 5).len(),
        1
    );
    assert_eq!(reactions(d).len(), 5);
}

fn webhook_only(hook: &HttpSink, delivery: &str) -> String {
    format!(
        r#"
  - name: react
    filter:
      t2:
        - unit: T2TutorialDecision
          match: {{decision: true}}
    run:
      - unit: WebhookPublisher
        config: {{url: {url}, delivery: {delivery}}}
"#,
        url = hook.url("/hook")
    )
}

#[test]
fn failed_reactions_are_recorded_and_retried_by_the_next_run_honouring_retry_after() {
    let hook = HttpSink::start();
    hook.answer(Answer::Status(500, None));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tutorial_channel(
        d,
        &webhook_only(&hook, "{max_attempts: 2, backoff_seconds: 0.2}"),
    );
    let job = replay_job(d);
    let out = run(d, &job, &[]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(
        text(&out).contains("reactions: 0 delivered, 1 failed"),
        "{}",
        text(&out)
    );
    assert_eq!(hook.requests().len(), 2, "max_attempts");
    let r = &reactions(d)[0];
    assert_eq!(
        (r.state, r.attempts, r.error.as_deref()),
        (ReactionState::Failed, 2, Some("HTTP 500"))
    );
    let a = SqliteArchive::open(d.join("a.sqlite").to_str().unwrap()).unwrap();
    let failed: Vec<_> = a
        .t3(None)
        .unwrap()
        .into_iter()
        .filter(|t| t.code == -3001)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].body["error"], "HTTP 500");
    let stock = a.stock_by_name("ZTF23abfcbgc").unwrap().unwrap();
    assert!(stock
        .journal
        .iter()
        .any(|j| j.action == "WebhookPublisher: failed"));
    drop(a);

    // The next run re-arms it; the receiver says 429 "in 1 s" first.
    hook.answer(Answer::Status(429, Some(1)));
    let h = std::thread::spawn({
        let (d, job) = (d.to_path_buf(), job.clone());
        move || run(&d, &job, &[])
    });
    let t = Instant::now();
    while hook.requests().len() < 3 {
        assert!(t.elapsed() < Duration::from_secs(120), "no new attempt");
        std::thread::sleep(Duration::from_millis(20));
    }
    hook.answer(Answer::Ok);
    let out = h.join().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let reqs = hook.requests();
    assert_eq!(reqs.len(), 4, "one 429, then delivered");
    let gap = reqs[3].at - reqs[2].at;
    assert!(
        gap >= Duration::from_millis(950),
        "Retry-After: 1 honoured, not the 0.2 s back-off: {gap:?}"
    );
    assert_eq!(hook.delivered().len(), 1);
    let r = &reactions(d)[0];
    assert_eq!((r.state, r.attempts), (ReactionState::Delivered, 2));
}

#[test]
fn a_crash_between_send_and_record_does_not_post_twice() {
    let hook = HttpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tutorial_channel(d, &webhook_only(&hook, "{}"));
    let job = replay_job(d);
    let out = run(d, &job, &[("AMPEL_TEST_CRASH_AFTER_SEND", "1")]);
    assert!(
        !out.status.success(),
        "the process must have aborted: {}",
        text(&out)
    );
    assert!(
        text(&out).contains("aborting after the send"),
        "{}",
        text(&out)
    );
    assert_eq!(hook.delivered().len(), 1, "the receiver has it");
    assert_eq!(states(d), vec![ReactionState::Sending]);

    // Restarted: not sent again, recorded as uncertain.
    let out = run(d, &job, &[]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(
        text(&out).contains("interrupted between send and record"),
        "{}",
        text(&out)
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(hook.requests().len(), 1, "no duplicate post");
    assert_eq!(states(d), vec![ReactionState::Uncertain]);
    let list = ampel(
        d,
        &[
            "reactions",
            "list",
            "--store",
            "sqlite:a.sqlite",
            "--state",
            "uncertain",
        ],
        &[],
    );
    assert!(String::from_utf8_lossy(&list.stdout).contains("uncertain"));

    // An operator who checked the receiver may send it again, with the
    // same idempotency key.
    let retry = ampel(
        d,
        &[
            "reactions",
            "retry",
            "--uncertain",
            "--store",
            "sqlite:a.sqlite",
        ],
        &[],
    );
    assert!(retry.status.success(), "{}", text(&retry));
    let out = run(d, &job, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let got = hook.delivered();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0].headers["idempotency-key"],
        got[1].headers["idempotency-key"]
    );
    assert_eq!(states(d), vec![ReactionState::Delivered]);
}

/// The tutorial's live job on `broker` and `redis`; `idle` seconds make it
/// a catch-up run.
fn live_job(dir: &Path, broker: &Broker, redis: &Redis, idle: Option<u32>) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/tutorial");
    let mut job = std::fs::read_to_string(src.join("live.yml"))
        .unwrap()
        .replace("127.0.0.1:9092", &broker.brokers())
        .replace("redis://127.0.0.1:6379", &redis.url())
        .replace("sqlite:ampel-live.sqlite", "sqlite:a.sqlite");
    if let Some(s) = idle {
        job = job.replace(
            "group: ampel-tutorial",
            &format!("group: ampel-tutorial\n    stop_after_idle_seconds: {s}"),
        );
    }
    let j = dir.join("live.yml");
    std::fs::write(&j, job).unwrap();
    j
}

#[test]
fn the_tutorial_channel_posts_live_to_a_slack_style_endpoint_and_a_gcn_topic() {
    let (redis, broker) = (Redis::start(), Broker::start());
    broker.create_topic("ztf_20231018_programid1", 3);
    broker.create_topic("gcn.notices.ampel.tutorial", 1);
    produce(
        &broker,
        "ztf_20231018_programid1",
        &["ztf_public_20231018_v4.02.tar.gz"],
    );
    let slack = HttpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tutorial_channel(
        d,
        &format!(
            r##"
  - name: tell_the_world
    filter:
      t2:
        - unit: T2TutorialDecision
          match: {{decision: true}}
    run:
      - unit: SlackPublisher
        config: {{bot_token: {{env: TEST_SLACK_TOKEN}}, slack_channel: "#sn09ip", api_url: {api}}}
      - unit: GcnNoticePublisher
        config: {{kafka: {{brokers: "{brokers}"}}, topic: gcn.notices.ampel.tutorial}}
"##,
            api = slack.url("/api"),
            brokers = broker.brokers()
        ),
    );
    let job = live_job(d, &broker, &redis, Some(4));
    let out = ampel(d, &["run", "--job", job.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let posts = slack.delivered();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].json()["blocks"][0]["text"]["text"], "ZTF23abfcbgc");
    let notices = consume_topic(&broker, "gcn.notices.ampel.tutorial", 1, 30);
    assert_eq!(notices.len(), 1);
    let n: Value = serde_json::from_slice(&notices[0].1).unwrap();
    assert_eq!(
        (n["id"][0].as_str(), n["alert_type"].as_str()),
        (Some("ZTF23abfcbgc"), Some("initial"))
    );
    assert_eq!(states(d), vec![ReactionState::Delivered; 2]);
}

#[test]
fn a_429_storm_and_a_hanging_endpoint_do_not_slow_ingestion_and_everything_arrives_after() {
    let (redis, broker) = (Redis::start(), Broker::start());
    broker.create_topic("ztf_20231018_programid1", 3);
    let (slack, hook) = (HttpSink::start(), HttpSink::start());
    slack.answer(Answer::Status(429, Some(1)));
    hook.answer(Answer::Hang);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let hook_file = d.join("slack-webhook-url");
    std::fs::write(&hook_file, slack.url(SLACK_HOOK_PATH)).unwrap();
    tutorial_channel(
        d,
        &format!(
            r##"
  - name: everything
    filter:
      t2:
        - unit: T2LightCurveSummary
          match: {{num_detections: {{$gte: 1}}}}
    run:
      - unit: SlackPublisher
        config:
          webhook: {{file: {hook_file}}}
          batch_above: 1000
          delivery: {{max_attempts: 100, rate_per_second: 50, burst: 50}}
      - unit: WebhookPublisher
        config:
          url: {hook}
          delivery: {{max_attempts: 100, timeout_seconds: 1, backoff_seconds: 0.2, max_backoff_seconds: 1}}
"##,
            hook_file = hook_file.display(),
            hook = hook.url("/hook")
        ),
    );
    let job = live_job(d, &broker, &redis, None);
    let mut p = spawn(d, "live", &["run", "--job", job.to_str().unwrap()]);
    // `spawn` does not pass the test's environment: none is needed here.
    let t = Instant::now();
    produce(
        &broker,
        "ztf_20231018_programid1",
        &["ztf_public_20231018_v4.02.tar.gz"],
    );
    p.wait_metric("ampel_alerts_consumed_total", &[], 172.0, 60);
    let first = t.elapsed();
    // T3 runs once the T2 queue is quiet; a reaction per accepted stock
    // and destination (10 stocks, 2 destinations).
    let t3 = Instant::now();
    let queued = loop {
        let q = reactions(d);
        if q.len() >= 20 {
            break q;
        }
        assert!(
            t3.elapsed() < Duration::from_secs(60),
            "{} reactions queued: {}",
            q.len(),
            p.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(slack.delivered().is_empty() && hook.delivered().is_empty());

    // More alerts while Slack storms and the webhook hangs.
    let t = Instant::now();
    produce(
        &broker,
        "ztf_20231018_programid1",
        &[
            "ztf_public_20200101_v3.3.tar.gz",
            "ztf_public_20180819_mod1000.tar.gz",
        ],
    );
    p.wait_metric("ampel_alerts_consumed_total", &[], 252.0, 60);
    let second = t.elapsed();
    // The storm goes on for a while.
    std::thread::sleep(Duration::from_secs(3));
    assert!(slack.delivered().is_empty() && hook.delivered().is_empty());
    assert!(
        slack.requests().len() >= 2 && hook.requests().iter().any(|r| r.answered.is_none()),
        "the couriers kept trying"
    );
    eprintln!("ingest: 172 alerts in {first:?} (healthy endpoints unknown yet), 80 more in {second:?} during the storm");

    // The endpoints recover: every reaction arrives, each once.
    slack.answer(Answer::Ok);
    hook.answer(Answer::Ok);
    let t = Instant::now();
    loop {
        let rs = reactions(d);
        if rs.len() >= queued.len() && rs.iter().all(|r| r.state == ReactionState::Delivered) {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "not all delivered: {:?}",
            rs.iter().map(|r| r.state).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let rs = reactions(d);
    let per = |unit: &str| rs.iter().filter(|r| r.unit == unit).count();
    let (slack_got, hook_got) = (slack.delivered(), hook.delivered());
    assert_eq!(slack_got.len(), per("SlackPublisher"));
    assert_eq!(hook_got.len(), per("WebhookPublisher"));
    let keys: std::collections::BTreeSet<&String> = hook_got
        .iter()
        .map(|r| &r.headers["idempotency-key"])
        .collect();
    assert_eq!(keys.len(), hook_got.len(), "no reaction delivered twice");
    let stocks: std::collections::BTreeSet<i64> = rs.iter().flat_map(|r| r.stocks()).collect();
    let accepted = p.scrape().map(|s| {
        metric(
            &s,
            "ampel_alerts_filtered_total",
            &[("channel", "DEMO_SN09IP_NU"), ("result", "accepted")],
        )
    });
    eprintln!(
        "{} reactions for {} stocks delivered ({accepted:?} accepted alerts), {} Slack requests in all",
        rs.len(),
        stocks.len(),
        slack.requests().len()
    );
    let m = p.scrape().unwrap();
    let outcome = |o: &str| {
        ["SlackPublisher", "WebhookPublisher"]
            .iter()
            .map(|u| {
                let dest = &rs.iter().find(|r| r.unit == *u).unwrap().destination;
                metric(
                    &m,
                    "ampel_reactions_total",
                    &[("destination", dest), ("outcome", o)],
                )
            })
            .sum::<f64>()
    };
    assert_eq!(outcome("delivered"), rs.len() as f64);
    assert!(outcome("retried") >= 2.0, "the storm's retries are counted");
    let s = p.term();
    assert_eq!(s["alerts"], 252);
}

#[test]
fn a_missing_secret_or_a_bad_reaction_config_stops_the_start_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tutorial_channel(
        d,
        r#"
  - name: react
    run:
      - unit: SlackPublisher
        config: {webhook: {env: AMPEL_TEST_UNSET_SLACK_URL}}
"#,
    );
    let job = replay_job(d);
    let out = run(d, &job, &[]);
    assert_eq!(out.status.code(), Some(2));
    let e = text(&out);
    assert!(e.contains("reaction destination SlackPublisher:"), "{e}");
    assert!(
        e.contains("secret env AMPEL_TEST_UNSET_SLACK_URL: environment variable is not set"),
        "{e}"
    );
    assert!(
        !d.join("a.sqlite").exists() || reactions(d).is_empty(),
        "nothing ran"
    );

    tutorial_channel(
        d,
        r#"
  - name: react
    run:
      - unit: SlackPublisher
        config: {webhook: {env: A, file: /x}, bot_token: {env: B}, delivery: {max_attempts: 0}}
      - unit: GcnNoticePublisher
        config: {kafka: {brokers: "x:1", properties: {sasl.password: hunter2}}, topic: ampel.notices}
"#,
    );
    let out = run(d, &job, &[]);
    assert_eq!(out.status.code(), Some(2));
    let e = text(&out);
    for want in [
        "give either webhook, or bot_token with slack_channel",
        "delivery.max_attempts: must be at least 1",
        "GCN notice topics are named gcn.notices.<producer>",
        "kafka.properties.sasl.password: looks like a credential",
    ] {
        assert!(e.contains(want), "{want:?} not in {e}");
    }
    assert!(!e.contains("hunter2"), "{e}");
}

#[test]
fn a_dry_run_keeps_its_messages_in_the_t3_document_and_sends_nothing() {
    let slack = HttpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tutorial_channel(
        d,
        &format!(
            r##"
  - name: rehearse
    filter:
      t2:
        - unit: T2TutorialDecision
          match: {{decision: true}}
    run:
      - unit: SlackPublisher
        config: {{bot_token: {{env: TEST_SLACK_TOKEN}}, slack_channel: "#x", api_url: {api}, dry_run: true}}
"##,
            api = slack.url("/api")
        ),
    );
    let job = replay_job(d);
    let out = run(d, &job, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(slack.requests().is_empty());
    assert!(reactions(d).is_empty());
    let a = SqliteArchive::open(d.join("a.sqlite").to_str().unwrap()).unwrap();
    let t3: Vec<_> = a
        .t3(None)
        .unwrap()
        .into_iter()
        .filter(|t| t.unit == "SlackPublisher")
        .collect();
    assert_eq!(t3.len(), 1);
    assert_eq!(t3[0].body["dry_run"], true);
    let m = &t3[0].body["messages"][0];
    assert_eq!(m["channel"], "#x");
    assert_eq!(m["blocks"][0]["text"]["text"], "ZTF23abfcbgc");
    assert!(!t3[0].body.to_string().contains(SLACK_TOKEN));
}

#[test]
fn a_destination_rate_limit_spaces_the_sends() {
    let hook = HttpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tutorial_channel(
        d,
        &format!(
            r#"
  - name: everything
    filter:
      t2:
        - unit: T2LightCurveSummary
          match: {{num_detections: {{$gte: 1}}}}
    run:
      - unit: WebhookPublisher
        config: {{url: {url}, delivery: {{rate_per_second: 4, burst: 1}}}}
"#,
            url = hook.url("/hook")
        ),
    );
    let out = run(d, &replay_job(d), &[]);
    assert!(out.status.success(), "{}", text(&out));
    let got = hook.delivered();
    assert_eq!(got.len(), 10, "one POST per accepted stock");
    let span = got[9].at - got[0].at;
    assert!(
        span >= Duration::from_millis(2200),
        "9 gaps of 1/4 s: {span:?}"
    );
}

#[test]
fn two_processes_of_one_job_send_each_reaction_once() {
    let (redis, broker) = (Redis::start(), Broker::start());
    broker.create_topic("ztf_20231018_programid1", 3);
    produce(
        &broker,
        "ztf_20231018_programid1",
        &["ztf_public_20231018_v4.02.tar.gz"],
    );
    let hook = HttpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tutorial_channel(
        d,
        &format!(
            r#"
  - name: everything
    filter:
      t2:
        - unit: T2LightCurveSummary
          match: {{num_detections: {{$gte: 1}}}}
    run:
      - unit: WebhookPublisher
        config: {{url: {url}, delivery: {{rate_per_second: 100, burst: 100}}}}
"#,
            url = hook.url("/hook")
        ),
    );
    // Both run T3 and a courier for the same destination on one archive.
    let job = live_job(d, &broker, &redis, Some(5));
    let j = job.to_str().unwrap();
    let a = spawn(d, "a", &["run", "--job", j]);
    let b = spawn(d, "b", &["run", "--job", j]);
    for p in [a, b] {
        let log = p.log.clone();
        let (st, _) = p.finish(120);
        assert!(
            st.success(),
            "{st}: {}",
            std::fs::read_to_string(log).unwrap()
        );
    }
    let got = hook.delivered();
    let keys: std::collections::BTreeSet<&String> =
        got.iter().map(|r| &r.headers["idempotency-key"]).collect();
    assert_eq!(keys.len(), 10, "a reaction per accepted stock");
    assert_eq!(got.len(), 10, "none sent twice");
    assert_eq!(states(d), vec![ReactionState::Delivered; 10]);
}
