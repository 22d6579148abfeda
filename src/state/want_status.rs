//! A want's status is derived from the rest of the state. It is kept stored and current: every event
//! that could change it refreshes the wants it touches, and a want whose status changed refreshes its
//! parents (a derivative want finishing moves its parent out of `UpstreamBuilding`).

use super::apply::Cx;
use super::*;

impl BuildState {
    /// Recomputes the status of `wants` and, transitively, of the parents of any that changed.
    pub(super) fn refresh_wants(&mut self, cx: &Cx, wants: &[WantIx]) {
        self.refresh_wants_with(cx, |_, queue| queue.extend_from_slice(wants));
    }

    /// [`Self::refresh_wants`] for the wants `fill` puts in the queue. The queue's buffer is reused
    /// across events: this runs for most events, and usually finds nothing to do.
    pub(super) fn refresh_wants_with(&mut self, cx: &Cx, fill: impl FnOnce(&BuildState, &mut Vec<WantIx>)) {
        let mut queue = std::mem::take(&mut self.want_queue);
        queue.clear();
        fill(self, &mut queue);
        // Bounded: a pathological log could make wants each other's parents.
        let mut budget = 64 + 4 * self.wants.len();
        while let Some(w) = queue.pop() {
            if budget == 0 {
                let message = format!(
                    "want statuses did not settle (wants are each other's parents near {}); left as they are",
                    self.want_id(w)
                );
                self.diagnose(cx, message);
                break;
            }
            budget -= 1;
            let status = self.derive_want_status(w);
            let want = &mut self.wants[w.index()];
            if want.status == status {
                continue;
            }
            let from = want.status;
            want.status = status;
            queue.extend(want.parents.iter().copied());
            self.record(cx, Change::WantStatus { want: w, from: Some(from), to: status });
        }
        self.want_queue = queue;
    }

    /// DESIGN's want status, first rule that holds:
    /// 1. `Canceled` if canceled;
    /// 2. `Successful` if every wanted ref's current instance is Live;
    /// 3. `Building` if the latest run of any retry chain is Queued or Running;
    /// 4. `UpstreamFailed` if a chain's latest run dep-missed and one of its derivative wants is
    ///    Failed, UpstreamFailed or Canceled;
    /// 5. `UpstreamBuilding` if a chain's latest run dep-missed and its derivative wants are not all
    ///    Successful (a run that dep-missed with none created yet counts: they are on their way);
    /// 6. `Failed` if a chain's latest run failed;
    /// 7. `New` otherwise (nothing scheduled, or waiting for a retry).
    pub fn derive_want_status(&self, w: WantIx) -> WantStatus {
        let want = &self.wants[w.index()];
        if want.cancellation.is_some() {
            return WantStatus::Canceled;
        }
        let live = |r: &RefId| {
            self.current_instance(*r).is_some_and(|p| self.partitions[p.index()].state == PartitionState::Live)
        };
        if want.created.is_some() && !want.refs.is_empty() && want.refs.iter().all(live) {
            return WantStatus::Successful;
        }
        let latest =
            || want.retry_chains.iter().filter_map(|chain| chain.runs.last()).map(|&r| (r, &self.job_runs[r.index()]));
        if latest().any(|(_, run)| !run.status.is_terminal()) {
            return WantStatus::Building;
        }
        let mut upstream_building = false;
        for (_, run) in latest().filter(|(_, run)| run.status == JobRunStatus::DepMiss) {
            if run.derivative_wants.is_empty() {
                upstream_building = true;
            }
            for &child in &run.derivative_wants {
                match self.wants[child.index()].status {
                    WantStatus::Failed | WantStatus::UpstreamFailed | WantStatus::Canceled => {
                        return WantStatus::UpstreamFailed
                    }
                    WantStatus::Successful => {}
                    _ => upstream_building = true,
                }
            }
        }
        if upstream_building {
            return WantStatus::UpstreamBuilding;
        }
        if latest().any(|(_, run)| run.status == JobRunStatus::Failed) {
            return WantStatus::Failed;
        }
        WantStatus::New
    }
}
