//! Synthetic BELs: `dbl simulate`. A seeded, deterministic model of a databuild deployment — a layered
//! lake of datasets, a nightly batch of report wants, backfills, dep misses with derivative wants and
//! retries, failures, cancels and taints — written as the events databuild's orchestrator would log.
//!
//! The same `(events, seed)` gives the same events, and so byte-identical files, on any machine: the only
//! randomness is [`rng::Rng`], no hash map is ever iterated, and time comes from a simulated clock.
//! `docs/SIMULATE.md` describes the world and the probabilities, so benchmarks on these logs can be read.
//!
//! - [`catalog`]: the datasets, jobs and what each job reads;
//! - [`world`]: which units have data, and which a story holds;
//! - [`engine`]: the clock and the scheduler that steps stories one event at a time;
//! - [`build`]: one build story (buffer → queue → heartbeats → success / failure / cancel / dep miss);
//! - [`stories`]: what starts work (nightly batch, backfills, analyst wants, taints).

mod build;
mod catalog;
mod engine;
mod rng;
mod stories;
mod world;

#[cfg(test)]
mod tests;

use std::io::{self, Write};

use crate::log::{EventWriter, LogFormat};
use crate::proto::DataBuildEvent;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimConfig {
    /// Exactly this many events are generated; the last stories are cut wherever the count runs out.
    pub events: u64,
    pub seed: u64,
}

/// Generates the events in log order, handing each to `sink`. Returns how many were generated, which
/// is `config.events` unless `sink` failed.
pub fn generate(config: SimConfig, sink: &mut dyn FnMut(&DataBuildEvent) -> io::Result<()>) -> io::Result<u64> {
    engine::Engine::new(config.seed, config.events, sink).run()
}

/// The generated events, collected (for tests and small logs).
pub fn generate_vec(config: SimConfig) -> Vec<DataBuildEvent> {
    let mut events = Vec::with_capacity(config.events.min(1 << 20) as usize);
    generate(config, &mut |event| {
        events.push(event.clone());
        Ok(())
    })
    .expect("collecting into a Vec cannot fail");
    events
}

/// Writes the generated log to `out` in `format`, calling `progress` with the count every 65,536 events.
pub fn write_log<W: Write>(
    config: SimConfig,
    format: LogFormat,
    out: W,
    progress: &mut dyn FnMut(u64),
) -> io::Result<W> {
    let mut writer = EventWriter::new(out, format);
    generate(config, &mut |event| {
        writer.write(event)?;
        if writer.written_events().is_multiple_of(1 << 16) {
            progress(writer.written_events());
        }
        Ok(())
    })?;
    writer.into_inner()
}
