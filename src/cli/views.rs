//! The one-shot views: `dbl want`, `dbl lineage`, `dbl job-run`, `dbl partition`, the lists
//! `dbl wants | job-runs | partitions`, and `dbl demo`. Each loads the log, asks [`crate::views`]
//! and prints with [`crate::render`]; `--format json` prints exactly the JSON-RPC result.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::load_source;
use crate::log::{EventWriter, LogFormat};
use crate::render::query::{answer, Query};
use crate::render::{Format, Render};
use crate::state::BuildState;
use crate::views::{self, Direction};

/// What every one-shot view takes.
#[derive(Debug, Clone, clap::Args)]
pub struct ViewOptions {
    /// The build event log (binary BEL or JSON lines).
    #[arg(long)]
    pub log: PathBuf,
    /// `tree` for people (coloured on a terminal unless NO_COLOR is set); `json` is the RPC result;
    /// `dot` (Graphviz) and `mermaid` draw the view's graph.
    #[arg(long, value_enum, default_value = "tree")]
    pub format: Format,
    /// Load the log in this process even if a shared daemon serves it.
    #[arg(long)]
    pub no_daemon: bool,
}

#[derive(Debug, clap::Args)]
pub struct WantArgs {
    /// The want id.
    pub id: String,
    /// Show the want's detail (`databuild/want`) instead of its fulfillment tree.
    #[arg(long)]
    pub detail: bool,
    /// List every attempt of a retry chain instead of one collapsed node.
    #[arg(long)]
    pub expand_retries: bool,
    #[command(flatten)]
    pub view: ViewOptions,
}

#[derive(Debug, clap::Args)]
pub struct LineageArgs {
    /// A partition ref (its current instance) or an instance UUID (exactly that instance).
    #[arg(value_name = "REF|UUID")]
    pub target: String,
    /// Partition hops upstream (overrides --depth).
    #[arg(long)]
    pub up: Option<u32>,
    /// Partition hops downstream (overrides --depth).
    #[arg(long)]
    pub down: Option<u32>,
    /// Partition hops in each direction.
    #[arg(long, default_value_t = views::DEFAULT_DEPTH)]
    pub depth: u32,
    /// Most neighbours listed per instance and direction; the rest are counted as "+N more".
    #[arg(long, default_value_t = views::DEFAULT_FANOUT_LIMIT)]
    pub fanout: u32,
    /// `upstream`, `downstream` or `both`.
    #[arg(long, default_value = "both", value_parser = ["upstream", "downstream", "both"])]
    pub direction: String,
    /// Continue a truncated list: the cursor a "+N more" line shows (use with the UUID it names).
    #[arg(long)]
    pub cursor: Option<String>,
    #[command(flatten)]
    pub view: ViewOptions,
}

#[derive(Debug, clap::Args)]
pub struct JobRunArgs {
    /// The job run id.
    pub id: String,
    #[command(flatten)]
    pub view: ViewOptions,
}

#[derive(Debug, clap::Args)]
pub struct PartitionArgs {
    /// A partition ref (its current instance and instance history) or an instance UUID.
    #[arg(value_name = "REF|UUID")]
    pub target: String,
    #[command(flatten)]
    pub view: ViewOptions,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Want status, job run status or partition state (case-insensitive).
    #[arg(long)]
    pub status: Option<String>,
    #[arg(long)]
    pub job_label: Option<String>,
    #[arg(long)]
    pub ref_prefix: Option<String>,
    /// Derivative wants of, runs scheduled for, or instances built for this want.
    #[arg(long = "want", value_name = "WANT_ID")]
    pub want_id: Option<String>,
    /// Page size, 1..=1000.
    #[arg(long, default_value_t = views::DEFAULT_LIMIT)]
    pub limit: u32,
    /// The cursor the previous page printed.
    #[arg(long)]
    pub cursor: Option<String>,
    #[command(flatten)]
    pub view: ViewOptions,
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Where to write the example log (default: `dbl-demo/demo.bel` in the temp directory).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn use_color() -> bool {
    super::color::enabled(&std::io::stdout())
}

pub fn want(args: &WantArgs) -> anyhow::Result<()> {
    let query = if args.detail {
        Query::Want { params: views::WantParams { want_id: args.id.clone() } }
    } else {
        let params = views::FulfillmentParams { want_id: args.id.clone(), expand_retries: args.expand_retries };
        Query::Fulfillment { params }
    };
    show(&args.view, &query)
}

/// `dbl lineage REF|UUID`.
pub fn lineage(args: &LineageArgs) -> anyhow::Result<()> {
    let direction = match args.direction.as_str() {
        "upstream" => Direction::Upstream,
        "downstream" => Direction::Downstream,
        _ => Direction::Both,
    };
    let params = views::LineageParams {
        partition_ref: None,
        uuid: None,
        direction,
        depth: args.depth,
        up_depth: args.up,
        down_depth: args.down,
        fanout_limit: args.fanout,
        cursor: args.cursor.clone(),
    };
    show(&args.view, &Query::Lineage { target: args.target.clone(), params })
}

/// `dbl job-run ID`.
pub fn job_run(args: &JobRunArgs) -> anyhow::Result<()> {
    show(&args.view, &Query::JobRun { params: views::JobRunParams { job_run_id: args.id.clone() } })
}

/// `dbl partition REF|UUID`.
pub fn partition(args: &PartitionArgs) -> anyhow::Result<()> {
    show(&args.view, &Query::Partition { target: args.target.clone() })
}

/// `dbl wants`.
pub fn list_wants(args: &ListArgs) -> anyhow::Result<()> {
    show(&args.view, &Query::ListWants { params: list_params(args) })
}

/// `dbl job-runs`.
pub fn list_job_runs(args: &ListArgs) -> anyhow::Result<()> {
    show(&args.view, &Query::ListJobRuns { params: list_params(args) })
}

/// `dbl partitions`.
pub fn list_partitions(args: &ListArgs) -> anyhow::Result<()> {
    show(&args.view, &Query::ListPartitions { params: list_params(args) })
}

/// Prints the answer to `query`: from the shared daemon for the log if one runs (the same bytes), else
/// from a load of the log.
fn show(view: &ViewOptions, query: &Query) -> anyhow::Result<()> {
    let color = view.format == Format::Tree && use_color();
    let log = view.log.to_string_lossy();
    let params = serde_json::json!({ "query": query, "format": view.format, "color": color });
    let asked = if view.no_daemon { None } else { crate::daemon::ask::ask(&log, "databuild/render", params)? };
    let text = match asked {
        Some(answer) => answer["text"].as_str().unwrap_or_default().to_string(),
        None => {
            let state = load(&view.log)?;
            let text = answer(&state, query, view.format, color)?;
            super::end_with(state);
            text
        }
    };
    super::print_out(&text)
}

/// `dbl demo`: writes the embedded example as a BEL and shows the three views of it.
pub fn demo(args: &DemoArgs) -> anyhow::Result<()> {
    let path = match &args.out {
        Some(path) => path.clone(),
        None => {
            let dir = std::env::temp_dir().join("dbl-demo");
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
            dir.join("demo.bel")
        }
    };
    write_demo_log(&path)?;
    let state = load(&path)?;
    super::print_out(&demo_text(&state, &path.display().to_string(), use_color())?)
}

/// Writes `demo_events()` to `path` (replacing it) as a binary BEL.
pub fn write_demo_log(path: &Path) -> anyhow::Result<()> {
    let file = std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut writer = EventWriter::new(file, LogFormat::Binary);
    for event in crate::events::demo_events() {
        writer.write(&event)?;
    }
    writer.into_inner().with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The demo's whole output for the demo state written at `log`.
pub fn demo_text(state: &BuildState, log: &str, color: bool) -> anyhow::Result<String> {
    let mut out = String::new();
    out.push_str(&format!(
        "Wrote the example build event log ({} events) to {log}\n\
         Story: want W-001 asks for data/gamma. Its first run JR-123 stops on a missing input\n\
         (data/beta), which spawns the derivative want W-002; JR-456 builds data/beta from the\n\
         external source data/alpha; the retry JR-789 then builds data/gamma from both.\n",
        state.events_applied()
    ));
    let fulfillment =
        views::fulfillment(state, &views::FulfillmentParams { want_id: "W-001".into(), expand_retries: false })?;
    section(&mut out, "What work was done to fulfill want W-001?", &format!("dbl want W-001 --log {log}"));
    out.push_str(&fulfillment.tree(color));
    let lineage = views::lineage(
        state,
        &views::LineageParams { partition_ref: Some("data/beta".into()), ..views::LineageParams::default() },
    )?;
    section(
        &mut out,
        "Where did data/beta come from, and what uses it?",
        &format!("dbl lineage data/beta --log {log}"),
    );
    out.push_str(&lineage.tree(color));
    let job_run = views::job_run(state, &views::JobRunParams { job_run_id: "JR-789".into() })?;
    section(&mut out, "What exactly did job run JR-789 do?", &format!("dbl job-run JR-789 --log {log}"));
    out.push_str(&job_run.tree(color));
    out.push_str(&format!(
        "\nMore: --format json (the JSON-RPC result), --format dot | mermaid (graphs);\n\
         dbl partition data/beta, dbl wants, dbl job-runs, dbl partitions --log {log}\n"
    ));
    Ok(out)
}

fn section(out: &mut String, question: &str, command: &str) {
    out.push_str(&format!("\n── {question}\n   $ {command}\n\n"));
}

fn load(path: &Path) -> anyhow::Result<BuildState> {
    let (state, loaded) = load_source(&path.to_string_lossy())?;
    if let Some(error) = &loaded.error {
        eprintln!(
            "dbl: warning: {} holds a record that cannot be decoded; showing what came before it: {error}",
            loaded.shown
        );
    }
    if state.events_applied() == 0 && loaded.error.is_none() {
        bail!("{} holds no events", loaded.shown);
    }
    Ok(state)
}

fn list_params(args: &ListArgs) -> views::ListParams {
    views::ListParams {
        status: args.status.clone(),
        job_label: args.job_label.clone(),
        ref_prefix: args.ref_prefix.clone(),
        want_id: args.want_id.clone(),
        limit: args.limit,
        cursor: args.cursor.clone(),
    }
}
