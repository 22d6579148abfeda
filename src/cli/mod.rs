//! The `dbl` subcommands: each is a small function over the library layers.

pub mod color;
mod emit;
mod exec;
mod progress;
mod serve;
mod simulate;
mod status;
mod tail;
mod views;

pub use emit::{emit, EmitArgs};
pub use exec::{exec, ExecArgs, JobReport};
pub use serve::{serve, ServeArgs};
pub use simulate::{simulate, SimulateArgs};
pub use status::{status, StatusArgs};
pub use tail::{tail, TailArgs};
pub use views::{
    demo, demo_text, job_run, lineage, list_job_runs, list_partitions, list_wants, partition, want, write_demo_log,
    DemoArgs, JobRunArgs, LineageArgs, ListArgs, PartitionArgs, ViewOptions, WantArgs,
};

use std::path::Path;

use anyhow::Context;

use crate::log::{load_file, LoadedLog};
use crate::state::BuildState;
use progress::Progress;

/// Loads a whole log file into a fresh [`BuildState`], with a progress line on a terminal for a large one.
pub fn load_state(path: &Path) -> anyhow::Result<(BuildState, LoadedLog)> {
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    let mut progress = Progress::new("loading", "bytes", size, 64 << 20);
    let mut state = BuildState::new();
    let loaded = load_file(path, &mut |record| {
        if state.events_applied() % 65_536 == 0 {
            progress.update(record.offset);
        }
        state.apply(&record.event, record.offset);
    })
    .with_context(|| format!("cannot read event log {}", path.display()))?;
    progress.finish();
    Ok((state, loaded))
}
