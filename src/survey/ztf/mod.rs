//! ZTF: alert packets (schemas 3.x and 4.x), stock ids, datapoint shaping.

mod id;
mod shaper;

pub use id::{from_stock_id, to_stock_id, ZtfNameError};
pub use shaper::{upper_limit_id, ZtfLayout, ZtfRecord, JD2017, PRE_2_0};

/// ZTF access tags by programid, then filter id (AMPEL's `ampel.ztf.ingest.tags`).
pub fn tags(programid: i64, fid: i64) -> &'static [&'static str] {
    const PUB: [&[&str]; 3] = [
        &["ZTF", "ZTF_PUB", "ZTF_G"],
        &["ZTF", "ZTF_PUB", "ZTF_R"],
        &["ZTF", "ZTF_PUB", "ZTF_I"],
    ];
    const PRIV: [&[&str]; 3] = [
        &["ZTF", "ZTF_PRIV", "ZTF_G"],
        &["ZTF", "ZTF_PRIV", "ZTF_R"],
        &["ZTF", "ZTF_PRIV", "ZTF_I"],
    ];
    const BOTH: [&[&str]; 3] = [
        &["ZTF", "ZTF_PUB", "ZTF_PRIV", "ZTF_G"],
        &["ZTF", "ZTF_PUB", "ZTF_PRIV", "ZTF_R"],
        &["ZTF", "ZTF_PUB", "ZTF_PRIV", "ZTF_I"],
    ];
    let table = match programid {
        1 => &PUB,
        2 => &PRIV,
        _ => &BOTH,
    };
    match fid {
        1..=3 => table[(fid - 1) as usize],
        _ => &["ZTF"],
    }
}
