//! The listener's HTTP middleware, one shape for its three layers (the request guard, `/lsp` sessions,
//! the web pages): answer some requests here, pass every other one on to jsonrpsee.

use std::task::{Context, Poll};

use futures::future::{BoxFuture, Either};
use futures::FutureExt;
use jsonrpsee::core::BoxError;
use jsonrpsee::server::{HttpRequest, HttpResponse};

/// The answer to a request a layer takes.
pub type Answer = BoxFuture<'static, HttpResponse>;

/// What one layer takes from the stream of requests.
pub trait Intercept: Clone {
    /// The answer to `request` if this layer takes it; else the request, to go on.
    // The request goes on to the next layer as it came: boxing it would allocate for every request.
    #[allow(clippy::result_large_err)]
    fn intercept<B: Send + 'static>(&self, request: HttpRequest<B>) -> Result<Answer, HttpRequest<B>>;
}

/// The tower layer of an [`Intercept`].
#[derive(Clone)]
pub struct InterceptLayer<I>(pub I);

impl<S, I: Clone> tower::Layer<S> for InterceptLayer<I> {
    type Service = Intercepted<S, I>;

    fn layer(&self, inner: S) -> Intercepted<S, I> {
        Intercepted { inner, interceptor: self.0.clone() }
    }
}

/// See [`InterceptLayer`].
#[derive(Clone)]
pub struct Intercepted<S, I> {
    inner: S,
    interceptor: I,
}

impl<S, B, I> tower::Service<HttpRequest<B>> for Intercepted<S, I>
where
    S: tower::Service<HttpRequest<B>, Response = HttpResponse, Error = BoxError>,
    B: Send + 'static,
    I: Intercept,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = Either<S::Future, BoxFuture<'static, Result<HttpResponse, BoxError>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest<B>) -> Self::Future {
        match self.interceptor.intercept(request) {
            Ok(answer) => Either::Right(answer.map(Ok).boxed()),
            Err(request) => Either::Left(self.inner.call(request)),
        }
    }
}
