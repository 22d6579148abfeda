//! The scheduler: a clock, the stories in flight, and the loop that advances one of them per step.
//!
//! Each story is a small state machine (a [`Task`]) that writes at most one event per step. The loop starts
//! the stories that are due (the nightly batch, ad-hoc work), picks a random task that can move, and steps
//! it; when none can, it moves the clock to the next moment one can. Tasks wait on time (`not_before`), on
//! a unit another story holds, or on the upstream tasks they spawned.

use std::io;

use crate::events::EventSeq;
use crate::proto::{data_build_event::Event, DataBuildEvent};

use super::build::BuildTask;
use super::rng::Rng;
use super::stories::{self, TaintTask, WantTask};
use super::world::World;
use crate::calendar::{DAY_MS, HOUR_MS};

/// 2025-01-01, the first day the simulated deployment runs.
pub const START_DAY: i64 = 20_089;

pub enum Task {
    Build(BuildTask),
    Want(WantTask),
    Taint(TaintTask),
}

/// How a task ended, as its parent sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Built,
    GaveUp,
}

pub enum Flow {
    Continue,
    Done(Outcome),
}

/// A task's scheduling fields, which the task itself may change while it steps.
pub struct Control {
    /// The task does not move before this clock time.
    pub not_before: u64,
    /// Spawned upstream tasks still running.
    pub pending: u32,
    /// Whether one of them gave up.
    pub upstream_gave_up: bool,
}

struct Slot {
    task: Task,
    parent: Option<usize>,
    control: Control,
}

pub struct Engine<'s> {
    pub rng: Rng,
    pub world: World,
    /// Milliseconds since the epoch; the next event is stamped a little after it.
    pub clock: u64,
    seq: EventSeq,
    limit: u64,
    emitted: u64,
    sink: &'s mut dyn FnMut(&DataBuildEvent) -> io::Result<()>,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    active: Vec<usize>,
    next_batch_day: i64,
    next_adhoc_at: u64,
    runs: u64,
    taints: u64,
}

/// When the nightly batch for partition date `day` starts: 01:00 the next day.
fn batch_at(day: i64) -> u64 {
    (day as u64 + 1) * DAY_MS + HOUR_MS
}

impl<'s> Engine<'s> {
    pub fn new(seed: u64, limit: u64, sink: &'s mut dyn FnMut(&DataBuildEvent) -> io::Result<()>) -> Engine<'s> {
        let first_batch = START_DAY - 1;
        let clock = batch_at(first_batch) - 60_000;
        Engine {
            rng: Rng::new(seed),
            world: World::default(),
            clock,
            seq: EventSeq::starting_at(clock),
            limit,
            emitted: 0,
            sink,
            slots: Vec::new(),
            free: Vec::new(),
            active: Vec::new(),
            next_batch_day: first_batch,
            next_adhoc_at: clock + 2 * HOUR_MS,
            runs: 0,
            taints: 0,
        }
    }

    /// Runs until exactly `limit` events are written; returns how many were.
    pub fn run(mut self) -> io::Result<u64> {
        while self.emitted < self.limit {
            self.start_due_stories();
            match self.pick_ready() {
                Some(pos) => self.step(pos)?,
                None => self.wait_for_next_moment(),
            }
        }
        Ok(self.emitted)
    }

    /// Stamps and writes one event, a little after the previous one.
    pub fn emit(&mut self, event: Event) -> io::Result<()> {
        self.clock += self.rng.range(20, 1_500);
        let advance = self.clock - self.seq.clock_ms();
        let event = self.seq.next(advance, event);
        self.emitted += 1;
        (self.sink)(&event)
    }

    /// The partition date the deployment considers "yesterday": the newest complete day of raw data.
    pub fn yesterday(&self) -> i64 {
        (self.clock / DAY_MS) as i64 - 1
    }

    pub fn next_run(&mut self) -> u64 {
        self.runs += 1;
        self.runs
    }

    pub fn next_taint(&mut self) -> u64 {
        self.taints += 1;
        self.taints
    }

    /// Adds a task, runnable now; `parent` (a task id) is told when it ends.
    pub fn spawn(&mut self, task: Task, parent: Option<usize>) {
        let slot = Slot { task, parent, control: Control { not_before: 0, pending: 0, upstream_gave_up: false } };
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id] = Some(slot);
                id
            }
            None => {
                self.slots.push(Some(slot));
                self.slots.len() - 1
            }
        };
        self.active.push(id);
    }

    fn start_due_stories(&mut self) {
        while self.clock >= batch_at(self.next_batch_day) {
            stories::nightly_batch(self, self.next_batch_day);
            self.next_batch_day += 1;
        }
        while self.clock >= self.next_adhoc_at {
            stories::ad_hoc(self);
            self.next_adhoc_at += self.rng.range(HOUR_MS / 2, 5 * HOUR_MS);
        }
    }

    /// A random task that can move now: a random start, then the first ready one after it.
    fn pick_ready(&mut self) -> Option<usize> {
        let n = self.active.len();
        if n == 0 {
            return None;
        }
        let start = self.rng.below(n as u64) as usize;
        (0..n).map(|k| (start + k) % n).find(|&pos| self.is_ready(self.active[pos]))
    }

    fn is_ready(&self, id: usize) -> bool {
        let slot = self.slots[id].as_ref().expect("active tasks have a slot");
        slot.control.not_before <= self.clock
            && match &slot.task {
                Task::Build(task) => task.is_ready(&self.world, &slot.control),
                Task::Want(_) | Task::Taint(_) => true,
            }
    }

    /// Nothing can move: jump the clock to the next scheduled story or the next task's wake-up time.
    fn wait_for_next_moment(&mut self) {
        let mut next = batch_at(self.next_batch_day).min(self.next_adhoc_at);
        let mut sleeping = 0;
        for &id in &self.active {
            let not_before = self.slots[id].as_ref().expect("active tasks have a slot").control.not_before;
            if not_before > self.clock {
                next = next.min(not_before);
                sleeping += 1;
            }
        }
        debug_assert!(
            sleeping > 0 || self.active.is_empty(),
            "simulation deadlock: {} tasks all wait on each other (a bug in src/sim)",
            self.active.len()
        );
        self.clock = self.clock.max(next);
    }

    fn step(&mut self, pos: usize) -> io::Result<()> {
        let id = self.active[pos];
        let mut slot = self.slots[id].take().expect("active tasks have a slot");
        let flow = match &mut slot.task {
            Task::Build(task) => task.step(self, id, &mut slot.control)?,
            Task::Want(task) => task.step(self)?,
            Task::Taint(task) => task.step(self, &mut slot.control)?,
        };
        match flow {
            Flow::Continue => self.slots[id] = Some(slot),
            Flow::Done(outcome) => {
                self.active.swap_remove(pos);
                self.free.push(id);
                if let Some(parent) = slot.parent {
                    let control = &mut self.slots[parent].as_mut().expect("a parent outlives its children").control;
                    control.pending -= 1;
                    control.upstream_gave_up |= outcome == Outcome::GaveUp;
                }
            }
        }
        Ok(())
    }
}
