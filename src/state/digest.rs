//! A deterministic fingerprint of a whole [`BuildState`]: equal digests mean equal answers.
//!
//! It walks every entity in creation order (a property of the log, not of any hash map) and prints a
//! length-prefixed encoding of each field, 64 entities to a block, with XXH3-128 ([`Column::print`]);
//! the digest is BLAKE3 over the counters and the columns' prints. Diagnostics are left out: they
//! carry byte offsets, which differ between the binary and JSON forms of one log.

use super::*;

impl BuildState {
    /// Hex BLAKE3 of the counters and the prints of the canonical encoding of the state (cached until
    /// the next event).
    pub fn digest(&self) -> String {
        self.digest.get_or_init(|| self.compute_digest()).clone()
    }

    /// Every entity in creation order, each fed by its own function below, a column at a time. Each
    /// column prints blocks of entities and keeps the prints until they change ([`Column::print`]),
    /// so after the first digest only what changed is hashed again.
    fn compute_digest(&self) -> String {
        let mut counters = Feed::default();
        counters.u64(self.events_applied);
        counters.stamp(self.last_event);
        let block = |feed: &dyn Fn(&mut Feed, u32), first: usize, len: usize| {
            let mut f = Feed::default();
            (first..first + len).for_each(|i| feed(&mut f, i as u32));
            f.print()
        };
        let refs = self.ref_entries.print(|first, b| block(&|f, i| self.feed_ref(f, RefId(i)), first, b.len()));
        let runs = self.job_runs.print(|first, b| block(&|f, i| self.feed_job_run(f, JobRunIx(i)), first, b.len()));
        let wants = self.wants.print(|first, b| block(&|f, i| self.feed_want(f, WantIx(i)), first, b.len()));
        let parts =
            self.partitions.print(|first, b| block(&|f, i| self.feed_partition(f, PartitionIx(i)), first, b.len()));
        let taints = self.taints.print(|first, b| block(&|f, i| self.feed_taint(f, TaintIx(i)), first, b.len()));
        let mut digest = blake3::Hasher::new();
        for print in [counters.print(), refs, runs, wants, parts, taints] {
            digest.update(&print);
        }
        digest.finalize().to_hex().to_string()
    }

    fn feed_ref(&self, h: &mut Feed, r: RefId) {
        h.str(self.ref_name(r));
        let entry = self.ref_entry(r);
        h.ids(entry.instances.iter().map(|p| p.0));
        h.ids(entry.wants.iter().map(|w| w.0));
    }

    fn feed_job_run(&self, h: &mut Feed, ix: JobRunIx) {
        let run = self.job_run(ix);
        h.str(self.job_run_id(ix));
        h.str(self.label_name(run.label));
        h.u64(run.status as u64);
        h.u64(run.history().count() as u64);
        for change in run.history() {
            h.u64(change.status as u64);
            h.stamp(Some(change.at));
        }
        h.ids(run.outputs.iter().map(|p| p.0));
        h.u64(run.wants.len() as u64);
        for attribution in run.wants.iter() {
            h.u64(attribution.want.0.into());
            h.ids(attribution.refs.iter().map(|r| r.0));
        }
        h.stamp(run.last_heartbeat());
        h.deps(&run.read_deps);
        h.u64(run.read_partitions.len() as u64);
        for (r, p) in self.reads(run) {
            h.u64(r.0.into());
            h.u64(p.0.into());
        }
        h.deps(&run.missing_deps);
        h.ids(run.derivative_wants.iter().map(|w| w.0));
        h.opt_str(run.failure_reason());
        h.cancellation(run.cancellation());
    }

    fn feed_want(&self, h: &mut Feed, ix: WantIx) {
        let want = self.want(ix);
        h.str(self.want_id(ix));
        h.stamp(want.created);
        h.ids(want.refs.iter().map(|r| r.0));
        h.u64(want.data_timestamp);
        h.u64(want.ttl_seconds);
        h.u64(want.sla_seconds);
        h.source(&want.source);
        h.opt_str(want.comment.as_deref());
        h.cancellation(want.cancellation.as_deref());
        h.u64(want.status as u64);
        h.ids(want.triggered_by.iter().map(|r| r.0));
        h.ids(want.parents.iter().map(|w| w.0));
        h.ids(want.children.iter().map(|w| w.0));
        h.ids(want.job_runs.iter().map(|r| r.0));
        h.u64(want.retry_chains.len() as u64);
        for chain in &want.retry_chains {
            h.u64(chain.label.0.into());
            h.ids(chain.refs.iter().map(|r| r.0));
            h.ids(chain.runs.iter().map(|r| r.0));
        }
    }

    fn feed_partition(&self, h: &mut Feed, ix: PartitionIx) {
        let p = self.partition(ix);
        h.bytes(p.uuid.as_bytes());
        h.u64(p.partition_ref.0.into());
        h.u64(p.state as u64);
        h.ids(p.built_by.iter().map(|r| r.0));
        h.stamp(Some(p.created));
        h.stamp(Some(p.state_since));
        h.ids(p.taints.iter().map(|t| t.0));
        h.u64(p.consumers.len() as u64);
        for c in &p.consumers {
            h.u64(c.output.0.into());
            h.u64(c.job_run.0.into());
        }
    }

    fn feed_taint(&self, h: &mut Feed, ix: TaintIx) {
        let taint = self.taint(ix);
        h.str(self.taint_id(ix));
        h.stamp(Some(taint.created));
        h.ids(taint.refs.iter().map(|r| r.0));
        h.ids(taint.instances.iter().map(|p| p.0));
        h.source(&taint.source);
        h.opt_str(taint.comment.as_deref());
        h.cancellation(taint.cancellation.as_deref());
    }
}

/// Bytes gathered before each hasher update: many tiny updates cost more than the hashing itself,
/// and a block's whole encoding (megabytes for a partition read by thousands of runs) would leave
/// large buffers behind, raising the peak RSS of a load.
const FEED_BUFFER: usize = 64 * 1024;

/// The canonical encoding of what is being printed, hashed as it comes.
#[derive(Default)]
struct Feed {
    hasher: xxhash_rust::xxh3::Xxh3,
    buffer: Vec<u8>,
}

impl Feed {
    fn bytes(&mut self, bytes: &[u8]) {
        if self.buffer.len() + bytes.len() > FEED_BUFFER {
            self.hasher.update(&self.buffer);
            self.buffer.clear();
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// The print of everything fed: XXH3-128, as [`column::print_bytes`] of it all at once.
    fn print(mut self) -> column::Print {
        self.hasher.update(&self.buffer);
        self.hasher.digest128().to_le_bytes()
    }

    fn u64(&mut self, value: u64) {
        self.bytes(&value.to_le_bytes());
    }

    fn str(&mut self, value: &str) {
        self.u64(value.len() as u64);
        self.bytes(value.as_bytes());
    }

    fn opt_str(&mut self, value: Option<&str>) {
        match value {
            None => self.u64(0),
            Some(value) => {
                self.u64(1);
                self.str(value);
            }
        }
    }

    fn ids(&mut self, ids: impl ExactSizeIterator<Item = u32>) {
        self.u64(ids.len() as u64);
        for id in ids {
            self.bytes(&id.to_le_bytes());
        }
    }

    fn stamp(&mut self, stamp: Option<Stamp>) {
        match stamp {
            None => self.u64(0),
            Some(stamp) => {
                self.u64(1);
                self.u64(stamp.timestamp);
                self.u64(stamp.event_id);
            }
        }
    }

    fn deps(&mut self, deps: &[Deps]) {
        self.u64(deps.len() as u64);
        for d in deps {
            self.ids(d.impacted.iter().map(|r| r.0));
            self.ids(d.inputs.iter().map(|r| r.0));
        }
    }

    fn source(&mut self, source: &Source) {
        match source {
            Source::Unspecified => self.u64(0),
            Source::Manual { user } => {
                self.u64(1);
                self.str(user);
            }
            Source::JobTriggered { job_run_id } => {
                self.u64(2);
                self.str(job_run_id);
            }
        }
    }

    fn cancellation(&mut self, cancellation: Option<&Cancellation>) {
        match cancellation {
            None => self.u64(0),
            Some(c) => {
                self.u64(1);
                self.stamp(Some(c.at));
                self.source(&c.source);
                self.opt_str(c.comment.as_deref());
            }
        }
    }
}
