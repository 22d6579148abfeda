//! The stdio transport: a language server speaking LSP base-protocol frames.
//!
//! - [`run`] is the whole transport: a reader turning frames into [`Session::handle_frame`] calls and
//!   a writer draining one channel of outgoing messages.
//! - [`session`]: the loop's logic, a function from incoming messages to outgoing ones (the LSP
//!   lifecycle, dispatch, cancellation), so tests drive it without pipes.
//! - [`client`]: sending to the client from any task, and server→client requests matched to their
//!   answers.
//! - [`background`]: what a session does unasked: `$/progress` while loading, a message on a bad
//!   record, code lens refreshes.

mod background;
pub mod client;
pub mod session;

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, FramedWrite};

use super::codec::{Frame, LspCodec};
use super::limits::Limits;
use super::Registry;
use crate::live::{Live, LiveOptions};
pub use client::{error_response, response, Client};
pub use session::Session;

/// Outgoing messages queued for the writer before senders wait.
const OUT_QUEUE: usize = 1024;

/// How a session starts the log when `initialize` (or the settings) name one.
#[derive(Debug, Clone, Default)]
pub struct StdioOptions {
    pub live: LiveOptions,
    pub limits: Limits,
    /// A client on another machine (the listener's `/lsp` endpoint): its workspace folders and `eventLog`
    /// name paths over there, not here, so the session searches no workspace folders (only open
    /// documents) and does not start a log. It also keeps a network client from reading this machine's
    /// files through them.
    pub remote: bool,
}

/// Serves one client on `input`/`output` until `exit` or end of input. Returns the process exit code:
/// 0 if `shutdown` came before the end, 1 otherwise (as LSP asks).
pub async fn run<R, W>(input: R, output: W, live: Arc<Live>, registry: Arc<Registry>, options: StdioOptions) -> i32
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (out_tx, mut out_rx) = mpsc::channel::<String>(OUT_QUEUE);
    let writer = tokio::spawn(async move {
        let mut framed = FramedWrite::new(output, LspCodec::default());
        while let Some(message) = out_rx.recv().await {
            if let Err(e) = framed.send(message).await {
                tracing::error!("cannot write to the client: {e}");
                break;
            }
        }
    });
    let reader = FramedRead::new(input, LspCodec::new(options.limits.max_message_bytes));
    let code = serve(reader, out_tx, live, registry, options).await;
    // Let the writer flush what is queued (responses to the last requests), but not forever.
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
    code
}

/// One session over any framing: `incoming` yields the client's frames, `out` takes the bodies of the
/// messages to send, in order. Returns when the client sends `exit` or its frames end; the session
/// has dropped its senders by then, so a writer draining `out`'s receiver ends once it has sent the rest.
/// [`run`] is this over LSP base-protocol frames; the listener's `/lsp` WebSocket endpoint
/// ([`super::ws_lsp`]) is this over WebSocket messages.
pub async fn serve<S>(
    mut incoming: S,
    out: mpsc::Sender<String>,
    live: Arc<Live>,
    registry: Arc<Registry>,
    options: StdioOptions,
) -> i32
where
    S: Stream<Item = std::io::Result<Frame>> + Unpin,
{
    let mut session = Session::new(live, registry, out, options);
    let code = loop {
        match incoming.next().await {
            Some(Ok(frame)) => {
                if let Some(code) = session.handle_frame(frame).await {
                    break code;
                }
            }
            Some(Err(e)) => {
                tracing::error!("cannot read from the client: {e}");
                break session.exit_code();
            }
            None => {
                tracing::info!("input closed");
                break session.exit_code();
            }
        }
    };
    session.close();
    code
}
