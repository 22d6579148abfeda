//! The listener's `/lsp` endpoint: a WebSocket on which each connection is one language-server session,
//! run by the stdio transport's own session code ([`stdio::serve`]); each text message is one JSON-RPC
//! message (no `Content-Length` framing). This is what `dbl serve --stdio --remote ws://HOST:PORT`
//! forwards an editor to: a team daemon on another machine.
//!
//! A tower layer in the listener's stack, behind [`super::ws::Guard`]: the Host, Origin and token
//! checks apply before an upgrade is looked at. Every other request goes on to the pages and jsonrpsee.

use std::sync::Arc;

use bytes::BytesMut;
use futures::future;
use futures::FutureExt;
use futures::io::{BufReader, BufWriter};
use hyper_util::rt::TokioIo;
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio_util::compat::TokioAsyncReadCompatExt;

use super::codec::{Frame, FrameError};
use super::intercept::{Answer, Intercept};
use super::stdio::{self, StdioOptions};
use super::Registry;
use crate::live::Live;

/// The path of the endpoint.
pub const LSP_PATH: &str = "/lsp";

/// Outgoing messages queued per session before the session waits for the socket.
const OUT_QUEUE: usize = 1024;

/// What an `/lsp` session needs: the shared state and registry, the sessions' options, and a bound on
/// the sessions open at once (`--max-connections`).
#[derive(Clone)]
pub struct LspEndpoint {
    live: Arc<Live>,
    registry: Arc<Registry>,
    options: StdioOptions,
    sessions: Arc<Semaphore>,
}

impl LspEndpoint {
    pub fn new(live: Arc<Live>, registry: Arc<Registry>, options: StdioOptions) -> LspEndpoint {
        let options = StdioOptions { remote: true, ..options };
        let sessions = Arc::new(Semaphore::new(options.limits.max_connections as usize));
        LspEndpoint { live, registry, options, sessions }
    }

    /// Sessions open now.
    pub fn open_sessions(&self) -> usize {
        self.options.limits.max_connections as usize - self.sessions.available_permits()
    }

    /// Answers an upgrade of `/lsp`: 101 and a session on the upgraded connection, 429 when
    /// `--max-connections` sessions are open, 400 when it is not a valid WebSocket handshake.
    fn upgrade<B: Send + 'static>(&self, request: HttpRequest<B>) -> HttpResponse {
        let Ok(permit) = self.sessions.clone().try_acquire_owned() else {
            return plain(
                http::StatusCode::TOO_MANY_REQUESTS,
                "dbl: too many sessions on this listener (--max-connections)",
            );
        };
        let mut handshake = soketto::handshake::http::Server::new();
        let response = match handshake.receive_request(&request) {
            Ok(response) => response,
            Err(e) => return plain(http::StatusCode::BAD_REQUEST, &format!("dbl: not a WebSocket handshake: {e}")),
        };
        let endpoint = self.clone();
        tokio::spawn(async move {
            let upgraded = match hyper::upgrade::on(request).await {
                Ok(upgraded) => upgraded,
                Err(e) => {
                    tracing::debug!("an {LSP_PATH} upgrade failed: {e}");
                    return;
                }
            };
            let stream = BufReader::new(BufWriter::new(TokioIo::new(upgraded).compat()));
            let mut builder = handshake.into_builder(stream);
            builder.set_max_message_size(endpoint.options.limits.max_message_bytes);
            let (sender, receiver) = builder.finish();
            endpoint.session(sender, receiver, permit).await;
        });
        response.map(|()| HttpBody::empty())
    }

    async fn session<T>(
        self,
        mut sender: soketto::Sender<T>,
        receiver: soketto::Receiver<T>,
        _permit: OwnedSemaphorePermit,
    ) where
        T: futures::AsyncRead + futures::AsyncWrite + Unpin + Send + 'static,
    {
        tracing::info!("{LSP_PATH} session opened");
        let (out_tx, mut out_rx) = mpsc::channel::<String>(OUT_QUEUE);
        let writer = tokio::spawn(async move {
            'send: while let Some(message) = out_rx.recv().await {
                if sender.send_text_owned(message).await.is_err() {
                    break;
                }
                // Whatever else is queued goes out before one flush.
                while let Ok(message) = out_rx.try_recv() {
                    if sender.send_text_owned(message).await.is_err() {
                        break 'send;
                    }
                }
                if sender.flush().await.is_err() {
                    break;
                }
            }
            let _ = sender.close().await;
        });
        let max = self.options.limits.max_message_bytes;
        let incoming = Box::pin(futures::stream::unfold(Some(receiver), move |receiver| async move {
            let mut receiver = receiver?;
            let mut message = Vec::new();
            let item = match receiver.receive_data(&mut message).await {
                Ok(_) => Ok(Frame::Message(BytesMut::from(&message[..]))),
                // The message was skipped: answered -32600, as an oversized frame on stdio.
                Err(soketto::connection::Error::MessageTooLarge { current, .. }) => {
                    Ok(Frame::Invalid(FrameError::TooLarge { length: current, max }))
                }
                Err(soketto::connection::Error::Closed) => return None,
                Err(e) => {
                    // Said once; the stream ends after it.
                    let error = std::io::Error::other(e.to_string());
                    return Some((Err(error), None));
                }
            };
            Some((item, Some(receiver)))
        }));
        let code = stdio::serve(incoming, out_tx, self.live.clone(), self.registry.clone(), self.options.clone()).await;
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), writer).await;
        tracing::info!("{LSP_PATH} session ended ({})", if code == 0 { "after shutdown" } else { "without shutdown" });
    }
}

fn plain(status: http::StatusCode, message: &str) -> HttpResponse {
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(HttpBody::from(format!("{message}\n")))
        .expect("a valid static response head")
}

/// Whether a request is an upgrade of the `/lsp` endpoint.
pub fn is_lsp_upgrade<B>(request: &HttpRequest<B>) -> bool {
    request.uri().path() == LSP_PATH && request.headers().contains_key(http::header::UPGRADE)
}

/// The listener's layer for `/lsp`: without an endpoint every request goes on.
#[derive(Clone, Default)]
pub struct LspUpgrades(pub Option<LspEndpoint>);

impl Intercept for LspUpgrades {
    fn intercept<B: Send + 'static>(&self, request: HttpRequest<B>) -> Result<Answer, HttpRequest<B>> {
        match &self.0 {
            Some(endpoint) if is_lsp_upgrade(&request) => Ok(future::ready(endpoint.upgrade(request)).boxed()),
            _ => Err(request),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_upgrades_of_the_lsp_path_are_sessions() {
        let request = |path: &str, upgrade: bool| {
            let mut builder = http::Request::builder().uri(path);
            if upgrade {
                builder = builder.header("upgrade", "websocket");
            }
            builder.body(()).unwrap()
        };
        assert!(is_lsp_upgrade(&request("/lsp", true)));
        assert!(is_lsp_upgrade(&request("/lsp?x=1", true)));
        assert!(!is_lsp_upgrade(&request("/lsp", false)));
        assert!(!is_lsp_upgrade(&request("/", true)));
        assert!(!is_lsp_upgrade(&request("/lsp/x", true)));
    }
}
