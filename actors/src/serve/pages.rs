//! The HTML pages, written with maud: every string from the archive goes
//! through maud's escaping (only the server's own SVG is inserted as is).

use super::view::{ChannelView, Overview, StockView, STAMPS};
use ampel::store::{code, T2Doc};
use ampel::t3::react::iso8601;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde_json::Value as Json;

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 7px;\
text-align:left;vertical-align:top;font-size:90%}th{background:#f3f3f3}\
pre{margin:0;white-space:pre-wrap;max-width:60em}.stamps img{width:190px;height:190px;\
image-rendering:pixelated;border:1px solid #999;margin-right:8px}nav a{margin-right:1em}\
.muted{color:#777}";

fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) " · AMPEL" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                nav { a href="/" { "Overview" } a href="/api/v1/openapi.json" { "API" } }
                h1 { (title) }
                (body)
            }
        }
    }
}

fn time(ts: f64) -> String {
    iso8601(ts)
}

fn pretty(v: &Json) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// A page for what could not be shown (a missing stock, a bad
/// parameter...), titled by its HTTP status.
pub fn failure(title: &str, message: &str) -> Markup {
    layout(title, html! { p { (message) } })
}

pub fn stock_page(v: &StockView, svg: &str) -> Markup {
    let s = &v.stock;
    layout(
        &v.name,
        html! {
            p {
                "stock " code { (s.stock) } " · channels: " (s.channel.join(", "))
                " · tags: " (s.tag.join(", "))
                " · " (v.datapoints) " datapoints"
                @if v.unplotted > 0 { " (" (v.unplotted) " not plottable)" }
            }
            p { @for (label, url) in &v.summary.links { a href=(url) { (label) } " " } }
            @if let Some((ra, dec, _)) = v.summary.position {
                p { "position: RA " (format!("{ra:.6}")) ", Dec " (format!("{dec:.6}")) " (deg)" }
            }
            h2 { "Light curve" }
            div #lightcurve { (PreEscaped(svg)) }
            h2 { "Cutouts of the latest alert" }
            (stamps(v))
            h2 { "T2 results" }
            (t2_table(&v.t2))
            h2 { "Journal" }
            (journal(v))
        },
    )
}

fn stamps(v: &StockView) -> Markup {
    html! {
        @match v.cutouts {
            None => p .muted { "no cutouts stored for this stock" },
            Some((alert, have)) => div .stamps {
                p { "alert " code { (alert) } }
                @for (kind, present) in STAMPS.iter().zip(have) {
                    @if present {
                        figure style="display:inline-block;margin:0" {
                            img src=(format!("/stocks/{}/cutouts/{kind}.png", v.stock.stock))
                                alt=(kind) class="cutout";
                            figcaption { (kind) }
                        }
                    }
                }
            }
        }
    }
}

fn t2_table(docs: &[T2Doc]) -> Markup {
    html! {
        @if docs.is_empty() { p .muted { "no T2 documents" } } @else {
            table #t2 {
                tr { th { "unit" } th { "config" } th { "link" } th { "code" } th { "channels" }
                     th { "latest body" } th { "runs" } }
                @for d in docs {
                    tr {
                        td .unit { (d.unit) } td { (d.config) } td { (d.link) }
                        td { (code::name(d.code)) }
                        td { (d.channel.join(", ")) }
                        td { pre { (d.latest_body().map(pretty).unwrap_or_default()) } }
                        td { @for m in &d.meta {
                            div { (time(m.ts)) " run " (m.run) " " (m.action)
                                  @if let Some(c) = m.code { " → " (code::name(c)) }
                                  @if let Some(dur) = m.duration { " (" (format!("{dur:.3}")) " s)" } }
                        } }
                    }
                }
            }
        }
    }
}

fn journal(v: &StockView) -> Markup {
    html! {
        table #journal {
            tr { th { "time" } th { "run" } th { "tier" } th { "process" } th { "action" }
                 th { "channel" } th { "alert" } }
            @for j in &v.stock.journal {
                tr {
                    td { (time(j.ts)) } td { (j.run) } td { (j.tier) } td { (j.process) }
                    td { (j.action) } td { (j.channel.join(", ")) }
                    td { @if let Some(a) = j.alert { (a) } }
                }
            }
        }
    }
}

pub fn channel_page(v: &ChannelView) -> Markup {
    let link = |sort: &str| {
        let order = if v.sort == sort && v.desc {
            "asc"
        } else {
            "desc"
        };
        let cols: Vec<String> = v.cols.iter().map(|(u, f)| format!("{u}.{f}")).collect();
        format!(
            "?sort={}&order={order}&per_page={}&cols={}",
            urlencode(sort),
            v.per_page,
            urlencode(&cols.join(","))
        )
    };
    layout(
        &format!("Channel {}", v.channel),
        html! {
            p { (v.total) " stocks · page " (v.page) " of " (v.pages) }
            table #stocks {
                tr {
                    th { a href=(link("name")) { "stock" } }
                    th { a href=(link("updated")) { "updated" } }
                    @for (u, f) in &v.cols { th { a href=(link(&format!("{u}.{f}"))) { (u) "." (f) } } }
                }
                @for r in &v.rows {
                    tr {
                        td { a href=(format!("/stocks/{}", r.stock)) { (r.name) } }
                        td { (time(r.updated)) }
                        @for val in &r.values { td { @if let Some(x) = val { (scalar(x)) } } }
                    }
                }
            }
            (pager(v))
        },
    )
}

fn pager(v: &ChannelView) -> Markup {
    let href = |p: usize| {
        let order = if v.desc { "desc" } else { "asc" };
        format!(
            "?page={p}&per_page={}&sort={}&order={order}",
            v.per_page,
            urlencode(&v.sort)
        )
    };
    html! {
        p {
            @if v.page > 1 { a href=(href(v.page - 1)) { "← newer" } " " }
            @if v.page < v.pages { a href=(href(v.page + 1)) { "older →" } }
        }
    }
}

fn scalar(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{f:.4}"),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn overview_page(o: &Overview) -> Markup {
    layout(
        "Archive overview",
        html! {
            h2 { "Channels" }
            table #channels { tr { th { "channel" } th { "stocks" } }
                @for (c, n) in &o.channels {
                    tr { td { a href=(format!("/channels/{}", urlencode(c))) { (c) } } td { (n) } }
                }
            }
            h2 { "Runs (" (o.runs) ", newest first)" }
            table #events { tr { th { "run" } th { "job" } th { "start" } th { "code" } th { "counts" } }
                @for e in &o.events {
                    tr { td { (e.run) } td { (e.job.clone().unwrap_or_default()) } td { (time(e.start)) }
                         td { (code::name(e.code)) }
                         td { (e.counts.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")) } }
                }
            }
            h2 { "T2 outcomes" }
            table #t2 { tr { th { "unit" } th { "code" } th { "documents" } }
                @for ((u, c), n) in &o.t2 { tr { td { (u) } td { (code::name(*c)) } td { (n) } } }
            }
            h2 { "Dead letters (" (o.dead_letters) ")" }
            @for d in &o.recent_dead_letters { pre { (pretty(d)) } }
            h2 { "Reactions" }
            table #reactions { tr { th { "state" } th { "reactions" } }
                @for (s, n) in &o.reactions { tr { td { (s) } td { (n) } } }
            }
        },
    )
}
