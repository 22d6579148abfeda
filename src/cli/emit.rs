//! `dbl emit`: record by hand the events a job wrapper does not — wants and taints, and their cancels.

use std::path::PathBuf;

use anyhow::Context;

use crate::events;
use crate::log::source::write::Appender;
use crate::log::{encode_record, now_ms, LogFormat};
use crate::proto::EventSource;

#[derive(Debug, clap::Args)]
pub struct EmitArgs {
    /// The build event log to append to: a file (created if missing; a new `.jsonl` file gets JSON
    /// lines), a SQLite database or a postgres:// URL (a table is created if there is none).
    /// May also come after the event name.
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    #[command(subcommand)]
    pub event: EmitEvent,
}

#[derive(Debug, clap::Subcommand)]
pub enum EmitEvent {
    /// Ask for partitions to be Live.
    WantCreate {
        /// Defaults to `W-<ms since epoch>`.
        #[arg(long, visible_alias = "id")]
        want_id: Option<String>,
        #[arg(long = "partition", visible_alias = "ref", required = true, num_args = 1..)]
        partitions: Vec<String>,
        #[command(flatten)]
        source: SourceArgs,
        #[arg(long)]
        comment: Option<String>,
        #[arg(long, default_value_t = 0)]
        data_timestamp: u64,
        #[arg(long, default_value_t = 0)]
        ttl_seconds: u64,
        #[arg(long, default_value_t = 0)]
        sla_seconds: u64,
    },
    /// Withdraw a want.
    WantCancel {
        #[arg(long, visible_alias = "id")]
        want_id: String,
        #[command(flatten)]
        source: SourceArgs,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Mark Live partitions as bad.
    TaintCreate {
        /// Defaults to `T-<ms since epoch>`.
        #[arg(long, visible_alias = "id")]
        taint_id: Option<String>,
        #[arg(long = "partition", visible_alias = "ref", required = true, num_args = 1..)]
        partitions: Vec<String>,
        #[command(flatten)]
        source: SourceArgs,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Withdraw a taint.
    TaintCancel {
        #[arg(long, visible_alias = "id")]
        taint_id: String,
        #[command(flatten)]
        source: SourceArgs,
        #[arg(long)]
        comment: Option<String>,
    },
}

/// Who caused the event: a user (default: `$USER`), or a job run for a derivative want.
#[derive(Debug, clap::Args)]
pub struct SourceArgs {
    /// The user who asked (manually triggered).
    #[arg(long, conflicts_with = "triggered_by")]
    pub user: Option<String>,
    /// The job run whose dep miss caused this (job triggered).
    #[arg(long, visible_alias = "job-run-id")]
    pub triggered_by: Option<String>,
}

impl SourceArgs {
    fn source(&self) -> Option<EventSource> {
        match (&self.user, &self.triggered_by) {
            (_, Some(job_run_id)) => events::job_triggered(job_run_id),
            (Some(user), None) => events::manual(user),
            (None, None) => events::manual(&std::env::var("USER").unwrap_or_else(|_| "unknown".into())),
        }
    }
}

pub fn emit(args: &EmitArgs) -> anyhow::Result<()> {
    use crate::proto::{
        data_build_event::Event, TaintCancelEventV1, TaintCreateEventV1, WantCancelEventV1, WantCreateEventV1,
    };
    let event = match &args.event {
        EmitEvent::WantCreate { want_id, partitions, source, comment, data_timestamp, ttl_seconds, sla_seconds } => {
            Event::WantCreateV1(WantCreateEventV1 {
                want_id: want_id.clone().unwrap_or_else(|| format!("W-{}", now_ms())),
                partitions: events::partition_refs(partitions),
                data_timestamp: *data_timestamp,
                ttl_seconds: *ttl_seconds,
                sla_seconds: *sla_seconds,
                source: source.source(),
                comment: comment.clone(),
            })
        }
        EmitEvent::WantCancel { want_id, source, comment } => Event::WantCancelV1(WantCancelEventV1 {
            want_id: want_id.clone(),
            source: source.source(),
            comment: comment.clone(),
        }),
        EmitEvent::TaintCreate { taint_id, partitions, source, comment } => Event::TaintCreateV1(TaintCreateEventV1 {
            taint_id: taint_id.clone().unwrap_or_else(|| format!("T-{}", now_ms())),
            partitions: events::partition_refs(partitions),
            source: source.source(),
            comment: comment.clone(),
        }),
        EmitEvent::TaintCancel { taint_id, source, comment } => Event::TaintCancelV1(TaintCancelEventV1 {
            taint_id: taint_id.clone(),
            source: source.source(),
            comment: comment.clone(),
        }),
    };
    // Checked here, not by clap: an argument that may follow the event name cannot be marked required.
    let log = args.log.as_deref().context("--log PATH is required: the build event log to append to")?;
    let stamped = Appender::open(&log.to_string_lossy())?
        .append(vec![event])
        .with_context(|| format!("cannot append to {}", log.display()))?;
    let mut line = Vec::new();
    encode_record(&stamped[0], LogFormat::JsonLines, &mut line);
    std::io::Write::write_all(&mut std::io::stdout(), &line)?;
    Ok(())
}
