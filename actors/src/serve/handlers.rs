//! The routes' handlers: each reads its view in one blocking call on the
//! worker's archive connection (`web::block`), then renders it.

use super::view::{self, ChannelParams, StockView, STAMPS};
use super::{api, openapi, pages, plot, Failure, Store};
use actix_web::{web, HttpRequest, HttpResponse};
use ampel::cutout::{to_png, Image};
use ampel::store::{Archive, StoreError};

type Answer = Result<HttpResponse, actix_web::Error>;

impl actix_web::ResponseError for Failure {
    fn status_code(&self) -> actix_web::http::StatusCode {
        self.status
    }
    fn error_response(&self) -> HttpResponse {
        self.response()
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Runs `read` on the archive off the event loop.
async fn read<T: Send + 'static>(
    store: web::Data<Store>,
    json: bool,
    read: impl FnOnce(&dyn Archive) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, Failure> {
    web::block(move || store.with(read))
        .await
        .map_err(|e| Failure {
            status: actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
            message: e.to_string(),
            json,
        })?
        .map_err(|e| Failure::archive(e, json))
}

async fn stock_view(store: web::Data<Store>, id: String, json: bool) -> Result<StockView, Failure> {
    let key = id.clone();
    read(store, json, move |a| view::stock_view(a, &key))
        .await?
        .ok_or_else(|| Failure::not_found(format!("no stock {id:?} in this archive"), json))
}

fn html(markup: maud::Markup) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(markup.into_string())
}

fn svg_of(v: &StockView) -> Result<String, Failure> {
    plot::light_curve_svg(&v.points, v.latest_jd).map_err(|e| Failure {
        status: actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
        message: format!("drawing the light curve: {e}"),
        json: false,
    })
}

pub async fn overview(store: web::Data<Store>) -> Answer {
    let o = read(store, false, view::overview).await?;
    Ok(html(pages::overview_page(&o)))
}

pub async fn channel(
    store: web::Data<Store>,
    name: web::Path<String>,
    q: web::Query<ChannelParams>,
) -> Answer {
    // The router leaves an encoded slash encoded (a channel name may hold
    // one; it is not a path separator here).
    let name = name.into_inner().replace("%2F", "/").replace("%2f", "/");
    let v = channel_view(store, name, q.into_inner(), false).await?;
    Ok(html(pages::channel_page(&v)))
}

async fn channel_view(
    store: web::Data<Store>,
    name: String,
    q: ChannelParams,
    json: bool,
) -> Result<view::ChannelView, Failure> {
    if let Some(problem) = q.problem() {
        return Err(Failure::bad_request(problem, json));
    }
    let key = name.clone();
    read(store, json, move |a| view::channel_view(a, &key, &q))
        .await?
        .ok_or_else(|| Failure::not_found(format!("no channel {name:?} in this archive"), json))
}

pub async fn stock(store: web::Data<Store>, id: web::Path<String>) -> Answer {
    let v = stock_view(store, id.into_inner(), false).await?;
    let svg = svg_of(&v)?;
    Ok(html(pages::stock_page(&v, &svg)))
}

pub async fn light_curve_svg(store: web::Data<Store>, id: web::Path<String>) -> Answer {
    let v = stock_view(store, id.into_inner(), false).await?;
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .body(svg_of(&v)?))
}

pub async fn cutout(store: web::Data<Store>, path: web::Path<(String, String)>) -> Answer {
    let (id, kind) = path.into_inner();
    let Some(slot) = STAMPS.iter().position(|k| *k == kind) else {
        let msg = format!("no cutout kind {kind:?} (science, template or difference)");
        return Err(Failure::not_found(msg, false).into());
    };
    let key = id.clone();
    let stamp = read(store, false, move |a| {
        let Some(s) = view::find_stock(a, &key)? else {
            return Ok(None);
        };
        Ok(a.latest_cutout(s.stock)?.and_then(|c| {
            [c.science, c.template, c.difference]
                .into_iter()
                .nth(slot)
                .flatten()
        }))
    })
    .await?
    .ok_or_else(|| {
        Failure::not_found(format!("no {kind} cutout stored for stock {id:?}"), false)
    })?;
    let png = Image::from_fits(&stamp)
        .map_err(|e| e.to_string())
        .and_then(|img| to_png(&img).map_err(|e| e.to_string()))
        .map_err(|e| Failure {
            status: actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            message: format!("the stored {kind} cutout of {id} cannot be shown: {e}"),
            json: false,
        })?;
    Ok(HttpResponse::Ok().content_type("image/png").body(png))
}

pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(openapi::document())
}

/// The channel page's parameters and the channel (not flattened: a
/// flattened struct in a query string reads every number as a string).
#[derive(serde::Deserialize)]
pub struct StocksQuery {
    channel: Option<String>,
    page: Option<usize>,
    per_page: Option<usize>,
    sort: Option<String>,
    order: Option<String>,
    cols: Option<String>,
}

pub async fn api_stocks(store: web::Data<Store>, q: web::Query<StocksQuery>) -> Answer {
    let q = q.into_inner();
    let Some(channel) = q.channel.filter(|c| !c.is_empty()) else {
        return Err(Failure::bad_request("the channel parameter is required".into(), true).into());
    };
    let params = ChannelParams {
        page: q.page,
        per_page: q.per_page,
        sort: q.sort,
        order: q.order,
        cols: q.cols,
    };
    let v = channel_view(store, channel, params, true).await?;
    Ok(HttpResponse::Ok().json(api::stocks(&v)))
}

pub async fn api_stock(store: web::Data<Store>, id: web::Path<String>) -> Answer {
    let v = stock_view(store, id.into_inner(), true).await?;
    Ok(HttpResponse::Ok().json(api::stock(&v)))
}

pub async fn api_light_curve(store: web::Data<Store>, id: web::Path<String>) -> Answer {
    let v = stock_view(store, id.into_inner(), true).await?;
    Ok(HttpResponse::Ok().json(api::light_curve(&v)))
}

pub async fn api_t2(store: web::Data<Store>, id: web::Path<String>) -> Answer {
    let v = stock_view(store, id.into_inner(), true).await?;
    Ok(HttpResponse::Ok().json(api::t2(&v)))
}

pub async fn api_events(store: web::Data<Store>) -> Answer {
    let o = read(store, true, view::overview).await?;
    Ok(HttpResponse::Ok().json(api::events(&o)))
}

/// A query string that does not parse: 400 with what was wrong.
pub fn bad_query(e: actix_web::error::QueryPayloadError, req: &HttpRequest) -> actix_web::Error {
    let json = req.path().starts_with("/api/");
    Failure::bad_request(format!("query {:?}: {e}", req.query_string()), json).into()
}

pub async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    let msg = format!(
        "{} is not allowed here: the archive is read-only (GET)",
        req.method()
    );
    let mut r = HttpResponse::MethodNotAllowed();
    r.insert_header((actix_web::http::header::ALLOW, "GET"));
    if req.path().starts_with("/api/") {
        r.json(api::error(&msg))
    } else {
        r.content_type("text/plain; charset=utf-8").body(msg)
    }
}

pub async fn no_route(req: HttpRequest) -> HttpResponse {
    let json = req.path().starts_with("/api/");
    Failure::not_found(format!("no page at {}", req.path()), json).response()
}
