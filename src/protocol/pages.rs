//! The listener's plain HTTP GETs: a tower layer, behind [`super::ws::GuardLayer`], that hands every GET
//! or HEAD that is not a WebSocket upgrade to a [`PageService`] (the web pages, `crate::web`, a higher
//! layer that this one does not name) and passes everything else — WebSocket upgrades, JSON-RPC POSTs —
//! on to jsonrpsee. Pages are rendered on a blocking thread: a large page must not hold up a runtime
//! worker that serves WebSocket connections.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::{BoxFuture, Either};
use futures::FutureExt;
use http::header::UPGRADE;
use http::{Method, StatusCode};
use jsonrpsee::core::BoxError;
pub use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};

/// Answers the GET and HEAD requests of a listener that are not WebSocket upgrades.
pub trait PageService: Send + Sync + 'static {
    /// The whole response to `request` (its head; a GET has no body to read). Runs on a blocking thread.
    fn answer(&self, request: &http::request::Parts) -> HttpResponse;
}

/// Whether a request is for a [`PageService`]: a GET or HEAD without an `Upgrade` header.
pub fn is_page_request<B>(request: &HttpRequest<B>) -> bool {
    matches!(*request.method(), Method::GET | Method::HEAD) && !request.headers().contains_key(UPGRADE)
}

/// The tower layer; without a service every request goes on to jsonrpsee.
#[derive(Clone, Default)]
pub struct PagesLayer(Option<Arc<dyn PageService>>);

impl PagesLayer {
    pub fn new(pages: Option<Arc<dyn PageService>>) -> PagesLayer {
        PagesLayer(pages)
    }
}

impl<S> tower::Layer<S> for PagesLayer {
    type Service = Pages<S>;

    fn layer(&self, inner: S) -> Pages<S> {
        Pages { inner, pages: self.0.clone() }
    }
}

/// See [`PagesLayer`].
#[derive(Clone)]
pub struct Pages<S> {
    inner: S,
    pages: Option<Arc<dyn PageService>>,
}

impl<S, B> tower::Service<HttpRequest<B>> for Pages<S>
where
    S: tower::Service<HttpRequest<B>, Response = HttpResponse, Error = BoxError>,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = Either<S::Future, BoxFuture<'static, Result<HttpResponse, BoxError>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest<B>) -> Self::Future {
        match &self.pages {
            Some(pages) if is_page_request(&request) => {
                let pages = Arc::clone(pages);
                let (head, _body) = request.into_parts();
                Either::Right(answer(pages, head).boxed())
            }
            _ => Either::Left(self.inner.call(request)),
        }
    }
}

async fn answer(pages: Arc<dyn PageService>, head: http::request::Parts) -> Result<HttpResponse, BoxError> {
    let head_only = head.method == Method::HEAD;
    let response = tokio::task::spawn_blocking(move || pages.answer(&head)).await.unwrap_or_else(|e| {
        tracing::error!("a page panicked: {e}");
        let mut response = HttpResponse::new(HttpBody::from("dbl: internal error rendering the page\n"));
        *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        response
    });
    if !head_only {
        return Ok(response);
    }
    let (parts, _) = response.into_parts();
    Ok(HttpResponse::from_parts(parts, HttpBody::empty()))
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
