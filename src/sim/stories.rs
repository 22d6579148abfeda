//! The stories that start work: the nightly batch of report wants, ad-hoc backfills and analyst wants,
//! and taints (each followed by a rebuild want, or now and then cancelled as a false alarm).

use std::io;

use crate::events;
use crate::proto::{data_build_event::Event, EventSource};

use super::build::BuildTask;
use super::catalog::*;
use super::engine::{Control, Engine, Flow, Outcome, Task, START_DAY};
use super::world::Data;
use crate::calendar::{DAY_MS, HOUR_MS};

pub const USERS: [&str; 8] = ["alice", "bilal", "chen", "dana", "emeka", "farah", "goran", "hana"];

/// Who owns each region's nightly reports (indexed like [`REGIONS`]).
const REGION_OWNERS: [&str; 8] = ["alice", "alice", "dana", "farah", "farah", "hana", "chen", "emeka"];

const ONE_WEEK_S: u64 = 7 * 24 * 3600;

/// Chance (per mille) that an ad-hoc story is a backfill, a taint; the rest are analyst wants.
const BACKFILL_PER_MILLE: u32 = 350;
const TAINT_PER_MILLE: u32 = 250;
/// Backfills and analysts reach this many days before the deployment's first day, into history never built.
const HISTORY_DAYS: i64 = 730;
/// Chance (per mille) that a taint turns out to be a false alarm and is cancelled instead of rebuilt.
const TAINT_CANCEL_PER_MILLE: u32 = 150;
/// Taints are drawn from this many most recently built units.
const TAINT_POOL: usize = 500;

const TAINT_REASONS: [&str; 4] = [
    "late-arriving orders landed after the build",
    "currency conversion used stale fx rates",
    "duplicate sessions from a replayed clickstream batch",
    "schema change upstream: amounts now in cents",
];

pub fn want_id(want: u64) -> String {
    format!("W-{want}")
}

/// A `WantCreateEventV1` with the fields databuild fills: data date, a week of TTL, an SLA (0: none).
pub fn want_event(
    want: u64,
    refs: &[String],
    source: Option<EventSource>,
    comment: String,
    data_day: i32,
    sla_seconds: u64,
) -> Event {
    let mut event = events::want_create(&want_id(want), refs, source);
    if let Event::WantCreateV1(e) = &mut event {
        e.data_timestamp = data_day.max(0) as u64 * DAY_MS;
        e.ttl_seconds = ONE_WEEK_S;
        e.sla_seconds = sla_seconds;
        e.comment = Some(comment);
    }
    event
}

/// A person (or the nightly scheduler acting for them) wants some partitions Live.
pub struct WantTask {
    partitions: Vec<Partition>,
    user: &'static str,
    comment: String,
    sla_seconds: u64,
}

impl WantTask {
    pub fn step(&mut self, sim: &mut Engine) -> io::Result<Flow> {
        let want = sim.world.new_want();
        let refs: Vec<String> = self.partitions.iter().map(|p| p.to_ref()).collect();
        let day = self.partitions.iter().map(|p| p.day).max().unwrap_or(0);
        let comment = std::mem::take(&mut self.comment);
        sim.emit(want_event(want, &refs, events::manual(self.user), comment, day, self.sla_seconds))?;
        spawn_builds(sim, &self.partitions, want, self.user);
        Ok(Flow::Done(Outcome::Built))
    }
}

fn spawn_builds(sim: &mut Engine, partitions: &[Partition], want: u64, user: &'static str) {
    let mut units: Vec<Unit> = partitions.iter().filter_map(|p| p.unit()).collect();
    units.sort_unstable();
    units.dedup();
    for unit in units {
        sim.spawn(Task::Build(BuildTask::ensure(unit, want, user)), None);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TaintPhase {
    Create,
    Resolve,
}

/// Someone finds bad data in Live partitions: taint them, then rebuild them (or cancel the taint).
/// The units stay held from the moment the story starts until it resolves.
pub struct TaintTask {
    units: Vec<Unit>,
    user: &'static str,
    false_alarm: bool,
    taint: u64,
    phase: TaintPhase,
}

impl TaintTask {
    fn refs(&self) -> Vec<String> {
        self.units.iter().flat_map(|u| u.outputs()).map(|p| p.to_ref()).collect()
    }

    pub fn step(&mut self, sim: &mut Engine, control: &mut Control) -> io::Result<Flow> {
        if self.phase == TaintPhase::Create {
            self.taint = sim.next_taint();
        }
        let taint_id = format!("T-{}", self.taint);
        match self.phase {
            TaintPhase::Create => {
                let mut event = events::taint_create(&taint_id, &self.refs(), events::manual(self.user));
                if let Event::TaintCreateV1(e) = &mut event {
                    e.comment = Some((*sim.rng.pick(&TAINT_REASONS)).to_owned());
                }
                sim.emit(event)?;
                for &unit in &self.units {
                    sim.world.set_data(unit, Data::Tainted);
                }
                self.phase = TaintPhase::Resolve;
                control.not_before = sim.clock + sim.rng.range(10 * 60_000, 3 * HOUR_MS);
                Ok(Flow::Continue)
            }
            TaintPhase::Resolve if self.false_alarm => {
                let mut event = events::taint_cancel(&taint_id, events::manual(self.user));
                if let Event::TaintCancelV1(e) = &mut event {
                    e.comment = Some("false alarm: the data quality threshold was misconfigured".into());
                }
                sim.emit(event)?;
                for &unit in &self.units {
                    sim.world.set_data(unit, Data::Live);
                    sim.world.release(unit);
                }
                Ok(Flow::Done(Outcome::Built))
            }
            TaintPhase::Resolve => {
                for &unit in &self.units {
                    sim.world.release(unit);
                }
                let want = sim.world.new_want();
                let partitions: Vec<Partition> = self.units.iter().flat_map(|u| u.outputs()).collect();
                let refs = self.refs();
                let day = self.units.iter().map(|u| u.day).max().unwrap_or(0);
                let comment = format!("rebuild after taint {taint_id}");
                sim.emit(want_event(want, &refs, events::manual(self.user), comment, day, 0))?;
                spawn_builds(sim, &partitions, want, self.user);
                Ok(Flow::Done(Outcome::Built))
            }
        }
    }
}

/// At 01:00, each region's owner wants yesterday's reports: daily revenue with customer LTV in one
/// want, and the rolling weekly KPIs in another.
pub fn nightly_batch(sim: &mut Engine, day: i64) {
    let day = day as i32;
    for region in 0..REGIONS.len() as u8 {
        let user = REGION_OWNERS[region as usize];
        let reports =
            vec![Partition::new(RPT_DAILY_REVENUE, region, day), Partition::new(RPT_CUSTOMER_LTV, region, day)];
        let comment = format!("nightly reports for {}", REGIONS[region as usize]);
        sim.spawn(Task::Want(WantTask { partitions: reports, user, comment, sla_seconds: 6 * 3600 }), None);
        let kpis = vec![Partition::new(RPT_WEEKLY_KPIS, region, day)];
        let comment = format!("rolling weekly KPIs for {}", REGIONS[region as usize]);
        sim.spawn(Task::Want(WantTask { partitions: kpis, user, comment, sla_seconds: 8 * 3600 }), None);
    }
}

/// Daytime work: a backfill, a taint, or an analyst's one-off want.
pub fn ad_hoc(sim: &mut Engine) {
    let roll = sim.rng.below(1000) as u32;
    if roll < BACKFILL_PER_MILLE {
        backfill(sim);
    } else if roll < BACKFILL_PER_MILLE + TAINT_PER_MILLE {
        taint(sim);
    } else {
        analyst_want(sim);
    }
}

/// A want for 3 to 10 consecutive days of history (before the deployment's first day) of one mart or
/// report, leaving out days already Live; nothing if all are.
fn backfill(sim: &mut Engine) {
    let dataset = *sim.rng.pick(&[MART_REVENUE, MART_SESSIONS, MART_ORDERS, RPT_DAILY_REVENUE]);
    let region = sim.rng.below(REGIONS.len() as u64) as u8;
    let first = sim.rng.range((START_DAY - HISTORY_DAYS) as u64, (START_DAY - 10) as u64) as i32;
    let len = sim.rng.range(3, 10) as i32;
    let partitions: Vec<Partition> = (first..first + len)
        .map(|day| Partition::new(dataset, region, day))
        .filter(|p| p.unit().is_some_and(|u| sim.world.data(u) != Data::Live))
        .collect();
    if partitions.is_empty() {
        return;
    }
    let comment = format!("backfill {} for {}", DATASETS[dataset as usize].path, REGIONS[region as usize]);
    let user = *sim.rng.pick(&USERS);
    sim.spawn(Task::Want(WantTask { partitions, user, comment, sla_seconds: 0 }), None);
}

/// One partition an analyst needs: half the time from the last two weeks (usually Live already, so the
/// want is Successful at once), otherwise from any day since history began.
fn analyst_want(sim: &mut Engine) {
    let dataset = *sim.rng.pick(&[RPT_CUSTOMER_LTV, MART_SESSIONS, MART_ORDER_ITEMS, RPT_DAILY_REVENUE]);
    let region = sim.rng.below(REGIONS.len() as u64) as u8;
    let yesterday = sim.yesterday();
    let day = if sim.rng.per_mille(500) {
        yesterday - sim.rng.range(0, 13) as i64
    } else {
        sim.rng.range((START_DAY - HISTORY_DAYS) as u64, yesterday as u64) as i64
    };
    let partitions = vec![Partition::new(dataset, region, day as i32)];
    let user = *sim.rng.pick(&USERS);
    let comment = "ad-hoc analysis".to_owned();
    sim.spawn(Task::Want(WantTask { partitions, user, comment, sla_seconds: 0 }), None);
}

/// Taints a recently built Live unit, sometimes with the next one or two days of the same dataset.
fn taint(sim: &mut Engine) {
    let built = sim.world.built().len();
    if built == 0 {
        return;
    }
    let oldest = built.saturating_sub(TAINT_POOL) as u64;
    let available = |sim: &Engine, unit: Unit| sim.world.data(unit) == Data::Live && !sim.world.is_held(unit);
    let mut first = None;
    for _ in 0..8 {
        let unit = sim.world.built()[sim.rng.range(oldest, built as u64 - 1) as usize];
        if available(sim, unit) {
            first = Some(unit);
            break;
        }
    }
    let Some(first) = first else {
        return;
    };
    let mut units = vec![first];
    let daily = DATASETS[first.job().outputs[0] as usize].daily;
    while daily && units.len() < 3 && sim.rng.per_mille(400) {
        let next = Unit { day: units[units.len() - 1].day + 1, ..first };
        if !available(sim, next) {
            break;
        }
        units.push(next);
    }
    for &unit in &units {
        sim.world.hold(unit);
    }
    let user = *sim.rng.pick(&USERS);
    let false_alarm = sim.rng.per_mille(TAINT_CANCEL_PER_MILLE);
    sim.spawn(Task::Taint(TaintTask { units, user, false_alarm, taint: 0, phase: TaintPhase::Create }), None);
}
