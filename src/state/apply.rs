//! Event handlers: how each of the eleven event types changes a [`BuildState`].
//! The behaviour for events that contradict the state is documented in `docs/STATE.md`.

use smallvec::SmallVec;
use thin_vec::ThinVec;

use crate::proto::{self, data_build_event::Event, event_source, DataBuildEvent};

use super::*;

/// What applying an event needs that depends on the event alone: made by [`Prepared::of`] on
/// whichever thread decodes, so a bulk load hashes on the decoding thread while the state applies.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// A buffer event's instance UUIDs, one per `building_partitions` entry (SHA-1 is the dearest
    /// part of applying one).
    built: SmallVec<[Uuid; 2]>,
}

impl Prepared {
    pub fn of(event: &DataBuildEvent) -> Prepared {
        let built = match &event.event {
            Some(Event::JobRunBufferV1(e)) => {
                e.building_partitions.iter().map(|p| built_partition_uuid(&e.job_run_id, &p.r#ref)).collect()
            }
            _ => SmallVec::new(),
        };
        Prepared { built }
    }
}

impl BuildState {
    /// Applies one event. `offset` is where its record starts in the log, for diagnostics only.
    pub fn apply(&mut self, event: &DataBuildEvent, offset: u64) {
        self.apply_prepared(event, offset, &Prepared::of(event));
    }

    /// [`BuildState::apply`] with the event's [`Prepared`] part made already (by [`Prepared::of`]
    /// on this event: anything else breaks the state).
    pub fn apply_prepared(&mut self, event: &DataBuildEvent, offset: u64, prepared: &Prepared) {
        let at = Stamp { timestamp: event.timestamp, event_id: event.event_id };
        let cx = Cx { at, offset };
        self.digest.take();
        if let Some(last) = self.last_event {
            if at.event_id <= last.event_id {
                let message = format!(
                    "event id {} does not increase (previous was {}); applied in log order",
                    at.event_id, last.event_id
                );
                self.diagnose(&cx, message);
            }
        }
        self.events_applied += 1;
        self.last_event = Some(at);
        match &event.event {
            Some(Event::JobRunBufferV1(e)) => self.job_run_buffer(&cx, e, &prepared.built),
            Some(Event::JobRunQueueV1(e)) => self.job_run_queue(&cx, &e.job_run_id),
            Some(Event::JobRunHeartbeatV1(e)) => self.job_run_heartbeat(&cx, &e.job_run_id),
            Some(Event::JobRunSuccessV1(e)) => self.job_run_success(&cx, e),
            Some(Event::JobRunFailureV1(e)) => self.job_run_failure(&cx, e),
            Some(Event::JobRunCancelV1(e)) => self.job_run_cancel(&cx, e),
            Some(Event::JobRunMissingDepsV1(e)) => self.job_run_missing_deps(&cx, e),
            Some(Event::WantCreateV1(e)) => self.want_create(&cx, e),
            Some(Event::WantCancelV1(e)) => self.want_cancel(&cx, e),
            Some(Event::TaintCreateV1(e)) => self.taint_create(&cx, e),
            Some(Event::TaintCancelV1(e)) => self.taint_cancel(&cx, e),
            None => self.diagnose(
                &cx,
                "event has no event type dbl knows (written by a newer databuild?); nothing applied".into(),
            ),
        }
    }

    // ---- job runs -------------------------------------------------------------------------------

    fn job_run_buffer(&mut self, cx: &Cx, e: &proto::JobRunBufferEventV1, built: &[Uuid]) {
        if e.job_run_id.is_empty() {
            return self.diagnose(cx, "job run buffer with an empty job_run_id; ignored".into());
        }
        let (id, new) = self.job_run_ids.intern(&e.job_run_id);
        if !new {
            return self.diagnose(cx, format!("job run {} buffered again; ignored", e.job_run_id));
        }
        let ix = JobRunIx(id);
        let label = LabelId(self.labels.intern(&e.job_label).0);
        let outputs = self.buffered_outputs(cx, e, built, ix);
        let attributions = self.want_attributions(cx, e);
        self.job_runs.push(JobRun::new(label, cx.at, outputs));
        self.record(cx, Change::JobRunStatus { job_run: ix, from: None, to: JobRunStatus::Queued });
        if self.recording {
            for i in 0..self.job_runs[ix.index()].outputs.len() {
                let partition = self.job_runs[ix.index()].outputs[i];
                self.record(cx, Change::PartitionState { partition, from: None, to: PartitionState::Building });
            }
        }
        self.join_retry_chains(ix, label, &attributions);
        let touched: Ids<WantIx> = attributions.iter().map(|a| a.want).collect();
        self.job_runs[ix.index()].wants = attributions;
        self.refresh_wants(cx, &touched);
    }

    /// A new Building instance for each partition the run will build (a repeated one only once).
    fn buffered_outputs(
        &mut self,
        cx: &Cx,
        e: &proto::JobRunBufferEventV1,
        built: &[Uuid],
        ix: JobRunIx,
    ) -> Ids<PartitionIx> {
        debug_assert_eq!(built.len(), e.building_partitions.len(), "prepared from another event");
        let mut outputs = Ids::with_capacity(e.building_partitions.len());
        for (partition, &uuid) in e.building_partitions.iter().zip(built) {
            let ref_id = self.intern_ref(&partition.r#ref);
            if self.find_partition(&uuid).is_some() {
                let message = format!(
                    "job run {} lists {} twice in building_partitions; built once",
                    e.job_run_id, partition.r#ref
                );
                self.diagnose(cx, message);
                continue;
            }
            outputs.push(self.new_instance(uuid, ref_id, PartitionState::Building, Some(ix), cx.at));
        }
        outputs
    }

    /// The wants the run is scheduled for, once each (a want not created yet is attributed anyway).
    fn want_attributions(&mut self, cx: &Cx, e: &proto::JobRunBufferEventV1) -> SmallVec<[WantAttribution; 1]> {
        let mut attributions = SmallVec::<[WantAttribution; 1]>::with_capacity(e.want_attributed_partitions.len());
        for attributed in &e.want_attributed_partitions {
            let want = self.intern_want(&attributed.want_id);
            if !self.want_exists(want) {
                let message = format!(
                    "job run {} is scheduled for want {}, which is not created yet; attributed anyway",
                    e.job_run_id, attributed.want_id
                );
                self.diagnose(cx, message);
            }
            let refs: Ids<RefId> = attributed.partitions.iter().map(|p| self.intern_ref(&p.r#ref)).collect();
            if !attributions.iter().any(|a| a.want == want) {
                attributions.push(WantAttribution { want, refs });
            }
        }
        attributions
    }

    /// Each attributed want records the run, as a retry of the want's runs of the same label and
    /// outputs, or as the start of a new chain.
    fn join_retry_chains(&mut self, ix: JobRunIx, label: LabelId, attributions: &[WantAttribution]) {
        let mut chain_refs: Ids<RefId> =
            self.job_runs[ix.index()].outputs.iter().map(|&p| self.partitions[p.index()].partition_ref).collect();
        chain_refs.sort_unstable();
        for attribution in attributions {
            let want = &mut self.wants[attribution.want.index()];
            want.job_runs.push(ix);
            match want.retry_chains.iter_mut().find(|c| c.label == label && *c.refs == *chain_refs) {
                Some(chain) => chain.runs.push(ix),
                None => want.retry_chains.push(RetryChain {
                    label,
                    refs: chain_refs.clone(),
                    runs: smallvec::smallvec![ix],
                }),
            }
        }
    }

    fn job_run_queue(&mut self, cx: &Cx, job_run_id: &str) {
        let Some(ix) = self.known_job_run(cx, job_run_id, "queue") else { return };
        if self.job_runs[ix.index()].status != JobRunStatus::Queued {
            let status = self.job_runs[ix.index()].status.name();
            self.diagnose(cx, format!("job run {job_run_id} queued while {status}; ignored"));
        }
    }

    fn job_run_heartbeat(&mut self, cx: &Cx, job_run_id: &str) {
        let Some(ix) = self.known_job_run(cx, job_run_id, "heartbeat") else { return };
        let status = self.job_runs[ix.index()].status;
        if status.is_terminal() {
            return self
                .diagnose(cx, format!("heartbeat for job run {job_run_id}, already {}; ignored", status.name()));
        }
        self.job_runs[ix.index()].heard_from(cx.at);
        if status == JobRunStatus::Queued {
            self.set_job_run_status(cx, ix, JobRunStatus::Running, PartitionState::Building);
        }
    }

    fn job_run_success(&mut self, cx: &Cx, e: &proto::JobRunSuccessEventV1) {
        let Some(ix) = self.active_job_run(cx, &e.job_run_id, "success") else { return };
        let read_deps = self.intern_deps(e.read_deps.iter().map(|d| (&d.impacted, &d.read)));

        // Resolve reads before this run's own outputs turn Live: a run that reads its own ref reads
        // the previous instance.
        let mut read_partitions: SmallVec<[(RefId, PartitionIx); 4]> = SmallVec::new();
        for deps in read_deps.iter() {
            for &input in deps.inputs.iter() {
                if !read_partitions.iter().any(|&(r, _)| r == input) {
                    read_partitions.push((input, self.resolve_read(cx, input)));
                }
            }
        }

        let outputs = self.job_runs[ix.index()].outputs.clone();
        let mut edges: Vec<(PartitionIx, Consumer)> = Vec::new();
        for deps in read_deps.iter() {
            let impacted: Ids<PartitionIx> = if deps.impacted.is_empty() {
                outputs.clone()
            } else {
                let mut impacted = Ids::with_capacity(deps.impacted.len());
                for &r in deps.impacted.iter() {
                    match outputs.iter().find(|&&p| self.partitions[p.index()].partition_ref == r) {
                        Some(&p) => impacted.push(p),
                        None => self.diagnose(
                            cx,
                            format!(
                                "job run {} read_deps names impacted {} which it did not build; no lineage edge for it",
                                e.job_run_id,
                                self.ref_name(r)
                            ),
                        ),
                    }
                }
                impacted
            };
            for &input in deps.inputs.iter() {
                let input_ix = read_partitions.iter().find(|&&(r, _)| r == input).expect("resolved above").1;
                edges.extend(impacted.iter().map(|&output| (input_ix, Consumer { output, job_run: ix })));
            }
        }
        edges.sort_unstable();
        edges.dedup();
        for (input, consumer) in edges {
            self.partitions[input.index()].consumers.push(consumer);
            self.record(cx, Change::ConsumerEdge { input, output: consumer.output, job_run: ix });
        }

        let run = &mut self.job_runs[ix.index()];
        run.read_deps = read_deps;
        run.read_partitions = read_partitions.iter().map(|&(_, p)| p).collect();
        self.set_job_run_status(cx, ix, JobRunStatus::Succeeded, PartitionState::Live);
    }

    fn job_run_failure(&mut self, cx: &Cx, e: &proto::JobRunFailureEventV1) {
        let Some(ix) = self.active_job_run(cx, &e.job_run_id, "failure") else { return };
        self.job_runs[ix.index()].ending = Some(Box::new(Ending::Failed { reason: e.reason.as_str().into() }));
        self.set_job_run_status(cx, ix, JobRunStatus::Failed, PartitionState::Failed);
    }

    fn job_run_cancel(&mut self, cx: &Cx, e: &proto::JobRunCancelEventV1) {
        let Some(ix) = self.active_job_run(cx, &e.job_run_id, "cancel") else { return };
        let canceled = *cancellation(cx, e.source.as_ref(), e.comment.as_deref());
        self.job_runs[ix.index()].ending = Some(Box::new(Ending::Canceled(canceled)));
        self.set_job_run_status(cx, ix, JobRunStatus::Canceled, PartitionState::Canceled);
    }

    fn job_run_missing_deps(&mut self, cx: &Cx, e: &proto::JobRunMissingDepsEventV1) {
        let Some(ix) = self.active_job_run(cx, &e.job_run_id, "missing-deps") else { return };
        let missing = self.intern_deps(e.missing_deps.iter().map(|d| (&d.impacted, &d.missing)));
        let read = self.intern_deps(e.read_deps.iter().map(|d| (&d.impacted, &d.read)));
        let run = &mut self.job_runs[ix.index()];
        run.missing_deps = missing.into_iter().collect();
        run.read_deps = read;
        self.set_job_run_status(cx, ix, JobRunStatus::DepMiss, PartitionState::DepMiss);
    }

    // ---- wants ----------------------------------------------------------------------------------

    fn want_create(&mut self, cx: &Cx, e: &proto::WantCreateEventV1) {
        if e.want_id.is_empty() {
            return self.diagnose(cx, "want create with an empty want_id; ignored".into());
        }
        let ix = self.intern_want(&e.want_id);
        if self.wants[ix.index()].created.is_some() {
            return self.diagnose(cx, format!("want {} created again; ignored", e.want_id));
        }
        let refs: Ids<RefId> = e.partitions.iter().map(|p| self.intern_ref(&p.r#ref)).collect();
        for &r in refs.iter() {
            let wants = &mut self.ref_entries[r.index()].wants;
            if wants.last() != Some(&ix) {
                wants.push(ix);
            }
        }
        let source = source(e.source.as_ref());
        let mut parents = ThinVec::new();
        let mut triggered_by = None;
        if let Source::JobTriggered { job_run_id } = &source {
            match self.find_job_run(job_run_id) {
                Some(run) => {
                    triggered_by = Some(run);
                    self.job_runs[run.index()].derivative_wants.push(ix);
                    parents.extend(self.job_runs[run.index()].wants.iter().map(|a| a.want).filter(|&w| w != ix));
                }
                None => self.diagnose(
                    cx,
                    format!(
                        "want {} is job_triggered by unknown job run {job_run_id}; it has no parent want",
                        e.want_id
                    ),
                ),
            }
        }
        for &parent in &parents {
            self.wants[parent.index()].children.push(ix);
            self.record(cx, Change::DerivativeWant { parent, child: ix, job_run: triggered_by });
        }
        let want = &mut self.wants[ix.index()];
        want.created = Some(cx.at);
        want.refs = refs;
        want.data_timestamp = e.data_timestamp;
        want.ttl_seconds = e.ttl_seconds;
        want.sla_seconds = e.sla_seconds;
        want.source = source;
        want.comment = e.comment.as_deref().map(Into::into);
        want.triggered_by = triggered_by;
        want.parents = parents;
        let mut touched: Ids<WantIx> = want.parents.iter().copied().collect();
        touched.push(ix);
        // Created as New (a placeholder already was); the refresh records any move from there.
        self.record(cx, Change::WantStatus { want: ix, from: None, to: self.wants[ix.index()].status });
        self.refresh_wants(cx, &touched);
    }

    fn want_cancel(&mut self, cx: &Cx, e: &proto::WantCancelEventV1) {
        let Some(ix) = self.find_want(&e.want_id).filter(|&w| self.want_exists(w)) else {
            return self.diagnose(cx, format!("cancel of unknown want {}; ignored", e.want_id));
        };
        if self.wants[ix.index()].cancellation.is_some() {
            return self.diagnose(cx, format!("want {} canceled again; ignored", e.want_id));
        }
        self.wants[ix.index()].cancellation = Some(cancellation(cx, e.source.as_ref(), e.comment.as_deref()));
        self.refresh_wants(cx, &[ix]);
    }

    // ---- taints ---------------------------------------------------------------------------------

    fn taint_create(&mut self, cx: &Cx, e: &proto::TaintCreateEventV1) {
        if e.taint_id.is_empty() {
            return self.diagnose(cx, "taint create with an empty taint_id; ignored".into());
        }
        let (id, new) = self.taint_ids.intern(&e.taint_id);
        if !new {
            return self.diagnose(cx, format!("taint {} created again; ignored", e.taint_id));
        }
        let ix = TaintIx(id);
        let mut refs = Ids::with_capacity(e.partitions.len());
        let mut instances = Ids::with_capacity(e.partitions.len());
        for partition in &e.partitions {
            let Some(r) = self.ref_id(&partition.r#ref) else {
                self.diagnose(
                    cx,
                    format!("taint {} names unknown ref {}; nothing to mark", e.taint_id, partition.r#ref),
                );
                continue;
            };
            refs.push(r);
            match self.newest_with_data(r) {
                Some(p) if !instances.contains(&p) => {
                    instances.push(p);
                    self.partitions[p.index()].taints.push(ix);
                    self.set_partition_state(cx, p, PartitionState::Tainted);
                }
                Some(_) => {}
                None => self.diagnose(
                    cx,
                    format!(
                        "taint {} names {} which has no Live instance; nothing to mark",
                        e.taint_id, partition.r#ref
                    ),
                ),
            }
        }
        self.taints.push(Taint {
            created: cx.at,
            refs,
            instances,
            source: source(e.source.as_ref()),
            comment: e.comment.as_deref().map(Into::into),
            cancellation: None,
        });
    }

    fn taint_cancel(&mut self, cx: &Cx, e: &proto::TaintCancelEventV1) {
        let Some(ix) = self.find_taint(&e.taint_id) else {
            return self.diagnose(cx, format!("cancel of unknown taint {}; ignored", e.taint_id));
        };
        if self.taints[ix.index()].cancellation.is_some() {
            return self.diagnose(cx, format!("taint {} canceled again; ignored", e.taint_id));
        }
        self.taints[ix.index()].cancellation = Some(cancellation(cx, e.source.as_ref(), e.comment.as_deref()));
        for p in self.taints[ix.index()].instances.clone().iter().copied() {
            let instance = &self.partitions[p.index()];
            let untainted = instance.state == PartitionState::Tainted
                && instance.taints.iter().all(|&t| self.taints[t.index()].cancellation.is_some());
            let partition_ref = instance.partition_ref;
            // Back to Live only if nothing else taints it and no newer data replaced it.
            if untainted && self.newest_with_data(partition_ref) == Some(p) {
                self.set_partition_state(cx, p, PartitionState::Live);
            }
        }
    }

    // ---- helpers --------------------------------------------------------------------------------

    fn intern_ref(&mut self, name: &str) -> RefId {
        let (id, new) = self.refs.intern(name);
        if new {
            self.ref_entries.push(RefEntry::default());
        }
        RefId(id)
    }

    /// The want named `id`, creating an uncreated placeholder if the log has not created it yet.
    fn intern_want(&mut self, id: &str) -> WantIx {
        let (ix, new) = self.want_ids.intern(id);
        if new {
            self.wants.push(Want {
                created: None,
                refs: Ids::new(),
                data_timestamp: 0,
                ttl_seconds: 0,
                sla_seconds: 0,
                source: Source::Unspecified,
                comment: None,
                cancellation: None,
                status: WantStatus::New,
                triggered_by: None,
                parents: ThinVec::new(),
                children: ThinVec::new(),
                job_runs: Ids::new(),
                retry_chains: SmallVec::new(),
            });
        }
        WantIx(ix)
    }

    fn intern_deps<'a>(
        &mut self,
        deps: impl Iterator<Item = (&'a Vec<proto::PartitionRef>, &'a Vec<proto::PartitionRef>)>,
    ) -> SmallVec<[Deps; 1]> {
        deps.map(|(impacted, inputs)| Deps {
            impacted: impacted.iter().map(|p| self.intern_ref(&p.r#ref)).collect(),
            inputs: inputs.iter().map(|p| self.intern_ref(&p.r#ref)).collect(),
        })
        .collect()
    }

    fn new_instance(
        &mut self,
        uuid: Uuid,
        partition_ref: RefId,
        state: PartitionState,
        built_by: Option<JobRunIx>,
        at: Stamp,
    ) -> PartitionIx {
        let ix = PartitionIx(u32::try_from(self.partitions.len()).expect("fewer than 2^32 partition instances"));
        self.partitions.push(PartitionInstance {
            uuid,
            partition_ref,
            state,
            built_by,
            created: at,
            state_since: at,
            taints: ThinVec::new(),
            consumers: SmallVec::new(),
        });
        let partitions = &self.partitions;
        let existing =
            || partitions.iter().take(ix.index()).enumerate().map(|(i, p)| (uuid_hash(&p.uuid), PartitionIx(i as u32)));
        intern::grow_in_order(&mut self.partition_by_uuid, existing);
        self.partition_by_uuid.insert_unique(uuid_hash(&uuid), ix, |p| uuid_hash(&partitions[p.index()].uuid));
        self.ref_entries[partition_ref.index()].instances.push(ix);
        ix
    }

    /// DESIGN's read rule: the newest instance whose data exists, else the ref's External instance.
    fn resolve_read(&mut self, cx: &Cx, r: RefId) -> PartitionIx {
        if let Some(p) = self.newest_with_data(r) {
            return p;
        }
        let name = self.ref_name(r).to_owned();
        let uuid = external_partition_uuid(&name);
        if let Some(p) = self.find_partition(&uuid) {
            return p;
        }
        let p = self.new_instance(uuid, r, PartitionState::External, None, cx.at);
        // An External instance is the ref's oldest: it stands for data from before the log.
        let instances = &mut self.ref_entries[r.index()].instances;
        instances.pop();
        instances.insert(0, p);
        self.record(cx, Change::PartitionState { partition: p, from: None, to: PartitionState::External });
        p
    }

    fn newest_with_data(&self, r: RefId) -> Option<PartitionIx> {
        self.ref_entries[r.index()]
            .instances
            .iter()
            .rev()
            .copied()
            .find(|p| self.partitions[p.index()].state.has_data())
    }

    fn known_job_run(&mut self, cx: &Cx, id: &str, what: &str) -> Option<JobRunIx> {
        let found = self.find_job_run(id);
        if found.is_none() {
            self.diagnose(cx, format!("{what} for job run {id}, which was never buffered; ignored"));
        }
        found
    }

    /// A known run that has not finished yet; anything else gets a diagnostic.
    fn active_job_run(&mut self, cx: &Cx, id: &str, what: &str) -> Option<JobRunIx> {
        let ix = self.known_job_run(cx, id, what)?;
        let status = self.job_runs[ix.index()].status;
        if status.is_terminal() {
            self.diagnose(cx, format!("{what} for job run {id}, already {}; ignored", status.name()));
            return None;
        }
        Some(ix)
    }

    /// Moves a run to `status` and each of its outputs still Building to `output_state`.
    fn set_job_run_status(&mut self, cx: &Cx, ix: JobRunIx, status: JobRunStatus, output_state: PartitionState) {
        let run = &mut self.job_runs[ix.index()];
        let from = run.status;
        run.moved(status, cx.at);
        self.record(cx, Change::JobRunStatus { job_run: ix, from: Some(from), to: status });
        for i in 0..self.job_runs[ix.index()].outputs.len() {
            let p = self.job_runs[ix.index()].outputs[i];
            if self.partitions[p.index()].state == PartitionState::Building {
                self.set_partition_state(cx, p, output_state);
            }
        }
        self.refresh_wants_with(cx, |state, queue| {
            queue.extend(state.job_runs[ix.index()].wants.iter().map(|a| a.want))
        });
    }

    fn set_partition_state(&mut self, cx: &Cx, p: PartitionIx, state: PartitionState) {
        let instance = &mut self.partitions[p.index()];
        let from = instance.state;
        if from == state {
            return;
        }
        instance.state = state;
        instance.state_since = cx.at;
        let partition_ref = instance.partition_ref;
        self.record(cx, Change::PartitionState { partition: p, from: Some(from), to: state });
        self.refresh_wants_with(cx, |state, queue| {
            queue.extend_from_slice(&state.ref_entries[partition_ref.index()].wants)
        });
    }

    pub(super) fn record(&mut self, cx: &Cx, change: Change) {
        if self.recording {
            self.changes.push((cx.at.event_id, change));
        }
    }

    pub(super) fn diagnose(&mut self, cx: &Cx, message: String) {
        self.diagnostic_count += 1;
        if self.diagnostics.len() < MAX_STORED_DIAGNOSTICS {
            self.diagnostics.push(Diagnostic { event_id: cx.at.event_id, offset: cx.offset, message });
        }
    }
}

/// The event being applied.
pub(super) struct Cx {
    pub(super) at: Stamp,
    offset: u64,
}

fn source(source: Option<&proto::EventSource>) -> Source {
    match source.and_then(|s| s.source.as_ref()) {
        None => Source::Unspecified,
        Some(event_source::Source::ManuallyTriggered(m)) => Source::Manual { user: m.user.as_str().into() },
        Some(event_source::Source::JobTriggered(j)) => {
            Source::JobTriggered { job_run_id: j.job_run_id.as_str().into() }
        }
    }
}

fn cancellation(cx: &Cx, from: Option<&proto::EventSource>, comment: Option<&str>) -> Box<Cancellation> {
    Box::new(Cancellation { at: cx.at, source: source(from), comment: comment.map(Into::into) })
}
