//! `dbl`: live lineage for databuild. Each subcommand is a small function in `dbl::cli`.

/// mimalloc: the state is millions of small allocations made on one thread and freed on another; glibc's
/// malloc spent a quarter of a cold load in malloc and free.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// No transparent huge pages: mimalloc asks for them, and faulting them in (compaction, zeroing 2 MiB
/// at a time) took two thirds of a snapshot load and a quarter of a 10M-event load here, for a
/// larger peak RSS. Applies to every mapping faulted in after it.
fn disable_transparent_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "dbl", version, about = "Live lineage for databuild, from its build event log")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load a log and print events applied, bytes consumed, format, last error and state digest.
    Status(dbl::cli::StatusArgs),
    /// Run a job and record it in the log: buffered, running with heartbeats, then its outcome and reads.
    Exec(dbl::cli::ExecArgs),
    /// Append a want or taint event (or a cancel of one) to the log by hand.
    Emit(dbl::cli::EmitArgs),
    /// The daemon: LSP/JSON-RPC on stdio (default), optionally WebSocket on --listen; follows the log live.
    Serve(dbl::cli::ServeArgs),
    /// The shared daemon for one log (started by `serve --remote auto`), or `daemon status|stop`.
    Daemon(dbl::cli::DaemonArgs),
    /// Follow a log in-process and print lineage changes as they land, one line each.
    Tail(dbl::cli::TailArgs),
    /// Write a realistic synthetic log: N events, byte-identical for a seed (see docs/SIMULATE.md).
    Simulate(dbl::cli::SimulateArgs),
    /// The work done to fulfill a want: its runs (retries collapsed), what they read, derivative wants.
    Want(dbl::cli::WantArgs),
    /// The partition ↔ job run graph around a partition instance, upstream and downstream.
    Lineage(dbl::cli::LineageArgs),
    /// One job run: its wants, reads and writes with UUIDs, status history, derivative wants.
    JobRun(dbl::cli::JobRunArgs),
    /// One partition instance (by UUID) or a ref's current instance and instance history.
    Partition(dbl::cli::PartitionArgs),
    /// A page of wants, with filters.
    Wants(dbl::cli::ListArgs),
    /// A page of job runs, with filters.
    JobRuns(dbl::cli::ListArgs),
    /// A page of partition instances, with filters.
    Partitions(dbl::cli::ListArgs),
    /// Write the embedded example log and show the three views of it.
    Demo(dbl::cli::DemoArgs),
}

fn main() -> std::process::ExitCode {
    disable_transparent_huge_pages();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(dbl::cli::color::enabled(&std::io::stderr()))
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("DBL_LOG").unwrap_or_else(|_| "info".into()))
        .init();
    let result = match Cli::parse().command {
        Command::Status(args) => dbl::cli::status(&args),
        Command::Exec(args) => return report(dbl::cli::exec(&args)),
        Command::Emit(args) => dbl::cli::emit(&args),
        Command::Serve(args) => return report(dbl::cli::serve(&args)),
        Command::Tail(args) => dbl::cli::tail(&args),
        Command::Daemon(args) => dbl::cli::daemon(&args),
        Command::Simulate(args) => dbl::cli::simulate(&args),
        Command::Want(args) => dbl::cli::want(&args),
        Command::Lineage(args) => dbl::cli::lineage(&args),
        Command::JobRun(args) => dbl::cli::job_run(&args),
        Command::Partition(args) => dbl::cli::partition(&args),
        Command::Wants(args) => dbl::cli::list_wants(&args),
        Command::JobRuns(args) => dbl::cli::list_job_runs(&args),
        Command::Partitions(args) => dbl::cli::list_partitions(&args),
        Command::Demo(args) => dbl::cli::demo(&args),
    };
    report(result.map(|()| std::process::ExitCode::SUCCESS))
}

fn report(result: anyhow::Result<std::process::ExitCode>) -> std::process::ExitCode {
    result.unwrap_or_else(|error| {
        eprintln!("dbl: {error:#}");
        std::process::ExitCode::FAILURE
    })
}
