//! `dbl daemon`: the shared daemon for one log (see `crate::daemon`), and `dbl daemon status|stop`.

use std::path::PathBuf;
use std::time::Duration;

use crate::daemon::place::{self, Place};
use crate::daemon::serve::{run, DaemonOptions};
use crate::live::LiveOptions;
use crate::log::source::SourceSpec;
use crate::protocol::stdio::StdioOptions;
use crate::protocol::ws::ListenerPolicy;

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DaemonArgs {
    #[command(subcommand)]
    pub command: Option<DaemonCommand>,
    /// The log to serve: a file, a SQLite database or a postgres:// URL.
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// The socket to listen on (default: this log's place under $XDG_RUNTIME_DIR/dbl/).
    #[arg(long)]
    pub socket: Option<PathBuf>,
    /// Exit after this many seconds without a session (default 3 h).
    #[arg(long, default_value_t = 3 * 3600)]
    pub idle_timeout: u64,
    /// Also serve the WebSocket methods, the web pages and language-server sessions (`/lsp`, for `dbl serve
    /// --remote ws://…`) on this address (as `dbl serve --listen`; port 0 picks one, logged as `listening on
    /// ws://…`). Loopback only unless `--allow-remote`.
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Allow `--listen` on a non-loopback address (a team daemon). Requires `--token-file`.
    #[arg(long, requires = "token_file")]
    pub allow_remote: bool,
    /// Require `Authorization: Bearer TOKEN` on every request to `--listen` (else 401), TOKEN being this
    /// file's contents, trimmed. The file must not be readable or writable by group or others (chmod 600).
    #[arg(long, value_name = "FILE", requires = "listen")]
    pub token_file: Option<PathBuf>,
    /// Poll the log this often (ms), whether or not notifications arrive.
    #[arg(long, default_value_t = 250)]
    pub poll_ms: u64,
    /// Save a snapshot of the state once the log has been quiet this long (ms), and on shutdown; a
    /// restarted daemon starts from it (under $XDG_CACHE_HOME/dbl/).
    #[arg(long, default_value_t = 10_000)]
    pub snapshot_quiet_ms: u64,
    /// Neither load nor save snapshots.
    #[arg(long)]
    pub no_snapshot: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum DaemonCommand {
    /// List the running daemons of this user and their sessions.
    Status {
        /// `text` for people, `json` for tools.
        #[arg(long, default_value = "text", value_parser = ["text", "json"])]
        format: String,
    },
    /// Stop the daemon serving a log.
    Stop {
        #[arg(long)]
        log: PathBuf,
    },
}

pub fn daemon(args: &DaemonArgs) -> anyhow::Result<()> {
    match &args.command {
        Some(DaemonCommand::Status { format }) => return status(format == "json"),
        Some(DaemonCommand::Stop { log }) => return stop(log),
        None => {}
    }
    let log = args.log.as_ref().ok_or_else(|| anyhow::anyhow!("--log is required: the log the daemon serves"))?;
    let spec = SourceSpec::parse(&log.to_string_lossy())?.resolved(std::env::current_dir().ok().as_deref());
    let place = match &args.socket {
        Some(socket) => Place {
            dir: socket.parent().map(PathBuf::from).unwrap_or_default(),
            key: socket.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
        },
        None => Place::for_source(&spec)?,
    };
    let options = DaemonOptions {
        idle_timeout: Duration::from_secs(args.idle_timeout),
        stdio: StdioOptions {
            live: LiveOptions {
                poll: Duration::from_millis(args.poll_ms.max(1)),
                snapshot: match args.no_snapshot {
                    true => None,
                    false => Some(place::snapshot_plan(&spec, Duration::from_millis(args.snapshot_quiet_ms))?),
                },
                ..LiveOptions::default()
            },
            ..StdioOptions::default()
        },
        listen: match args.listen {
            Some(addr) => Some((addr, ListenerPolicy::from_flags(args.allow_remote, args.token_file.as_deref())?)),
            None => None,
        },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("dbl-daemon").build()?;
    let outcome = runtime.block_on(run(&spec, &place, options));
    runtime.shutdown_background();
    outcome
}

fn status(json: bool) -> anyhow::Result<()> {
    let mut listed = Vec::new();
    for (place, info) in place::all()? {
        let answers = std::os::unix::net::UnixStream::connect(place.socket()).is_ok();
        match (answers, info) {
            (true, Some(info)) if place::alive(info.pid) => listed.push(info),
            // A daemon that has bound its socket but not yet written its info: not listed, never touched.
            (true, _) => {}
            // A dead daemon's remains: cleaned up here, as a forwarder would.
            (false, _) => place.clean(),
        }
    }
    if json {
        return super::print_out(&format!("{}\n", serde_json::to_string_pretty(&listed)?));
    }
    let mut text = String::new();
    if listed.is_empty() {
        text.push_str("no daemon running\n");
    }
    for info in listed {
        let sessions: Vec<String> = info.sessions.iter().map(|s| s.id.to_string()).collect();
        let lsp = match info.lsp_sessions {
            0 => String::new(),
            n => format!(" + {n} on /lsp"),
        };
        text += &format!(
            "pid {}  dbl {}  {}  {} session{} [{}]{lsp}  socket {}\n",
            info.pid,
            info.version,
            info.log,
            sessions.len(),
            if sessions.len() == 1 { "" } else { "s" },
            sessions.join(", "),
            info.socket
        );
    }
    super::print_out(&text)
}

/// How long `dbl daemon stop` waits for the daemon to exit.
const STOP_WAIT: Duration = Duration::from_secs(60);

fn stop(log: &std::path::Path) -> anyhow::Result<()> {
    let spec = SourceSpec::parse(&log.to_string_lossy())?;
    let place = Place::for_source(&spec)?;
    let info = place.read_info().filter(|i| place::alive(i.pid));
    let Some(info) = info else { anyhow::bail!("no daemon is serving {}", spec.display()) };
    let status = std::process::Command::new("kill").args(["-TERM", &info.pid.to_string()]).status()?;
    anyhow::ensure!(status.success(), "cannot signal daemon {}", info.pid);
    // It saves its snapshot before it exits: seconds for a large log.
    let deadline = std::time::Instant::now() + STOP_WAIT;
    while std::time::Instant::now() < deadline {
        if !place::alive(info.pid) {
            println!("stopped the daemon for {} (pid {})", info.log, info.pid);
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    anyhow::bail!("daemon {} did not stop within {} s", info.pid, STOP_WAIT.as_secs())
}
