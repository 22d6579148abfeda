//! The daemon's web pages, served on the `--listen` port beside the JSON-RPC WebSocket (`dbl serve
//! --listen`): a home page with search and the daemon's state, and a page per want (fulfillment tree), job
//! run, partition and lineage graph. Each page renders the same `views` structs that the JSON-RPC methods
//! and `--format json` answer, and updates itself live over its own origin's WebSocket (`assets/live.js`).
//!
//! The listener's guard (`protocol::ws::check_request`: Host, Origin, token) runs before any page; this
//! layer only sees the GETs the guard let through (`protocol::pages`). Layers: `web` uses `protocol` and
//! below; `cli` starts it.

pub mod assets;
pub mod href;
pub mod pages;
pub mod route;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use askama::Template;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION};
use http::{HeaderValue, StatusCode};

use crate::live::Live;
use crate::protocol::pages::{HttpBody, HttpResponse, PageService};
use crate::protocol::stdio::StdioOptions;
use crate::protocol::ws::{self, ListenerPolicy, WsServer};
use crate::protocol::ws_lsp::{LspEndpoint, LSP_PATH};
use crate::protocol::Registry;
use assets::Asset;
use pages::error::ErrorPage;
use route::{PageError, Route};

/// What a page request is answered with.
#[derive(Debug)]
pub enum Reply {
    Html { status: StatusCode, body: String },
    Redirect(String),
    Asset(&'static Asset),
}

/// The pages of one daemon: a [`PageService`] over its live state.
pub struct WebPages {
    live: Arc<Live>,
}

impl WebPages {
    pub fn new(live: Arc<Live>) -> WebPages {
        WebPages { live }
    }

    /// The reply to a GET of `path` with `query` (as sent, percent-encoded).
    pub fn reply(&self, path: &str, query: Option<&str>) -> Reply {
        match route::route(path, query) {
            Ok(route) => self.page(route),
            Err(e) => error_page(e),
        }
    }

    fn page(&self, route: Route) -> Reply {
        match route {
            Route::Home => html(pages::home::page(&self.live)),
            Route::Search { q } => {
                let outcome = pages::search::search(&self.live.read_long(), &q);
                match outcome {
                    pages::search::Outcome::Go(to) => Reply::Redirect(to),
                    pages::search::Outcome::Results(page) => html(*page),
                }
            }
            Route::Want { id, expand_retries } => {
                let page = pages::want::page(&self.live.read_long(), &id, expand_retries);
                view_page(page)
            }
            Route::JobRun { id } => {
                let page = pages::job_run::page(&self.live.read_long(), &id);
                view_page(page)
            }
            Route::Partition { key } => {
                let page = pages::partition::page(&self.live.read_long(), &key);
                view_page(page)
            }
            Route::Lineage { key, params } => {
                let page = pages::lineage::page(&self.live.read_long(), &key, params);
                view_page(page)
            }
            Route::Asset(asset) => Reply::Asset(asset),
        }
    }
}

/// Renders a page, or the error page. Each page is built in its own `let`, so the state's read lock (a
/// temporary of that statement) is released before the HTML is rendered: the page owns what it shows.
fn view_page<T: Template>(page: Result<T, PageError>) -> Reply {
    match page {
        Ok(page) => html(page),
        Err(e) => error_page(e),
    }
}

fn error_page(error: PageError) -> Reply {
    let (status, title, message) = match error {
        PageError::NotFound(message) => (StatusCode::NOT_FOUND, "Not found", message),
        PageError::BadRequest(message) => (StatusCode::BAD_REQUEST, "Bad request", message),
    };
    match ErrorPage::new(status, title, message).render() {
        Ok(body) => Reply::Html { status, body },
        Err(e) => Reply::Html { status, body: format!("dbl: {e}\n") },
    }
}

fn html<T: Template>(page: T) -> Reply {
    match page.render() {
        Ok(body) => Reply::Html { status: StatusCode::OK, body },
        Err(e) => {
            tracing::error!("rendering a page: {e}");
            Reply::Html {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                body: format!("dbl: cannot render the page: {e}\n"),
            }
        }
    }
}

/// Pages may load only their own scripts, styles and WebSocket; nothing inline, no frames.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

impl Reply {
    /// The HTTP response; `if_none_match` is the request's `If-None-Match`, for assets.
    pub fn into_response(self, if_none_match: Option<&HeaderValue>) -> HttpResponse {
        let builder = http::Response::builder()
            .header("x-content-type-options", "nosniff")
            .header("referrer-policy", "no-referrer");
        let response = match self {
            Reply::Html { status, body } => builder
                .status(status)
                .header(CONTENT_TYPE, "text/html; charset=utf-8")
                .header(CACHE_CONTROL, "no-store")
                .header("content-security-policy", CONTENT_SECURITY_POLICY)
                .body(HttpBody::from(body)),
            Reply::Redirect(to) => builder
                .status(StatusCode::SEE_OTHER)
                .header(LOCATION, to)
                .header(CACHE_CONTROL, "no-store")
                .body(HttpBody::empty()),
            Reply::Asset(asset) if if_none_match.is_some_and(|tag| tag.as_bytes() == asset.etag().as_bytes()) => {
                builder.status(StatusCode::NOT_MODIFIED).header(ETAG, asset.etag()).body(HttpBody::empty())
            }
            Reply::Asset(asset) => builder
                .header(CONTENT_TYPE, asset.content_type)
                .header(CACHE_CONTROL, "no-cache")
                .header(ETAG, asset.etag())
                .body(HttpBody::from(asset.body)),
        };
        response.expect("a valid response head")
    }
}

impl PageService for WebPages {
    fn answer(&self, request: &http::request::Parts) -> HttpResponse {
        let reply = self.reply(request.uri.path(), request.uri.query());
        reply.into_response(request.headers.get(IF_NONE_MATCH))
    }
}

/// Serves `registry` over WebSocket, the pages over HTTP and language-server sessions on `/lsp` (with
/// `options`, as the stdio sessions) on one listener at `addr` (`--listen`), and records the pages' URL in
/// `live` for `databuild/status` (unless a token is required: a browser cannot send one, so the pages are
/// then for programs only).
pub async fn listen(
    addr: std::net::SocketAddr,
    policy: ListenerPolicy,
    options: &StdioOptions,
    live: Arc<Live>,
    registry: Registry,
) -> anyhow::Result<WsServer> {
    let browsers_can_connect = policy.token.is_none();
    let pages: Arc<dyn PageService> = Arc::new(WebPages::new(live.clone()));
    let lsp = LspEndpoint::new(live.clone(), Arc::new(registry.clone()), options.clone());
    let server = ws::serve(addr, policy, &options.limits, registry, Some(pages), Some(lsp)).await?;
    if browsers_can_connect {
        live.set_pages_url(format!("http://{}/", server.local_addr));
    }
    tracing::info!("pages at http://{}/", server.local_addr);
    tracing::info!("language-server sessions at ws://{}{LSP_PATH}", server.local_addr);
    Ok(server)
}
