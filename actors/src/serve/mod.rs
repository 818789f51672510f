//! `ampel serve`: a read-only web view of an archive (either backend) with
//! actix-web. Pages: the overview (`/`), a channel's stocks
//! (`/channels/{name}`), a stock (`/stocks/{id or name}`: light curve as
//! SVG, the latest alert's cutouts as PNG, T2 results, journal); the same
//! as JSON under `/api/v1` with its OpenAPI document.
//!
//! **Invariants:** no route writes (the embedded archive is opened
//! read-only); every archive string reaches HTML through maud's escaping;
//! a bad id is a 404 with a message, never a panic. Bound to a
//! non-loopback address it needs a bearer token.

mod api;
mod openapi;
mod pages;
pub mod plot;
mod view;

use crate::store::open_archive_read_only;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, App, HttpResponse, HttpServer};
use ampel::store::{Archive, StoreError};
use anyhow::{bail, Context};
use std::net::SocketAddr;
use std::sync::Mutex;

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub store: String,
    pub listen: SocketAddr,
    pub token: Option<String>,
    pub workers: usize,
}

/// One archive connection per server worker, opened on first use.
struct Store {
    address: String,
    archive: Mutex<Option<Box<dyn Archive>>>,
}

impl Store {
    /// Runs `f` on this worker's connection (opening it if needed).
    fn with<T>(
        &self,
        f: impl FnOnce(&dyn Archive) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut guard = self.archive.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(open_archive_read_only(&self.address)?);
        }
        let a = guard.as_deref().expect("opened above");
        let out = f(a);
        if out.as_ref().is_err_and(StoreError::is_transient) {
            // A lost connection is opened afresh next time.
            *guard = None;
        }
        out
    }
}

/// The bearer token the requests must carry, if any.
#[derive(Clone)]
struct Token(Option<String>);

/// The stock page of `key` (id or name) as the server renders it: its view
/// read from `archive`, the SVG light curve and the HTML (`bench serve`
/// times this).
pub fn render_stock_page(archive: &dyn Archive, key: &str) -> anyhow::Result<Option<String>> {
    let Some(v) = view::stock_view(archive, key)? else {
        return Ok(None);
    };
    let svg = plot::light_curve_svg(&v.points, v.latest_jd).map_err(|e| anyhow::anyhow!(e))?;
    Ok(Some(pages::stock_page(&v, &svg).into_string()))
}

/// Runs the server until interrupted.
pub fn run(cfg: ServeConfig) -> anyhow::Result<()> {
    if !cfg.listen.ip().is_loopback() && cfg.token.is_none() {
        bail!(
            "--listen {} is not a loopback address: pass --token (or AMPEL_SERVE_TOKEN) so that \
             only bearers of the token can read the archive",
            cfg.listen
        );
    }
    // Fail at start, with the address, rather than at the first request.
    open_archive_read_only(&cfg.store).with_context(|| format!("opening {}", cfg.store))?;
    let (address, token) = (cfg.store.clone(), Token(cfg.token.clone()));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(Store {
                address: address.clone(),
                archive: Mutex::new(None),
            }))
            .app_data(web::Data::new(token.clone()))
            .app_data(web::QueryConfig::default().error_handler(handlers::bad_query))
            .wrap(from_fn(authorise))
            .configure(routes)
    })
    .workers(cfg.workers.max(1))
    .bind(cfg.listen)
    .with_context(|| format!("binding {}", cfg.listen))?;
    let bound: Vec<String> = server.addrs().iter().map(ToString::to_string).collect();
    eprintln!(
        "ampel serve: {} on http://{}",
        cfg.store,
        bound.join(", http://")
    );
    actix_web::rt::System::new()
        .block_on(server.run())
        .context("serving")
}

fn routes(cfg: &mut web::ServiceConfig) {
    use handlers::*;
    cfg.service(get("/", overview))
        .service(get("/channels/{name}", channel))
        .service(get("/stocks/{id}", stock))
        .service(get("/stocks/{id}/lightcurve.svg", light_curve_svg))
        .service(get("/stocks/{id}/cutouts/{kind}.png", cutout))
        .service(get("/api/v1/openapi.json", openapi))
        .service(get("/api/v1/stocks", api_stocks))
        .service(get("/api/v1/stocks/{id}", api_stock))
        .service(get("/api/v1/stocks/{id}/lightcurve", api_light_curve))
        .service(get("/api/v1/stocks/{id}/t2", api_t2))
        .service(get("/api/v1/events", api_events))
        .default_service(web::to(no_route));
}

/// A read-only resource: GET, and 405 (with `Allow: GET`) for any other
/// method.
fn get<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler))
        .default_service(web::to(handlers::method_not_allowed))
}

/// Refuses requests without the bearer token when one is set.
async fn authorise(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let want = req.app_data::<web::Data<Token>>().and_then(|t| t.0.clone());
    if let Some(want) = want {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !given.is_some_and(|g| same(g.as_bytes(), want.as_bytes())) {
            let res = HttpResponse::Unauthorized()
                .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
                .json(api::error(
                    "a bearer token is required (Authorization: Bearer TOKEN)",
                ));
            return Ok(req.into_response(res));
        }
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An answer that is not a page: a status and a message, as HTML or JSON.
#[derive(Debug)]
pub(crate) struct Failure {
    status: StatusCode,
    message: String,
    json: bool,
}

impl Failure {
    fn not_found(message: String, json: bool) -> Self {
        Failure {
            status: StatusCode::NOT_FOUND,
            message,
            json,
        }
    }

    fn bad_request(message: String, json: bool) -> Self {
        Failure {
            status: StatusCode::BAD_REQUEST,
            message,
            json,
        }
    }

    fn archive(e: StoreError, json: bool) -> Self {
        tracing::warn!(error = %e, "archive read failed");
        Failure {
            status: if e.is_transient() {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            },
            message: e.to_string(),
            json,
        }
    }

    fn response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status);
        if self.json {
            r.json(api::error(&self.message))
        } else {
            let title = self.status.canonical_reason().unwrap_or("Error");
            r.content_type("text/html; charset=utf-8")
                .body(pages::failure(title, &self.message).into_string())
        }
    }
}

mod handlers;
