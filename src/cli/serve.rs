//! `dbl serve`: the daemon. A language server on stdio (the default) and/or a WebSocket server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::daemon;
use crate::live::{Live, LiveOptions};
use crate::log::source::SourceSpec;
use crate::protocol::limits::Limits;
use crate::protocol::{self, stdio, ws};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The build event log to follow: a file (binary BEL or JSON lines), a SQLite database, or a
    /// postgres:// URL (see docs/SOURCES.md). It need not exist yet. Without it,
    /// an LSP client may name one in `initializationOptions.eventLog`.
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Serve LSP/JSON-RPC on stdin/stdout. The default; with `--listen`, serve both.
    #[arg(long)]
    pub stdio: bool,
    /// Also serve the same methods over WebSocket on this address (loopback only, e.g. 127.0.0.1:7420;
    /// port 0 picks a free one, printed on stderr). Without `--stdio`, serves WebSocket only. Requests
    /// whose `Origin` is not the listener's own are refused (403), and so, on loopback, are those whose
    /// `Host` is not a loopback name. See docs/SECURITY.md.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Allow `--listen` on a non-loopback address. Requires `--token-file`; there is no TLS (put a TLS
    /// proxy in front for use across a network).
    #[arg(long, requires = "token_file")]
    pub allow_remote: bool,
    /// With `--listen`: require `Authorization: Bearer TOKEN` on every WebSocket/HTTP request (else 401),
    /// TOKEN being this file's contents, trimmed. With `--remote ws://…`: send that header to the daemon.
    /// The file must not be readable or writable by group or others (chmod 600).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Poll the log this often (ms), whether or not filesystem notifications arrive.
    #[arg(long, default_value_t = 250)]
    pub poll_ms: u64,
    /// Do not use filesystem notifications: rely on the poll timer alone.
    #[arg(long)]
    pub no_notify: bool,
    /// Largest request accepted, in bytes: an LSP frame body on stdio, a message on WebSocket.
    #[arg(long, alias = "max-frame-bytes", default_value_t = Limits::default().max_message_bytes)]
    pub max_message_bytes: usize,
    /// WebSocket connections served at once; more get HTTP 429.
    #[arg(long, default_value_t = Limits::default().max_connections)]
    pub max_connections: u32,
    /// Subscriptions alive at once on one connection or stdio session.
    #[arg(long, default_value_t = Limits::default().max_subscriptions)]
    pub max_subscriptions: u32,
    /// Text of open documents one editor session may hold, in bytes.
    #[arg(long, default_value_t = Limits::default().max_open_document_bytes)]
    pub max_open_document_bytes: usize,
    /// Forward stdio to a shared daemon instead of serving in this process: `auto` finds (or starts) the
    /// daemon for `--log` on this machine; `unix:PATH` connects to the one at PATH; `ws://HOST:PORT` to a
    /// team daemon's listener (`dbl daemon --listen`; its `/lsp` endpoint), with `--token-file`.
    #[arg(long, value_name = "auto|unix:PATH|ws://HOST:PORT", conflicts_with = "listen")]
    pub remote: Option<String>,
    /// Print every method name the server answers or sends, one per line, and exit.
    #[arg(long)]
    pub list_methods: bool,
}

pub fn serve(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    if args.list_methods {
        let names: String = protocol::lsp::all_method_names().into_iter().map(|name| format!("{name}\n")).collect();
        super::print_out(&names)?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.poll_ms == 0 {
        anyhow::bail!("--poll-ms must be at least 1 (got 0)");
    }
    if let Some(remote) = &args.remote {
        return forward(args, remote);
    }
    if args.token_file.is_some() && args.listen.is_none() {
        anyhow::bail!(
            "--token-file needs --listen (the token clients must send) or --remote ws://… (the token to send)"
        );
    }
    let options =
        LiveOptions { poll: Duration::from_millis(args.poll_ms), notify: !args.no_notify, ..Default::default() };
    let limits = Limits {
        max_connections: args.max_connections,
        max_subscriptions: args.max_subscriptions,
        max_message_bytes: args.max_message_bytes,
        max_open_document_bytes: args.max_open_document_bytes,
        ..Limits::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("dbl-serve").build()?;
    let code = runtime.block_on(async {
        let live = Arc::new(Live::new());
        if let Some(log) = &args.log {
            let source = SourceSpec::parse(&log.to_string_lossy())?.resolved(std::env::current_dir().ok().as_deref());
            live.start_source(&source, options.clone());
        }
        let registry = protocol::registry(live.clone());
        let stdio_options = stdio::StdioOptions { live: options, limits, remote: false };
        let _ws = match args.listen {
            Some(addr) => {
                let policy = ws::ListenerPolicy::from_flags(args.allow_remote, args.token_file.as_deref())?;
                Some(crate::web::listen(addr, policy, &stdio_options, live.clone(), registry.clone()).await?)
            }
            None => None,
        };
        if args.listen.is_some() && !args.stdio {
            wait_for_termination().await;
            return anyhow::Ok(0);
        }
        let code =
            stdio::run(tokio::io::stdin(), tokio::io::stdout(), live.clone(), Arc::new(registry), stdio_options).await;
        live.stop();
        anyhow::Ok(code)
    })?;
    // A pending read of stdin must not hold the process: do not wait for blocking threads.
    runtime.shutdown_background();
    Ok(ExitCode::from(code as u8))
}

/// `--remote`: forwards stdio to the shared daemon for the log, or to the daemon named.
fn forward(args: &ServeArgs, remote: &str) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let code = runtime.block_on(async {
        let (link, shown) = connect(args, remote).await?;
        anyhow::Ok(daemon::forward::forward(tokio::io::stdin(), tokio::io::stdout(), link, &shown).await)
    })?;
    runtime.shutdown_background();
    Ok(ExitCode::from(code as u8))
}

/// The daemon `--remote` names, and how messages show it.
async fn connect(args: &ServeArgs, remote: &str) -> anyhow::Result<(daemon::forward::Link, String)> {
    if remote.starts_with("ws://") || remote.starts_with("wss://") {
        let token = args.token_file.as_deref().map(ws::read_token_file).transpose()?;
        let link = daemon::forward::Link::websocket(remote, token.as_deref()).await?;
        return Ok((link, remote.to_string()));
    }
    if args.token_file.is_some() {
        anyhow::bail!("--token-file goes with --remote ws://HOST:PORT (a unix socket needs no token)");
    }
    let stream = match remote {
        "auto" => {
            let log = args
                .log
                .as_ref()
                .ok_or_else(|| anyhow::anyhow!("--remote auto needs --log: the log whose daemon to use"))?;
            let spec = SourceSpec::parse(&log.to_string_lossy())?.resolved(std::env::current_dir().ok().as_deref());
            // The daemon runs elsewhere: give it an absolute path (a URL as it is).
            let log_arg = match &spec {
                SourceSpec::Postgres { .. } => log.to_string_lossy().into_owned(),
                _ => std::path::absolute(log).unwrap_or_else(|_| log.clone()).to_string_lossy().into_owned(),
            };
            let daemon_args = vec!["--poll-ms".to_string(), args.poll_ms.to_string()];
            let stream = daemon::forward::connect_or_start(&spec, &log_arg, &daemon_args)?;
            (stream, spec.display())
        }
        other => match other.strip_prefix("unix:") {
            Some(path) => (daemon::forward::connect(std::path::Path::new(path))?, path.to_string()),
            None => anyhow::bail!("--remote {other:?}: expected auto, unix:PATH or ws://HOST:PORT"),
        },
    };
    let (stream, shown) = stream;
    stream.set_nonblocking(true)?;
    Ok((daemon::forward::Link::unix(tokio::net::UnixStream::from_std(stream)?), shown))
}

async fn wait_for_termination() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
    tracing::info!("terminating");
}
