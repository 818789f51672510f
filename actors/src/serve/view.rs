//! What each page and API answer shows, read from the archive in one
//! blocking call: the pages (`pages.rs`) and the JSON API (`api.rs`) render
//! the same views.

use ampel::store::{
    Archive, EventDoc, ReactionQuery, StockDoc, StockQuery, StoreError, T2Doc, T2Query,
};
use ampel::survey::lightcurve::{light_curve, LightPoint};
use ampel::survey::summary::{object_summary, ObjectSummary};
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// One stock, everything its page shows.
pub struct StockView {
    pub stock: StockDoc,
    /// Its survey name (or the id when it has none).
    pub name: String,
    pub points: Vec<LightPoint>,
    /// Datapoints that could not be plotted (no time, band or magnitude).
    pub unplotted: usize,
    pub datapoints: usize,
    pub latest_jd: Option<f64>,
    pub t2: Vec<T2Doc>,
    pub summary: ObjectSummary,
    /// The alert id of the latest stored stamps and which of the three
    /// it has.
    pub cutouts: Option<(i64, [bool; 3])>,
}

/// The stamp kinds, in page order.
pub const STAMPS: [&str; 3] = ["science", "template", "difference"];

/// A stock by id, or by name (e.g. ZTF23abfcbgc).
pub fn find_stock(a: &dyn Archive, key: &str) -> Result<Option<StockDoc>, StoreError> {
    match key.parse::<i64>() {
        Ok(n) => a.stock(n),
        Err(_) => a.stock_by_name(key),
    }
}

pub fn stock_view(a: &dyn Archive, key: &str) -> Result<Option<StockView>, StoreError> {
    let Some(stock) = find_stock(a, key)? else {
        return Ok(None);
    };
    let dps = a.datapoints(stock.stock)?;
    let (points, unplotted) = light_curve(&dps);
    let name = stock
        .name
        .first()
        .cloned()
        .unwrap_or_else(|| stock.stock.to_string());
    let summary = object_summary(&stock.tag, &name, &dps);
    let cutout = a.latest_cutout(stock.stock)?;
    let latest_jd = cutout
        .as_ref()
        .map(|c| c.jd)
        .filter(|jd| *jd > 0.0)
        .or_else(|| {
            points
                .iter()
                .filter(|p| !p.upper_limit)
                .map(|p| p.jd)
                .reduce(f64::max)
        });
    let t2 = a.t2(&T2Query {
        stock: Some(stock.stock),
        ..Default::default()
    })?;
    Ok(Some(StockView {
        name,
        datapoints: dps.len(),
        points,
        unplotted,
        latest_jd,
        t2,
        summary,
        cutouts: cutout.map(|c| {
            (
                c.id,
                [
                    c.science.is_some(),
                    c.template.is_some(),
                    c.difference.is_some(),
                ],
            )
        }),
        stock,
    }))
}

/// How a channel page is asked for.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ChannelParams {
    /// 1-based.
    pub page: Option<usize>,
    pub per_page: Option<usize>,
    /// `updated` (default), `name`, or a column `UNIT.field`.
    pub sort: Option<String>,
    /// `asc` or `desc` (default).
    pub order: Option<String>,
    /// Comma-separated `UNIT.field` columns; default: up to five scalar
    /// fields of the first T2 unit on the page.
    pub cols: Option<String>,
}

/// What `sort` may be (the OpenAPI document says the same). Units and
/// top-level result fields are identifiers; ASCII classes, because regex
/// engines disagree on what `\s` matches.
pub const SORT_PATTERN: &str = r"^(updated|name|[A-Za-z0-9_]+\.[A-Za-z0-9_]+)$";
/// What `cols` may be: `UNIT.field` columns, comma-separated.
pub const COLS_PATTERN: &str = r"^([A-Za-z0-9_]+\.[A-Za-z0-9_]+(,[A-Za-z0-9_]+\.[A-Za-z0-9_]+)*)?$";

impl ChannelParams {
    /// What is wrong with the parameters, if anything (a 400, not a guess).
    pub fn problem(&self) -> Option<String> {
        if self.page == Some(0) {
            return Some("page counts from 1".into());
        }
        if let Some(n) = self.per_page.filter(|n| !(1..=MAX_PER_PAGE).contains(n)) {
            return Some(format!("per_page {n} is not within 1..={MAX_PER_PAGE}"));
        }
        if let Some(o) = self
            .order
            .as_deref()
            .filter(|o| !["asc", "desc"].contains(o))
        {
            return Some(format!("order {o:?} is neither asc nor desc"));
        }
        use std::sync::LazyLock;
        static SORT: LazyLock<regex::Regex> =
            LazyLock::new(|| regex::Regex::new(SORT_PATTERN).expect("valid pattern"));
        static COLS: LazyLock<regex::Regex> =
            LazyLock::new(|| regex::Regex::new(COLS_PATTERN).expect("valid pattern"));
        if let Some(s) = self.sort.as_deref().filter(|s| !SORT.is_match(s)) {
            return Some(format!(
                "sort {s:?} is not updated, name or a column UNIT.field"
            ));
        }
        if let Some(c) = self.cols.as_deref().filter(|c| !COLS.is_match(c)) {
            return Some(format!(
                "cols {c:?} is not a comma-separated list of UNIT.field"
            ));
        }
        None
    }
}

/// A page of a channel's stocks, newest first.
pub struct ChannelView {
    pub channel: String,
    pub total: usize,
    pub page: usize,
    pub pages: usize,
    pub per_page: usize,
    pub sort: String,
    pub desc: bool,
    /// (unit, field) columns.
    pub cols: Vec<(String, String)>,
    pub rows: Vec<ChannelRow>,
}

pub struct ChannelRow {
    pub stock: i64,
    pub name: String,
    pub updated: f64,
    pub values: Vec<Option<Json>>,
}

pub const MAX_PER_PAGE: usize = 500;

pub fn channel_view(
    a: &dyn Archive,
    channel: &str,
    p: &ChannelParams,
) -> Result<Option<ChannelView>, StoreError> {
    let stocks = a.stocks(&StockQuery {
        channel: Some(channel.to_string()),
        ..Default::default()
    })?;
    if stocks.is_empty() && !a.channel_counts()?.contains_key(channel) {
        return Ok(None);
    }
    let per_page = p.per_page.unwrap_or(50).clamp(1, MAX_PER_PAGE);
    let pages = stocks.len().div_ceil(per_page).max(1);
    let page = p.page.unwrap_or(1).clamp(1, pages);
    let sort = p.sort.clone().unwrap_or_else(|| "updated".into());
    let desc = p.order.as_deref() != Some("asc");
    let mut rows: Vec<ChannelRow> = stocks.iter().map(row).collect();
    let mut results: BTreeMap<i64, Vec<T2Doc>> = BTreeMap::new();
    let by_column = sort.contains('.');
    // A T2 column sorts over every stock; other orders read T2 for the
    // page only.
    if !by_column {
        sort_rows(&mut rows, &sort, None, desc);
        rows = rows
            .into_iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .collect();
    }
    for r in &rows {
        results.insert(r.stock, t2_of(a, r.stock, channel)?);
    }
    let cols = columns(p.cols.as_deref(), &results);
    for r in &mut rows {
        r.values = cols
            .iter()
            .map(|(u, f)| field(&results[&r.stock], u, f))
            .collect();
    }
    if by_column {
        let idx = cols.iter().position(|(u, f)| format!("{u}.{f}") == sort);
        sort_rows(&mut rows, &sort, idx, desc);
        rows = rows
            .into_iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .collect();
    }
    Ok(Some(ChannelView {
        channel: channel.to_string(),
        total: stocks.len(),
        page,
        pages,
        per_page,
        sort,
        desc,
        cols,
        rows,
    }))
}

fn row(s: &StockDoc) -> ChannelRow {
    ChannelRow {
        stock: s.stock,
        name: s
            .name
            .first()
            .cloned()
            .unwrap_or_else(|| s.stock.to_string()),
        updated: s.updated,
        values: Vec::new(),
    }
}

fn t2_of(a: &dyn Archive, stock: i64, channel: &str) -> Result<Vec<T2Doc>, StoreError> {
    a.t2(&T2Query {
        stock: Some(stock),
        channel: Some(channel.to_string()),
        ..Default::default()
    })
}

fn sort_rows(rows: &mut [ChannelRow], sort: &str, col: Option<usize>, desc: bool) {
    rows.sort_by(|x, y| {
        let o = match (sort, col) {
            ("name", _) => x.name.cmp(&y.name),
            (_, Some(i)) => cmp_json(&x.values[i], &y.values[i]),
            _ => x.updated.total_cmp(&y.updated),
        };
        if desc {
            o.reverse()
        } else {
            o
        }
    });
}

/// Numbers by value, then strings, missing values last (ascending).
fn cmp_json(a: &Option<Json>, b: &Option<Json>) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    match (a, b) {
        (Some(x), Some(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(p), Some(q)) => p.total_cmp(&q),
            _ => x.to_string().cmp(&y.to_string()),
        },
        (Some(_), None) => Less,
        (None, Some(_)) => Greater,
        (None, None) => Equal,
    }
}

/// The asked columns, or up to five scalar fields of the first unit with
/// a result on the page.
fn columns(asked: Option<&str>, results: &BTreeMap<i64, Vec<T2Doc>>) -> Vec<(String, String)> {
    if let Some(spec) = asked.filter(|s| !s.trim().is_empty()) {
        return spec
            .split(',')
            .filter_map(|c| c.trim().split_once('.'))
            .map(|(u, f)| (u.to_string(), f.to_string()))
            .collect();
    }
    let first = results
        .values()
        .flatten()
        .find_map(|d| Some((d, d.latest_body()?)));
    let Some((doc, Json::Object(body))) = first else {
        return Vec::new();
    };
    body.iter()
        .filter(|(_, v)| v.is_number() || v.is_string() || v.is_boolean())
        .take(5)
        .map(|(k, _)| (doc.unit.clone(), k.clone()))
        .collect()
}

/// A field of the newest result of `unit` among a stock's documents.
fn field(docs: &[T2Doc], unit: &str, f: &str) -> Option<Json> {
    docs.iter()
        .filter(|d| d.unit == unit)
        .filter_map(|d| Some((d.meta.last().map_or(0.0, |m| m.ts), d.latest_body()?)))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .and_then(|(_, b)| b.get(f).cloned())
}

/// The archive at a glance.
pub struct Overview {
    /// The newest runs first (at most [`OVERVIEW_EVENTS`]).
    pub events: Vec<EventDoc>,
    pub runs: usize,
    pub channels: BTreeMap<String, u64>,
    pub t2: BTreeMap<(String, i64), u64>,
    pub dead_letters: usize,
    /// The newest dead letters (at most ten).
    pub recent_dead_letters: Vec<Json>,
    pub reactions: BTreeMap<String, u64>,
}

pub const OVERVIEW_EVENTS: usize = 50;

pub fn overview(a: &dyn Archive) -> Result<Overview, StoreError> {
    let mut events = a.events()?;
    let runs = events.len();
    events.sort_by_key(|e| std::cmp::Reverse(e.run));
    events.truncate(OVERVIEW_EVENTS);
    let troubles = a.troubles()?;
    let mut reactions = BTreeMap::new();
    for r in a.reactions(&ReactionQuery::default())? {
        *reactions.entry(r.state.name().to_string()).or_default() += 1;
    }
    Ok(Overview {
        events,
        runs,
        channels: a.channel_counts()?,
        t2: a.t2_outcomes()?,
        dead_letters: troubles.len(),
        recent_dead_letters: troubles.iter().rev().take(10).cloned().collect(),
        reactions,
    })
}
