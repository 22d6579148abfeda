//! The one-step lineage of a ref that the editor features show: its direct upstream inputs and its
//! direct downstream outputs, for one chosen instance.
//!
//! **Which instance.** The *current* instance of a ref is its newest. While a rebuild is in flight
//! (or failed), the current instance has no resolved reads and no consumers yet, so the lineage is
//! shown for the *focus* instance: the newest instance whose data exists (`Live`/`Tainted`) or that
//! is `External`; if there is none, the current instance. Hover says when the two differ.

use crate::state::{BuildState, JobRunIx, PartitionIx, RefId};

/// A ref's direct lineage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefLineage {
    pub id: RefId,
    pub current: PartitionIx,
    pub focus: PartitionIx,
    /// Inputs the focus instance was built from, each resolved to the instance its builder read,
    /// in the builder's first-read order.
    pub upstream: Vec<(RefId, PartitionIx)>,
    /// Instances built from the focus instance, one per output ref (the newest such output), newest
    /// read first, with the job run that read it: at most the limit asked for.
    pub downstream: Vec<(RefId, PartitionIx, JobRunIx)>,
    /// Reads of the focus instance by job runs (consumer-index edges), however many are listed.
    pub downstream_reads: usize,
}

/// The lineage of `id` with at most `limit` downstream refs listed, or `None` if the log has mentioned
/// the ref but has no instance of it (a ref only named by a want, say). Its cost does not grow with
/// the downstream fan-out beyond what is listed: a hot source has tens of thousands of reads.
pub fn ref_lineage(state: &BuildState, id: RefId, limit: usize) -> Option<RefLineage> {
    let current = state.current_instance(id)?;
    let focus = state
        .ref_entry(id)
        .instances
        .iter()
        .rev()
        .copied()
        .find(|&ix| {
            let s = state.partition(ix).state;
            s.has_data() || s == crate::state::PartitionState::External
        })
        .unwrap_or(current);
    Some(RefLineage {
        id,
        current,
        focus,
        upstream: crate::views::upstream_of(state, focus)
            .into_iter()
            .map(|p| (state.partition(p).partition_ref, p))
            .collect(),
        downstream: downstream_of(state, focus, limit),
        downstream_reads: state.partition(focus).consumers.len(),
    })
}

/// Direct outputs built from an instance, one entry per output ref, newest read first, at most
/// `limit`. Reads are indexed in log order, so walking them backwards finds each ref's newest output
/// first; the walk stops once `limit` refs are found, or after [`MAX_READS_WALKED`] reads.
pub fn downstream_of(state: &BuildState, instance: PartitionIx, limit: usize) -> Vec<(RefId, PartitionIx, JobRunIx)> {
    let mut out: Vec<(RefId, PartitionIx, JobRunIx)> = Vec::new();
    for consumer in state.partition(instance).consumers.iter().rev().take(MAX_READS_WALKED) {
        if out.len() >= limit {
            break;
        }
        let r = state.partition(consumer.output).partition_ref;
        if !out.iter().any(|&(seen, _, _)| seen == r) {
            out.push((r, consumer.output, consumer.job_run));
        }
    }
    out
}

/// A bound on the reads one request walks, for an instance read again and again into few refs.
pub const MAX_READS_WALKED: usize = 10_000;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::*;
    use crate::state::PartitionState;

    fn demo_state() -> BuildState {
        BuildState::from_events(&demo_events())
    }

    fn names(state: &BuildState, refs: impl IntoIterator<Item = RefId>) -> Vec<String> {
        refs.into_iter().map(|r| state.ref_name(r).to_string()).collect()
    }

    #[test]
    fn demo_lineage_one_step_each_way() {
        let state = demo_state();
        let beta = state.ref_id("data/beta").unwrap();
        let lineage = ref_lineage(&state, beta, 50).unwrap();
        assert_eq!(lineage.focus, lineage.current);
        assert_eq!(state.partition(lineage.focus).uuid.to_string(), "d1305448-db69-5062-8c23-837705b1ceef");
        assert_eq!(names(&state, lineage.upstream.iter().map(|u| u.0)), ["data/alpha"]);
        assert_eq!(names(&state, lineage.downstream.iter().map(|d| d.0)), ["data/gamma"]);
        assert_eq!(state.job_run_id(lineage.downstream[0].2), "JR-789");

        let gamma = ref_lineage(&state, state.ref_id("data/gamma").unwrap(), 50).unwrap();
        assert_eq!(names(&state, gamma.upstream.iter().map(|u| u.0)), ["data/beta", "data/alpha"]);
        assert!(gamma.downstream.is_empty());

        let alpha = ref_lineage(&state, state.ref_id("data/alpha").unwrap(), 50).unwrap();
        assert_eq!(state.partition(alpha.focus).state, PartitionState::External);
        assert!(alpha.upstream.is_empty());
        assert_eq!(names(&state, alpha.downstream.iter().map(|d| d.0)), ["data/gamma", "data/beta"], "newest read first");
        assert_eq!(alpha.downstream_reads, 2);
        let one = ref_lineage(&state, state.ref_id("data/alpha").unwrap(), 1).unwrap();
        assert_eq!((names(&state, one.downstream.iter().map(|d| d.0)), one.downstream_reads), (vec!["data/gamma".to_string()], 2));
    }

    #[test]
    fn a_rebuild_in_flight_keeps_showing_the_live_instance() {
        let mut state = demo_state();
        let mut seq = EventSeq::after(state.last_event().unwrap().event_id, 1_800_000_000_000);
        state.apply(&seq.next(0, job_run_buffer("JR-900", "//jobs:beta", &["data/beta"], &[])), 0);
        let beta = state.ref_id("data/beta").unwrap();
        let lineage = ref_lineage(&state, beta, 50).unwrap();
        assert_ne!(lineage.focus, lineage.current);
        assert_eq!(state.partition(lineage.current).state, PartitionState::Building);
        assert_eq!(state.partition(lineage.focus).state, PartitionState::Live);
        assert_eq!(lineage.upstream.len(), 1);
        assert_eq!(lineage.downstream.len(), 1);
    }
}
