//! `dbl simulate`: write a realistic synthetic BEL (see `docs/SIMULATE.md`).

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;

use crate::log::source::write::write_table;
use crate::log::source::{LayoutHint, SourceSpec};
use crate::log::LogFormat;
use crate::sim::{generate, write_log, SimConfig};

use super::progress::Progress;

#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Where to write the log (created, or overwritten if it exists): a file, or a postgres:// URL
    /// (the table `bel_events`, or `?table=…`, is replaced; loaded with COPY).
    #[arg(long)]
    pub out: PathBuf,
    /// How many events to write; the last stories are cut wherever the count runs out.
    #[arg(long)]
    pub events: u64,
    /// The same seed (and event count and format) gives a byte-identical file.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// `bel` (binary, length-delimited protobuf), `jsonl` (JSON lines) or `sqlite` (a database with the
    /// recommended table, docs/SOURCES.md). Ignored for a postgres:// URL.
    #[arg(long, default_value = "bel", value_parser = ["bel", "jsonl", "sqlite"])]
    pub format: String,
}

pub fn simulate(args: &SimulateArgs) -> anyhow::Result<()> {
    let out = args.out.to_string_lossy();
    let table = if out.starts_with("postgres://") || out.starts_with("postgresql://") {
        Some(SourceSpec::parse(&out)?)
    } else if args.format == "sqlite" {
        Some(SourceSpec::Sqlite { path: args.out.clone(), layout: LayoutHint::default() })
    } else {
        None
    };
    if let Some(table) = table {
        return simulate_into_table(args, &table);
    }
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

/// `dbl simulate` into a SQLite or PostgreSQL table.
fn simulate_into_table(args: &SimulateArgs, table: &SourceSpec) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut progress = Progress::new("simulating", "events", args.events, 1 << 18);
    let config = SimConfig { events: args.events, seed: args.seed };
    let written = write_table(table, &mut |sink| {
        let mut n = 0u64;
        generate(config, &mut |event| {
            n += 1;
            if n.is_multiple_of(65_536) {
                progress.update(n);
            }
            sink(event)
        })
    })
    .with_context(|| format!("cannot write {}", table.display()))?;
    progress.finish();
    eprintln!(
        "wrote {written} events (seed {}) to {} in {:.2}s",
        args.seed,
        table.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
