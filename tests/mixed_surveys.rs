//! A stream holding two surveys' packets (ZTF and Rubin, as `bench night`
//! makes one): each channel filters only the alerts of the survey its
//! access names. Before, a ZTF channel's DecentFilter rejected every Rubin
//! alert with a misleading cut, and a Rubin channel's expression read ZTF
//! packets.

mod common;

use ampel::job::Job;
use ampel::run::{Input, Pipeline, Version};
use ampel::store::{open_embedded, Archive, StockQuery};
use common::*;
use std::path::Path;

const ZTF: &str = "ztf_public_20231018_v4.02";

fn job(dir: &Path, rubin_access: &str) -> Result<Job, String> {
    let yaml = format!(
        "name: mixed\nsource: {{paths: [{}, {}]}}\nchannels:\n\
         - {{channel: ZTF_ALL, access: [ZTF, ZTF_PUB], t0_filter: {{unit: DecentFilter, config: {}}}, t2_compute: [{{unit: T2LightCurveSummary}}]}}\n\
         - {{channel: RUBIN, access: {rubin_access}, t0_filter: {{unit: ExpressionFilter, config: {{expression: 'diaSource.reliability > 0.5 && diaSource.psfFlux > 0'}}}}}}\n",
        data(&format!("{ZTF}.tar.gz")).display(),
        data(&format!("{LSST_SET}.tar.gz")).display(),
        decent_configs()["accept_all"],
    );
    let file = dir.join("job.yml");
    std::fs::write(&file, yaml).unwrap();
    Job::load(&file).map_err(|e| e.to_string())
}

#[test]
fn each_channel_filters_only_its_surveys_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = Pipeline::build(job(dir.path(), "[LSST]").unwrap()).unwrap();
    let mut a =
        open_embedded(&format!("sqlite:{}", dir.path().join("a.sqlite").display())).unwrap();
    let mut messages = raw_messages(ZTF);
    messages.extend(raw_messages(LSST_SET));
    let version = Version {
        version: "test".into(),
        commit: None,
    };
    let s = p
        .replay_from(Input::Memory(messages), &mut a, &version, &mut |_| {})
        .unwrap();
    assert_eq!(s.alerts, 272, "{s:?}");
    assert_eq!(s.failed, 0, "{s:?}");
    let filtered = |ch: &str| s.accepted.get(ch).unwrap_or(&0) + s.rejected.get(ch).unwrap_or(&0);
    assert_eq!(filtered("ZTF_ALL"), 172, "{s:?}");
    assert_eq!(filtered("RUBIN"), 100, "{s:?}");
    assert_eq!(s.other_survey["ZTF_ALL"], 100, "{s:?}");
    assert_eq!(s.other_survey["RUBIN"], 172, "{s:?}");
    // ... and the run's log says so per channel.
    let logs = a
        .logs(&ampel::store::LogQuery {
            channel: Some("RUBIN".into()),
            ..Default::default()
        })
        .unwrap();
    let line = logs
        .iter()
        .find(|l| l.msg.contains("does not name"))
        .expect("a log line for the other survey's alerts");
    assert_eq!(line.extra.as_ref().unwrap()["alerts"], 172);
    // reliability > 0.5 and a positive flux: 34 of the 100 real packets (fastavro agrees).
    assert_eq!(s.accepted["RUBIN"], 34, "{s:?}");
    // No ZTF channel rejection names a Rubin alert.
    let rubin_stocks: Vec<i64> = a
        .stocks(&StockQuery {
            channel: Some("RUBIN".into()),
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|s| s.stock)
        .collect();
    // Two of those alerts are one object's (fastavro: 33 distinct ids).
    assert_eq!(rubin_stocks.len(), 33);
    for stock in rubin_stocks {
        let doc = a.stock(stock).unwrap().unwrap();
        assert_eq!(doc.channel, vec!["RUBIN".to_string()]);
        assert_eq!(doc.tag, vec!["LSST".to_string()]);
    }
}

#[test]
fn a_channel_whose_access_names_no_survey_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = job(dir.path(), "[RUBIN_PUB]").unwrap_err();
    assert!(err.contains("access"), "{err}");
    assert!(err.contains("names no survey"), "{err}");
    assert!(err.contains("ZTF or LSST"), "{err}");
    // A survey's right (LSST_x) names the survey.
    assert!(job(dir.path(), "[LSST_DP]").is_ok());
}
