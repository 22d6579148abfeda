//! The listener's plain HTTP GETs: a tower layer, behind [`super::ws::Guard`], that hands every GET
//! or HEAD that is not a WebSocket upgrade to a [`PageService`] (the web pages, `crate::web`, a higher
//! layer that this one does not name) and passes everything else — WebSocket upgrades, JSON-RPC POSTs —
//! on to jsonrpsee. Pages are rendered on a blocking thread: a large page must not hold up a runtime
//! worker that serves WebSocket connections.

use std::sync::Arc;

use futures::FutureExt;
use http::header::UPGRADE;
use http::{Method, StatusCode};
pub use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};

use super::intercept::{Answer, Intercept};

/// Answers the GET and HEAD requests of a listener that are not WebSocket upgrades.
pub trait PageService: Send + Sync + 'static {
    /// The whole response to `request` (its head; a GET has no body to read). Runs on a blocking thread.
    fn answer(&self, request: &http::request::Parts) -> HttpResponse;
}

/// Whether a request is for a [`PageService`]: a GET or HEAD without an `Upgrade` header.
pub fn is_page_request<B>(request: &HttpRequest<B>) -> bool {
    matches!(*request.method(), Method::GET | Method::HEAD) && !request.headers().contains_key(UPGRADE)
}

/// The listener's layer for pages; without a service every request goes on to jsonrpsee.
#[derive(Clone, Default)]
pub struct PageRequests(pub Option<Arc<dyn PageService>>);

impl Intercept for PageRequests {
    fn intercept<B: Send + 'static>(&self, request: HttpRequest<B>) -> Result<Answer, HttpRequest<B>> {
        match &self.0 {
            Some(pages) if is_page_request(&request) => {
                let (head, _body) = request.into_parts();
                Ok(answer(Arc::clone(pages), head).boxed())
            }
            _ => Err(request),
        }
    }
}

async fn answer(pages: Arc<dyn PageService>, head: http::request::Parts) -> HttpResponse {
    let head_only = head.method == Method::HEAD;
    let response = tokio::task::spawn_blocking(move || pages.answer(&head)).await.unwrap_or_else(|e| {
        tracing::error!("a page panicked: {e}");
        let mut response = HttpResponse::new(HttpBody::from("dbl: internal error rendering the page\n"));
        *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        response
    });
    if !head_only {
        return response;
    }
    let (parts, _) = response.into_parts();
    HttpResponse::from_parts(parts, HttpBody::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, upgrade: bool) -> HttpRequest<()> {
        let mut builder = http::Request::builder().method(method).uri("/");
        if upgrade {
            builder = builder.header("upgrade", "websocket").header("connection", "Upgrade");
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn gets_are_pages_upgrades_and_posts_are_not() {
        assert!(is_page_request(&request(Method::GET, false)));
        assert!(is_page_request(&request(Method::HEAD, false)));
        assert!(!is_page_request(&request(Method::GET, true)));
        assert!(!is_page_request(&request(Method::POST, false)));
        assert!(!is_page_request(&request(Method::OPTIONS, false)));
    }
}
