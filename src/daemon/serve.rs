//! `dbl daemon`: follows one log and serves every connection on its socket as its own language-server
//! session (the stdio transport's protocol, unchanged). Exits after `idle_timeout` without sessions,
//! on SIGTERM/SIGINT, or when another daemon already serves the socket.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UnixListener;
use tokio::sync::mpsc;

use super::place::{DaemonInfo, Place, SessionInfo};
use crate::live::Live;
use crate::log::now_ms;
use crate::log::source::SourceSpec;
use crate::protocol::{self, stdio};

/// How a daemon runs.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// Exit after this long without a session.
    pub idle_timeout: Duration,
    pub stdio: stdio::StdioOptions,
    /// Also serve the WebSocket methods and the web pages here (`--listen`), with this policy.
    pub listen: Option<(std::net::SocketAddr, crate::protocol::ws::ListenerPolicy)>,
}

struct SessionEnded(u64);

/// Binds the socket, refusing if a live daemon answers there (a dead one's socket is removed).
fn bind(place: &Place) -> anyhow::Result<UnixListener> {
    let socket = place.socket();
    if socket.exists() {
        if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
            anyhow::bail!("a daemon already serves {}", socket.display());
        }
        tracing::info!("removing the stale socket {}", socket.display());
        place.clean();
    }
    let listener =
        UnixListener::bind(&socket).map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", socket.display()))?;
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Runs the daemon for `spec` at `place` until idle, signalled, or failed.
pub async fn run(spec: &SourceSpec, place: &Place, options: DaemonOptions) -> anyhow::Result<()> {
    let listener = bind(place)?;
    let live = Arc::new(Live::new());
    live.start_source(spec, options.stdio.live.clone());
    let registry = protocol::registry(live.clone());
    let web_listener = match options.listen.clone() {
        Some((addr, policy)) => {
            Some(crate::web::listen(addr, policy, &options.stdio, live.clone(), registry.clone()).await?)
        }
        None => None,
    };
    let registry = Arc::new(registry);
    let mut info = DaemonInfo {
        pid: std::process::id(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        log: spec.display(),
        socket: place.socket().display().to_string(),
        started_at: now_ms(),
        sessions: Vec::new(),
        lsp_sessions: 0,
    };
    place.write_info(&info)?;
    tracing::info!("daemon for {} on {}", info.log, info.socket);

    let (ended_tx, mut ended) = mpsc::unbounded_channel::<SessionEnded>();
    let mut next_id = 0u64;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    // `/lsp` sessions come and go inside the listener; their count is looked at this often.
    let mut lsp_check = tokio::time::interval(Duration::from_millis(500));
    lsp_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Counts from the last time a session came or went; the daemon exits when it runs out with none open.
    let idle_deadline = || tokio::time::Instant::now() + options.idle_timeout;
    let idle = tokio::time::sleep_until(idle_deadline());
    tokio::pin!(idle);
    let outcome = loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!("accept: {e}");
                        continue;
                    }
                };
                next_id += 1;
                let (id, ended_tx) = (next_id, ended_tx.clone());
                let (live, registry, stdio_options) = (live.clone(), registry.clone(), options.stdio.clone());
                // Listed before the session can answer anything, so a client that got an answer is listed.
                tracing::info!("session {id} connected");
                info.sessions.push(SessionInfo { id, connected_at: now_ms() });
                place.write_info(&info)?;
                idle.as_mut().reset(idle_deadline());
                tokio::spawn(async move {
                    let (reader, writer) = stream.into_split();
                    stdio::run(reader, writer, live, registry, stdio_options).await;
                    let _ = ended_tx.send(SessionEnded(id));
                });
            }
            Some(SessionEnded(id)) = ended.recv() => {
                tracing::info!("session {id} ended");
                info.sessions.retain(|s| s.id != id);
                place.write_info(&info)?;
                idle.as_mut().reset(idle_deadline());
            }
            _ = lsp_check.tick(), if web_listener.is_some() => {
                let open = web_listener.as_ref().map_or(0, |l| l.lsp_sessions());
                if open != info.lsp_sessions {
                    info.lsp_sessions = open;
                    place.write_info(&info)?;
                    idle.as_mut().reset(idle_deadline());
                }
            }
            _ = &mut idle, if info.sessions.is_empty() => {
                if web_listener.as_ref().is_some_and(|l| l.lsp_sessions() > 0) {
                    // Editors forwarded to the listener's /lsp endpoint are sessions too.
                    idle.as_mut().reset(idle_deadline());
                    continue;
                }
                tracing::info!("no session for {:?}: exiting", options.idle_timeout);
                break Ok(());
            }
            _ = term.recv() => break Ok(()),
            _ = tokio::signal::ctrl_c() => break Ok(()),
        }
    };
    place.clean();
    live.stop();
    outcome
}
