//! One build story: make a unit's data Live for a want. As databuild's orchestrator would, it buffers a
//! run, queues it, heartbeats, and then either succeeds with the exact partitions it read, fails (and is
//! retried with backoff), is canceled (and retried, or the want is canceled), or dep-misses: it names the
//! missing inputs, a derivative want asks for them, upstream build stories make them, and a retry of the
//! same label and refs for the same want follows.

use std::io;

use crate::events;
use crate::proto::{self, PartitionRef};

use super::catalog::{Partition, Unit, ALL};
use super::engine::{Control, Engine, Flow, Outcome, Task};
use super::stories::{want_event, want_id, USERS};
use super::world::{Data, World};

/// Chance (per mille) that a run is canceled by a person while queued or running.
const CANCEL_PER_MILLE: u32 = 12;
/// Chance (per mille) that a failed run is retried (up to [`MAX_SETBACKS`] failures and cancels).
const RETRY_AFTER_FAILURE_PER_MILLE: u32 = 850;
/// Chance (per mille) that a canceled run is retried rather than its want canceled.
const RETRY_AFTER_CANCEL_PER_MILLE: u32 = 600;
const MAX_SETBACKS: u8 = 3;

const FAILURE_REASONS: [&str; 5] = [
    "exit code 1: AnalysisException: cannot resolve column 'amount_usd'",
    "exit code 137: container killed (OOMKilled, memory limit 8Gi)",
    "exit code 143: spot instance reclaimed during the run",
    "exit code 1: S3 503 SlowDown after 10 retries",
    "exit code 2: data quality check failed: null customer_id in 0.4% of rows",
];

const CANCEL_COMMENTS: [&str; 3] =
    ["wrong cluster, resubmitting", "stuck behind a long shuffle, restarting", "canceled during an incident freeze"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the unit to be free; then done at once if its data is already Live.
    Start,
    Buffered,
    Running,
    Finish,
    /// A new run of the same unit for the same want.
    Retry,
    DerivativeWant,
    AwaitUpstream,
    CancelWant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    Success,
    Failure,
    Cancel,
    DepMiss,
}

pub struct BuildTask {
    unit: Unit,
    want: u64,
    user: &'static str,
    phase: Phase,
    run_id: String,
    plan: Plan,
    heartbeats_left: u64,
    setbacks: u8,
    /// The current run's inputs: (job input index, partition, whether its data existed at buffer time).
    reads: Vec<(usize, Partition, bool)>,
}

impl BuildTask {
    /// Makes `unit` Live for `want`, unless it already is when the unit is next free.
    pub fn ensure(unit: Unit, want: u64, user: &'static str) -> BuildTask {
        BuildTask {
            unit,
            want,
            user,
            phase: Phase::Start,
            run_id: String::new(),
            plan: Plan::Success,
            heartbeats_left: 0,
            setbacks: 0,
            reads: Vec::new(),
        }
    }

    pub fn is_ready(&self, world: &World, control: &Control) -> bool {
        match self.phase {
            Phase::Start => !world.is_held(self.unit),
            Phase::AwaitUpstream => control.pending == 0,
            _ => true,
        }
    }

    pub fn step(&mut self, sim: &mut Engine, id: usize, control: &mut Control) -> io::Result<Flow> {
        match self.phase {
            Phase::Start => {
                if sim.world.data(self.unit) == Data::Live {
                    return Ok(Flow::Done(Outcome::Built));
                }
                sim.world.hold(self.unit);
                self.buffer(sim, control)?;
            }
            Phase::Retry => self.buffer(sim, control)?,
            Phase::AwaitUpstream if control.upstream_gave_up => return Ok(self.give_up(sim)),
            Phase::AwaitUpstream => self.buffer(sim, control)?,
            Phase::Buffered => {
                sim.emit(events::job_run_queue(&self.run_id))?;
                self.phase = if self.heartbeats_left > 0 { Phase::Running } else { Phase::Finish };
                control.not_before = sim.clock + sim.rng.range(1_000, 20_000);
            }
            Phase::Running => {
                sim.emit(events::job_run_heartbeat(&self.run_id))?;
                self.heartbeats_left -= 1;
                if self.heartbeats_left == 0 {
                    self.phase = Phase::Finish;
                }
                control.not_before = sim.clock + sim.rng.range(20_000, 90_000);
            }
            Phase::Finish => return self.finish(sim, control),
            Phase::DerivativeWant => self.derivative_want(sim, id, control)?,
            Phase::CancelWant => {
                if sim.world.cancel_want(self.want) {
                    let mut event = events::want_cancel(&want_id(self.want), events::manual(self.user));
                    if let proto::data_build_event::Event::WantCancelV1(e) = &mut event {
                        e.comment = Some(format!("no longer needed after canceling {}", self.run_id));
                    }
                    sim.emit(event)?;
                }
                return Ok(self.give_up(sim));
            }
        }
        Ok(Flow::Continue)
    }

    fn give_up(&self, sim: &mut Engine) -> Flow {
        sim.world.release(self.unit);
        Flow::Done(Outcome::GaveUp)
    }

    /// Buffers a new run and decides how it will end: a dep miss if some input has no data now.
    fn buffer(&mut self, sim: &mut Engine, control: &mut Control) -> io::Result<()> {
        self.run_id = format!("JR-{}", sim.next_run());
        self.reads.clear();
        let world = &sim.world;
        self.reads.extend(self.unit.inputs().map(|(i, p)| (i, p, world.has_data(p))));
        let outputs: Vec<String> = self.unit.outputs().map(|p| p.to_ref()).collect();
        let job = self.unit.job();
        let want = want_id(self.want);
        sim.emit(events::job_run_buffer(&self.run_id, job.label, &outputs, &[want.as_str()]))?;

        let (min_beats, max_beats) = (u64::from(job.heartbeats.0), u64::from(job.heartbeats.1));
        let roll = sim.rng.below(1000) as u32;
        (self.plan, self.heartbeats_left) = if self.reads.iter().any(|&(_, _, present)| !present) {
            (Plan::DepMiss, sim.rng.range(0, 1))
        } else if roll < job.failure_per_mille {
            (Plan::Failure, sim.rng.range(1, max_beats))
        } else if roll < job.failure_per_mille + CANCEL_PER_MILLE {
            (Plan::Cancel, sim.rng.range(0, min_beats))
        } else {
            (Plan::Success, sim.rng.range(min_beats, max_beats))
        };
        self.phase = Phase::Buffered;
        control.not_before = sim.clock + sim.rng.range(500, 5_000);
        Ok(())
    }

    fn finish(&mut self, sim: &mut Engine, control: &mut Control) -> io::Result<Flow> {
        match self.plan {
            Plan::Success => {
                let read_deps = self.deps(|present| present, false);
                sim.emit(events::job_run_success(&self.run_id, read_deps))?;
                sim.world.set_data(self.unit, Data::Live);
                sim.world.release(self.unit);
                return Ok(Flow::Done(Outcome::Built));
            }
            Plan::Failure => {
                let reason = *sim.rng.pick(&FAILURE_REASONS);
                sim.emit(events::job_run_failure(&self.run_id, reason))?;
                self.setbacks += 1;
                if self.setbacks >= MAX_SETBACKS || !sim.rng.per_mille(RETRY_AFTER_FAILURE_PER_MILLE) {
                    return Ok(self.give_up(sim));
                }
                self.phase = Phase::Retry;
                control.not_before = sim.clock + sim.rng.range(120_000, 900_000);
            }
            Plan::Cancel => {
                let mut event = events::job_run_cancel(&self.run_id, events::manual(self.user));
                if let proto::data_build_event::Event::JobRunCancelV1(e) = &mut event {
                    e.comment = Some((*sim.rng.pick(&CANCEL_COMMENTS)).to_owned());
                }
                sim.emit(event)?;
                self.setbacks += 1;
                if self.setbacks < MAX_SETBACKS && sim.rng.per_mille(RETRY_AFTER_CANCEL_PER_MILLE) {
                    self.phase = Phase::Retry;
                    control.not_before = sim.clock + sim.rng.range(60_000, 600_000);
                } else {
                    self.phase = Phase::CancelWant;
                    control.not_before = sim.clock + sim.rng.range(5_000, 120_000);
                }
            }
            Plan::DepMiss => {
                let missing = self.deps(|present| !present, true);
                let read_deps = self.deps(|present| present, false);
                let missing = missing.into_iter().map(|d| proto::MissingDeps { impacted: d.impacted, missing: d.read });
                sim.emit(events::job_run_missing_deps_from(&self.run_id, missing.collect(), read_deps))?;
                self.phase = Phase::DerivativeWant;
                control.not_before = sim.clock + sim.rng.range(100, 2_000);
            }
        }
        Ok(Flow::Continue)
    }

    /// The orchestrator's answer to a dep miss: a want for the missing partitions, triggered by the run,
    /// and a build story for each unit that makes them.
    fn derivative_want(&mut self, sim: &mut Engine, id: usize, control: &mut Control) -> io::Result<()> {
        let missing: Vec<Partition> = self.reads.iter().filter(|r| !r.2).map(|r| r.1).collect();
        let want = sim.world.new_want();
        let refs: Vec<String> = missing.iter().map(|p| p.to_ref()).collect();
        let event = want_event(
            want,
            &refs,
            events::job_triggered(&self.run_id),
            format!("inputs of {} missing", self.run_id),
            self.unit.day,
            0,
        );
        sim.emit(event)?;
        let mut units: Vec<Unit> = missing.iter().filter_map(|p| p.unit()).collect();
        units.sort_unstable();
        units.dedup();
        for &unit in &units {
            let user = *sim.rng.pick(&USERS);
            sim.spawn(Task::Build(BuildTask::ensure(unit, want, user)), Some(id));
        }
        control.pending += units.len() as u32;
        self.phase = Phase::AwaitUpstream;
        Ok(())
    }

    /// `ReadDeps` per job input over the reads whose presence matches `keep`; inputs with no such read are
    /// left out. `impacted` is explicit, or empty for an input that feeds every output (unless `explicit`).
    fn deps(&self, keep: impl Fn(bool) -> bool, explicit: bool) -> Vec<proto::ReadDeps> {
        let job = self.unit.job();
        let mut deps = Vec::with_capacity(job.inputs.len());
        for (i, input) in job.inputs.iter().enumerate() {
            let read: Vec<PartitionRef> = self
                .reads
                .iter()
                .filter(|&&(j, _, present)| j == i && keep(present))
                .map(|(_, p, _)| PartitionRef { r#ref: p.to_ref() })
                .collect();
            if read.is_empty() {
                continue;
            }
            let impacted = self
                .unit
                .outputs()
                .enumerate()
                .filter(|&(o, _)| if input.impacts == ALL { explicit } else { input.impacts & (1 << o) != 0 })
                .map(|(_, p)| PartitionRef { r#ref: p.to_ref() })
                .collect();
            deps.push(proto::ReadDeps { impacted, read });
        }
        deps
    }
}
