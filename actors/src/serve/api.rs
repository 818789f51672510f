//! The JSON API under `/api/v1`: the views of the pages as JSON. Every
//! 64-bit id is given as a number and, under `<name>_str`, as a string
//! (JavaScript clients round integers above 2^53).

use super::view::{ChannelView, Overview, StockView};
use ampel::store::T2Doc;
use serde_json::{json, Value as Json};

pub fn stock(v: &StockView) -> Json {
    let s = &v.stock;
    json!({
        "stock": s.stock, "stock_str": s.stock.to_string(),
        "name": v.name, "names": s.name, "channels": s.channel, "tags": s.tag,
        "updated": s.updated,
        "datapoints": v.datapoints,
        "links": v.summary.links.iter().map(|(l, u)| json!({"label": l, "url": u})).collect::<Vec<_>>(),
        "latest_jd": v.latest_jd,
        "latest_cutout_alert": v.cutouts.map(|c| c.0),
        "latest_cutout_alert_str": v.cutouts.map(|c| c.0.to_string()),
        "journal": s.journal.iter().map(|j| {
            let mut e = serde_json::to_value(j).unwrap_or(Json::Null);
            if let (Some(a), Some(m)) = (j.alert, e.as_object_mut()) {
                m.insert("alert_str".into(), json!(a.to_string()));
            }
            e
        }).collect::<Vec<_>>(),
    })
}

pub fn light_curve(v: &StockView) -> Json {
    json!({
        "stock": v.stock.stock, "stock_str": v.stock.stock.to_string(),
        "unplotted": v.unplotted,
        "points": v.points.iter().map(|p| json!({
            "id": p.id, "id_str": p.id.to_string(), "jd": p.jd, "band": p.band,
            "mag": p.mag, "mag_err": p.mag_err, "upper_limit": p.upper_limit,
        })).collect::<Vec<_>>(),
    })
}

fn t2_doc(d: &T2Doc) -> Json {
    let mut v = serde_json::to_value(d).unwrap_or(Json::Null);
    if let Some(m) = v.as_object_mut() {
        m.insert("stock_str".into(), json!(d.stock.to_string()));
        m.insert("link_str".into(), json!(d.link.to_string()));
        m.insert("config_str".into(), json!(d.config.to_string()));
        m.insert("code_name".into(), json!(ampel::store::code::name(d.code)));
    }
    v
}

pub fn t2(v: &StockView) -> Json {
    json!({
        "stock": v.stock.stock, "stock_str": v.stock.stock.to_string(),
        "t2": v.t2.iter().map(t2_doc).collect::<Vec<_>>(),
    })
}

pub fn stocks(v: &ChannelView) -> Json {
    json!({
        "channel": v.channel, "total": v.total, "page": v.page, "pages": v.pages,
        "per_page": v.per_page, "sort": v.sort, "order": if v.desc { "desc" } else { "asc" },
        "columns": v.cols.iter().map(|(u, f)| format!("{u}.{f}")).collect::<Vec<_>>(),
        "stocks": v.rows.iter().map(|r| json!({
            "stock": r.stock, "stock_str": r.stock.to_string(), "name": r.name,
            "updated": r.updated, "values": r.values,
        })).collect::<Vec<_>>(),
    })
}

pub fn events(o: &Overview) -> Json {
    json!({
        "runs": o.runs,
        "events": o.events,
        "channels": o.channels,
        "t2_outcomes": o.t2.iter().map(|((u, c), n)| json!({
            "unit": u, "code": c, "code_name": ampel::store::code::name(*c), "documents": n,
        })).collect::<Vec<_>>(),
        "dead_letters": o.dead_letters,
        "reactions": o.reactions,
    })
}

/// An error answer.
pub fn error(message: &str) -> Json {
    json!({ "error": message })
}
