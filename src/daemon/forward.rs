//! The forwarder: `dbl serve --stdio --remote auto` connects the editor's stdio to the shared daemon
//! for its log, starting the daemon if there is none (exactly one, however many forwarders race: the
//! start happens under the place's lock), then forwards frames both ways until either side ends. If
//! the daemon goes away, the editor is told (`window/showMessage`) and the forwarder exits.

use std::io;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio_util::codec::{FramedRead, FramedWrite};

use super::place::Place;
use crate::log::source::SourceSpec;
use crate::protocol::codec::{Frame, LspCodec};

/// How long a forwarder waits for a daemon it started to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Connects to the daemon for `spec`, starting one with `daemon_args` if none answers.
pub fn connect_or_start(
    spec: &SourceSpec,
    log_arg: &str,
    daemon_args: &[String],
) -> anyhow::Result<std::os::unix::net::UnixStream> {
    let place = Place::for_source(spec)?;
    if let Ok(stream) = std::os::unix::net::UnixStream::connect(place.socket()) {
        return Ok(stream);
    }
    // One starter at a time: the others wait here, then find the daemon it started.
    let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(place.lock())?;
    lock.lock()?;
    if let Ok(stream) = std::os::unix::net::UnixStream::connect(place.socket()) {
        return Ok(stream);
    }
    place.clean();
    start_daemon(&place, log_arg, daemon_args)?;
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        match std::os::unix::net::UnixStream::connect(place.socket()) {
            Ok(stream) => return Ok(stream),
            Err(e) if Instant::now() > deadline => {
                let log = std::fs::read_to_string(place.log()).unwrap_or_default();
                anyhow::bail!("the daemon started for {} did not listen in time ({e}); its log:\n{log}", spec.display())
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Starts `dbl daemon` detached: its own process group, no stdin or stdout, stderr to the place's log.
fn start_daemon(place: &Place, log_arg: &str, daemon_args: &[String]) -> io::Result<()> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe()?;
    let log = std::fs::File::create(place.log())?;
    Command::new(exe)
        .args(["daemon", "--log", log_arg, "--socket"])
        .arg(place.socket())
        .args(daemon_args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()?;
    Ok(())
}

/// A `window/showMessage` frame body.
fn show_message(kind: u8, message: &str) -> String {
    serde_json::json!({"jsonrpc": "2.0", "method": "window/showMessage", "params": {"type": kind, "message": message}})
        .to_string()
}

/// Forwards the editor's frames to the daemon and the daemon's to the editor, until the session ends:
/// `exit` (0 if `shutdown` came first, as LSP asks; 1 otherwise), the editor's input closing (1), or
/// the daemon going away (1, after telling the editor).
pub async fn forward<R, W>(input: R, output: W, daemon: UnixStream, shown: &str) -> i32
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (from_daemon, to_daemon) = daemon.into_split();
    let (out_tx, mut out_rx) = tokio::sync::mpsc::channel::<String>(1024);
    let notices = out_tx.clone();
    let upstream = tokio::spawn(upstream(input, to_daemon, out_tx.clone()));
    let downstream = tokio::spawn(async move {
        // Whole frames only, so a daemon that dies mid-frame leaves no half frame on the editor's stdout.
        let mut frames = FramedRead::new(from_daemon, LspCodec::new(usize::MAX));
        while let Some(Ok(Frame::Message(bytes))) = frames.next().await {
            if out_tx.send(String::from_utf8_lossy(&bytes).into_owned()).await.is_err() {
                break;
            }
        }
    });
    let writer = tokio::spawn(async move {
        let mut out = FramedWrite::new(output, LspCodec::default());
        while let Some(body) = out_rx.recv().await {
            if out.send(body).await.is_err() {
                break;
            }
        }
    });
    let _ = downstream.await;
    // After `exit` the daemon closes the session at once: that is the normal end. Otherwise it went away.
    let code = match tokio::time::timeout(Duration::from_millis(200), upstream).await {
        Ok(Ok(ended)) => ended.code(),
        _ => {
            let message =
                format!("dbl: the shared daemon for {shown} stopped; restart the language server to reconnect");
            tracing::error!("{message}");
            let _ = notices.send(show_message(1, &message)).await;
            1
        }
    };
    drop(notices);
    // Let the writer flush what is queued, but not forever (the editor may not be reading).
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
    code
}

/// How the editor's side ended.
#[derive(Debug, Clone, Copy)]
enum Ended {
    Exit { after_shutdown: bool },
    InputClosed,
}

impl Ended {
    fn code(self) -> i32 {
        match self {
            Ended::Exit { after_shutdown: true } => 0,
            _ => 1,
        }
    }
}

/// Copies the editor's frames to the daemon, noting `shutdown` and `exit`.
async fn upstream<R: AsyncRead + Unpin>(
    input: R,
    to_daemon: tokio::net::unix::OwnedWriteHalf,
    to_editor: tokio::sync::mpsc::Sender<String>,
) -> Ended {
    let mut frames = FramedRead::new(input, LspCodec::new(usize::MAX));
    let mut daemon = FramedWrite::new(to_daemon, LspCodec::default());
    let mut shutdown = false;
    while let Some(frame) = frames.next().await {
        let body = match frame {
            Ok(Frame::Message(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
            Ok(Frame::Invalid(error)) => {
                let reply = crate::protocol::stdio::error_response(
                    &serde_json::Value::Null,
                    crate::protocol::codes::PARSE_ERROR,
                    &error.to_string(),
                    None,
                );
                let _ = to_editor.send(reply).await;
                continue;
            }
            Err(_) => break,
        };
        let method = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|m| m.get("method").and_then(|m| m.as_str()).map(str::to_string));
        shutdown |= method.as_deref() == Some("shutdown");
        if daemon.send(body).await.is_err() {
            break;
        }
        if method.as_deref() == Some("exit") {
            return Ended::Exit { after_shutdown: shutdown };
        }
    }
    let _ = daemon.get_mut().shutdown().await;
    Ended::InputClosed
}

/// Connects to a daemon at an explicit socket path (`--remote unix:PATH`).
pub fn connect(path: &Path) -> anyhow::Result<std::os::unix::net::UnixStream> {
    std::os::unix::net::UnixStream::connect(path)
        .map_err(|e| anyhow::anyhow!("cannot connect to {}: {e}", path.display()))
}
