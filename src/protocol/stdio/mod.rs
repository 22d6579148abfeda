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

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, FramedWrite};

use super::codec::LspCodec;
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
    let mut reader = FramedRead::new(input, LspCodec::new(options.limits.max_message_bytes));
    let mut session = Session::new(live, registry, out_tx, options);
    let code = loop {
        match reader.next().await {
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
    drop(session);
    // Let the writer flush what is queued (responses to the last requests), but not forever.
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
    code
}
