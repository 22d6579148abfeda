//! `dbl simulate`: write a realistic synthetic BEL (see `docs/SIMULATE.md`).

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;

use crate::log::LogFormat;
use crate::sim::{write_log, SimConfig};

use super::progress::Progress;

#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Where to write the log (created, or overwritten if it exists).
    #[arg(long)]
    pub out: PathBuf,
    /// How many events to write; the last stories are cut wherever the count runs out.
    #[arg(long)]
    pub events: u64,
    /// The same seed (and event count and format) gives a byte-identical file.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// `bel` (binary, length-delimited protobuf) or `jsonl` (JSON lines).
    #[arg(long, default_value = "bel", value_parser = ["bel", "jsonl"])]
    pub format: String,
}

pub fn simulate(args: &SimulateArgs) -> anyhow::Result<()> {
    let format = LogFormat::from_name(&args.format)
        .with_context(|| format!("unknown --format {:?}; use bel or jsonl", args.format))?;
    let started = Instant::now();
    let file = File::create(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut progress = Progress::new("simulating", "events", args.events, 1 << 18);
    let file = write_log(SimConfig { events: args.events, seed: args.seed }, format, file, &mut |n| progress.update(n))
        .and_then(|mut file| file.flush().map(|()| file))
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    progress.finish();
    let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "wrote {} events ({} bytes, {}, seed {}) to {} in {:.2}s",
        args.events,
        bytes,
        format.name(),
        args.seed,
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
