//! The fields of each survey's latest datapoint (ZTF's `candidate`,
//! Rubin's `diaSource`), read from the schemas shipped in `schemas/`.
//!
//! A filter reads the latest datapoint's fields by name, and a missing
//! field reads as null, which fails a cut: a channel whose filter names a
//! field its survey does not have would reject every alert with a reason
//! that blames the alert. [`check`] lets a job say so when it is built.

use crate::alert::Survey;
use crate::avro::SchemaJson;
use std::collections::BTreeSet;
use std::sync::LazyLock;

/// ZTF's schemas 3.0, 3.3 and 4.02: a field of any of them is a ZTF
/// field (older packets carry fewer; theirs read as null).
const ZTF: [&[u8]; 3] = [
    include_bytes!("../../schemas/ztf/ztf.alert.3.0.avsc"),
    include_bytes!("../../schemas/ztf/ztf.alert.3.3.avsc"),
    include_bytes!("../../schemas/ztf/ztf.alert.4.02.avsc"),
];
const LSST: [&[u8]; 1] = [include_bytes!("../../schemas/lsst/lsst.v9_0.alert.avsc")];

fn collect(schemas: &[&[u8]], record: &str) -> BTreeSet<String> {
    schemas
        .iter()
        .filter_map(|raw| SchemaJson::parse(raw).ok())
        .filter_map(|s| s.record_fields(&[record]).ok().flatten())
        .flatten()
        .collect()
}

static ZTF_FIELDS: LazyLock<BTreeSet<String>> = LazyLock::new(|| collect(&ZTF, "candidate"));
static LSST_FIELDS: LazyLock<BTreeSet<String>> = LazyLock::new(|| collect(&LSST, "diaSource"));

/// The fields of `survey`'s latest datapoint.
pub fn latest_fields(survey: Survey) -> &'static BTreeSet<String> {
    match survey {
        Survey::Ztf => &ZTF_FIELDS,
        Survey::Lsst => &LSST_FIELDS,
    }
}

/// What the latest datapoint is called in `survey`'s packets.
fn record_name(survey: Survey) -> &'static str {
    match survey {
        Survey::Ztf => "candidate",
        Survey::Lsst => "diaSource",
    }
}

/// For each of `fields` that `survey`'s packets do not have, a sentence
/// saying so (with the closest field, if one is close).
pub fn check(fields: &[String], survey: Survey, survey_tag: &str) -> Vec<String> {
    let known = latest_fields(survey);
    fields
        .iter()
        .filter(|f| !known.contains(f.as_str()))
        .map(|f| {
            let hint = crate::config::suggest(f, known.iter().map(String::as_str))
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            format!(
                "{survey_tag} alerts have no field `{f}` in their latest datapoint ({} of the {survey_tag} schemas){hint}",
                record_name(survey)
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_survey_has_its_own_fields() {
        let ztf = latest_fields(Survey::Ztf);
        let lsst = latest_fields(Survey::Lsst);
        for f in ["rb", "drb", "magpsf", "fwhm", "isdiffpos", "ssdistnr"] {
            assert!(ztf.contains(f), "{f}");
        }
        assert!(lsst.contains("psfFlux") && lsst.contains("ra"));
        assert!(!lsst.contains("rb") && !ztf.contains("psfFlux"));
        assert!(check(&["rb".into(), "ra".into()], Survey::Ztf, "ZTF").is_empty());
        let e = check(&["magpfs".into()], Survey::Ztf, "ZTF");
        assert!(e[0].contains("no field `magpfs`") && e[0].contains("`magpsf`"));
    }
}
