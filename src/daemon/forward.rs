//! The forwarder: `dbl serve --stdio --remote auto` connects the editor's stdio to the shared daemon
//! for its log, starting the daemon if there is none (exactly one, however many forwarders race: the
//! start happens under the place's lock), then forwards frames both ways until either side ends. If
//! the daemon goes away, the editor is told (`window/showMessage`) and the forwarder exits.
//!
//! The daemon is reached over its unix socket (LSP base-protocol frames, as on stdio) or, for a team
//! daemon (`--remote ws://HOST:PORT`), over its listener's `/lsp` WebSocket endpoint (one message per
//! frame body, `Authorization: Bearer` from `--token-file`): either way a [`Link`] of message bodies.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::BoxStream;
use futures::{Sink, SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::UnixStream;
use tokio_util::codec::{FramedRead, FramedWrite};

use super::place::Place;
use crate::log::source::SourceSpec;
use crate::protocol::codec::{Frame, LspCodec};
use crate::protocol::ws_lsp::LSP_PATH;

/// The daemon's end of a forwarded session: the bodies of the messages it sends, and a sink for the
/// bodies of the editor's. The stream ends when the daemon closes the session or goes away; closing
/// the sink tells the daemon the editor's input ended.
pub struct Link {
    pub from_daemon: BoxStream<'static, String>,
    pub to_daemon: Pin<Box<dyn Sink<String, Error = io::Error> + Send>>,
}

impl Link {
    /// A daemon's unix socket: LSP base-protocol frames both ways.
    pub fn unix(stream: UnixStream) -> Link {
        let (reader, writer) = stream.into_split();
        // Whole frames only, so a daemon that dies mid-frame leaves no half frame on the editor's stdout.
        let from_daemon = FramedRead::new(reader, LspCodec::new(usize::MAX))
            .take_while(|frame| futures::future::ready(matches!(frame, Ok(Frame::Message(_)))))
            .filter_map(|frame| {
                futures::future::ready(match frame {
                    Ok(Frame::Message(bytes)) => Some(String::from_utf8_lossy(&bytes).into_owned()),
                    _ => None,
                })
            })
            .boxed();
        Link { from_daemon, to_daemon: Box::pin(FramedWrite::new(writer, LspCodec::default())) }
    }

    /// A team daemon's `/lsp` WebSocket endpoint at `url` (`ws://HOST:PORT`, optionally with a path),
    /// sending `token` as `Authorization: Bearer`. A refused handshake is an error that says why.
    /// The link pings the daemon every [`KEEPALIVE`] (so proxies and NAT keep an idle editor's session)
    /// and ends when two pass without a word from it: a daemon on a machine that vanished is noticed.
    pub async fn websocket(url: &str, token: Option<&str>) -> anyhow::Result<Link> {
        Link::websocket_with_keepalive(url, token, KEEPALIVE).await
    }

    async fn websocket_with_keepalive(url: &str, token: Option<&str>, keepalive: Duration) -> anyhow::Result<Link> {
        use tokio_util::compat::TokioAsyncReadCompatExt;
        let (authority, path) = parse_ws_url(url)?;
        let address = if authority.contains(':') && !authority.ends_with(']') {
            authority.clone()
        } else {
            format!("{authority}:80")
        };
        let tcp = tokio::net::TcpStream::connect(&address)
            .await
            .map_err(|e| anyhow::anyhow!("cannot connect to the daemon at {url}: {e}"))?;
        tcp.set_nodelay(true)?;
        let socket = futures::io::BufReader::new(futures::io::BufWriter::new(tcp.compat()));
        let mut client = soketto::handshake::Client::new(socket, &authority, &path);
        let bearer = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<soketto::handshake::client::Header> = bearer
            .iter()
            .map(|value| soketto::handshake::client::Header { name: "Authorization", value: value.as_bytes() })
            .collect();
        client.set_headers(&headers);
        let response =
            client.handshake().await.map_err(|e| anyhow::anyhow!("the daemon at {url}: handshake failed: {e}"))?;
        match response {
            soketto::handshake::ServerResponse::Accepted { .. } => {}
            soketto::handshake::ServerResponse::Redirect { status_code, location } => {
                anyhow::bail!("the daemon at {url} redirected ({status_code}) to {location}; give that address")
            }
            soketto::handshake::ServerResponse::Rejected { status_code } => {
                anyhow::bail!("the daemon at {url} refused the session: {}", refusal(status_code, token.is_some()))
            }
        }
        let mut builder = client.into_builder();
        builder.set_max_message_size(usize::MAX >> 1);
        let (mut sender, mut receiver) = builder.finish();
        let (to_daemon, mut outgoing) = futures::channel::mpsc::channel::<String>(64);
        let (incoming_tx, from_daemon) = futures::channel::mpsc::channel::<String>(64);
        // When the daemon was last heard from (a message or a pong), and how the sender says it is gone.
        let heard = Arc::new(Mutex::new(tokio::time::Instant::now()));
        let (silent_tx, silent) = tokio::sync::oneshot::channel::<()>();
        let last_heard = heard.clone();
        let shown = url.to_string();
        tokio::spawn(async move {
            let mut pings = tokio::time::interval_at(tokio::time::Instant::now() + keepalive, keepalive);
            loop {
                tokio::select! {
                    body = outgoing.next() => {
                        let Some(body) = body else { break };
                        if sender.send_text_owned(body).await.is_err() || sender.flush().await.is_err() {
                            return;
                        }
                    }
                    _ = pings.tick() => {
                        let quiet = last_heard.lock().unwrap_or_else(|e| e.into_inner()).elapsed();
                        if quiet > 2 * keepalive {
                            tracing::warn!("the daemon at {shown} has not answered for {quiet:?}: ending the session");
                            let _ = silent_tx.send(());
                            return;
                        }
                        let ping = soketto::data::ByteSlice125::try_from(&b"dbl"[..]).expect("short");
                        if sender.send_ping(ping).await.is_err() || sender.flush().await.is_err() {
                            return;
                        }
                    }
                }
            }
            let _ = sender.close().await;
        });
        tokio::spawn(async move {
            let mut incoming_tx = incoming_tx;
            let receiving = async {
                loop {
                    let mut message = Vec::new();
                    let received = receiver.receive(&mut message).await;
                    *heard.lock().unwrap_or_else(|e| e.into_inner()) = tokio::time::Instant::now();
                    match received {
                        Ok(soketto::Incoming::Data(_)) => {
                            let body = String::from_utf8_lossy(&message).into_owned();
                            if incoming_tx.send(body).await.is_err() {
                                return;
                            }
                        }
                        Ok(soketto::Incoming::Pong(_)) => {}
                        Ok(soketto::Incoming::Closed(_)) => return,
                        Err(e) => {
                            tracing::debug!("the daemon's WebSocket ended: {e}");
                            return;
                        }
                    }
                }
            };
            // Ends (and so ends the editor's session) when the daemon closes it or falls silent.
            tokio::select! {
                () = receiving => {}
                _ = silent => {}
            }
        });
        let to_daemon = to_daemon.sink_map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the daemon is gone"));
        Ok(Link { from_daemon: from_daemon.boxed(), to_daemon: Box::pin(to_daemon) })
    }
}

/// How often a WebSocket link pings its daemon; two without an answer end the session.
pub const KEEPALIVE: Duration = Duration::from_secs(30);

/// `ws://HOST[:PORT][/PATH]` → (`HOST[:PORT]`, `PATH`); the path defaults to the `/lsp` endpoint.
fn parse_ws_url(url: &str) -> anyhow::Result<(String, String)> {
    if url.starts_with("wss://") {
        anyhow::bail!(
            "--remote {url}: wss:// is not supported (dbl's listener has no TLS); reach the daemon through an SSH \
             tunnel or a TLS proxy to its loopback port, and give ws://127.0.0.1:PORT"
        );
    }
    let rest = url.strip_prefix("ws://").ok_or_else(|| anyhow::anyhow!("--remote {url}: expected ws://HOST:PORT"))?;
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.contains(['@', ' ']) {
        anyhow::bail!("--remote {url}: expected ws://HOST:PORT");
    }
    let path = if path.is_empty() || path == "/" { LSP_PATH } else { path };
    Ok((authority.to_string(), path.to_string()))
}

/// Why a listener refused an upgrade, from its status code (`src/protocol/ws.rs` says when each is sent).
fn refusal(status: u16, sent_token: bool) -> String {
    match status {
        401 if sent_token => "401 Unauthorized: the token from --token-file is not the daemon's".into(),
        401 => "401 Unauthorized: the daemon requires a token; give it with --token-file FILE".into(),
        403 => "403 Forbidden: the daemon refuses this Host or Origin (a loopback listener answers only \
                127.0.0.1, localhost or [::1])"
            .into(),
        429 => "429 Too Many Requests: the daemon has --max-connections sessions open".into(),
        404 | 405 => format!("{status}: no {LSP_PATH} endpoint there (is it a dbl daemon's --listen address?)"),
        other => format!("HTTP {other}"),
    }
}

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
pub async fn forward<R, W>(input: R, output: W, daemon: Link, shown: &str) -> i32
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let Link { mut from_daemon, to_daemon } = daemon;
    let (out_tx, mut out_rx) = tokio::sync::mpsc::channel::<String>(1024);
    let notices = out_tx.clone();
    let upstream = tokio::spawn(upstream(input, to_daemon, out_tx.clone()));
    let downstream = tokio::spawn(async move {
        while let Some(body) = from_daemon.next().await {
            if out_tx.send(body).await.is_err() {
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
    mut daemon: Pin<Box<dyn Sink<String, Error = io::Error> + Send>>,
    to_editor: tokio::sync::mpsc::Sender<String>,
) -> Ended {
    let mut frames = FramedRead::new(input, LspCodec::new(usize::MAX));
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
    let _ = daemon.close().await;
    Ended::InputClosed
}

/// Connects to a daemon at an explicit socket path (`--remote unix:PATH`).
pub fn connect(path: &Path) -> anyhow::Result<std::os::unix::net::UnixStream> {
    std::os::unix::net::UnixStream::connect(path)
        .map_err(|e| anyhow::anyhow!("cannot connect to {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A WebSocket server on a loopback port that accepts one session, then answers pings (`answers`)
    /// or never reads again, as a daemon on a machine that vanished would.
    async fn one_session_server(answers: bool) -> String {
        use tokio_util::compat::TokioAsyncReadCompatExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut server = soketto::handshake::Server::new(tcp.compat());
            let key = server.receive_request().await.unwrap().key();
            let accept = soketto::handshake::server::Response::Accept { key, protocol: None };
            server.send_response(&accept).await.unwrap();
            let (_sender, mut receiver) = server.into_builder().finish();
            if answers {
                // Reading answers pings; nothing else comes.
                let mut message = Vec::new();
                let _ = receiver.receive_data(&mut message).await;
            } else {
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
        });
        url
    }

    #[tokio::test]
    async fn a_websocket_link_ends_when_its_daemon_falls_silent_and_lives_while_it_answers() {
        let keepalive = Duration::from_millis(100);
        let silent = Link::websocket_with_keepalive(&one_session_server(false).await, None, keepalive).await.unwrap();
        let ended = tokio::time::timeout(Duration::from_secs(5), silent.from_daemon.collect::<Vec<_>>()).await;
        assert_eq!(ended.map(|messages| messages.len()), Ok(0), "the silent daemon's link ends");

        let mut alive = Link::websocket_with_keepalive(&one_session_server(true).await, None, keepalive).await.unwrap();
        let next = tokio::time::timeout(keepalive * 8, alive.from_daemon.next()).await;
        assert!(next.is_err(), "a daemon that answers pings keeps the link open");
    }

    #[test]
    fn ws_urls_default_to_the_lsp_endpoint() {
        let parsed = |url: &str| parse_ws_url(url).map_err(|e| e.to_string());
        assert_eq!(parsed("ws://127.0.0.1:7420").unwrap(), ("127.0.0.1:7420".into(), "/lsp".into()));
        assert_eq!(parsed("ws://localhost:7420/").unwrap(), ("localhost:7420".into(), "/lsp".into()));
        assert_eq!(parsed("ws://[::1]:7420/lsp").unwrap(), ("[::1]:7420".into(), "/lsp".into()));
        assert_eq!(parsed("ws://team.example/dbl/lsp").unwrap(), ("team.example".into(), "/dbl/lsp".into()));
        assert!(parsed("wss://team.example").unwrap_err().contains("no TLS"));
        assert!(parsed("http://team.example").unwrap_err().contains("expected ws://HOST:PORT"));
        assert!(parsed("ws://").is_err());
    }

    #[test]
    fn refusals_say_what_to_do() {
        assert!(refusal(401, false).contains("--token-file"));
        assert!(refusal(401, true).contains("not the daemon's"));
        assert!(refusal(403, false).contains("Host or Origin"));
    }
}
