//! A [`BuildState`] as bytes and back, for snapshots: postcard (a stable, compact serde format) over
//! the state's own fields. Derived indexes are not stored; they are rebuilt on decoding, which is
//! cheaper than reading them. Framing, versions and checksums are the caller's (`live::snapshot`).
//!
//! Each column is its own length-prefixed part, so decoding runs on every core: a 10M-event state
//! is about 500 MB of postcard, and a restart should not wait for one thread to read it all.

use std::io::Write;

use serde::{de::DeserializeOwned, Serialize};

use super::*;

/// Everything but the columns.
type Counters = (u64, Option<Stamp>, Vec<Diagnostic>, u64);

fn part<T: Serialize>(out: &mut impl Write, value: &T) -> std::io::Result<()> {
    let encoding = |e: postcard::Error| std::io::Error::other(format!("encoding the state: {e}"));
    let len = postcard::experimental::serialized_size(value).map_err(encoding)? as u64;
    out.write_all(&len.to_le_bytes())?;
    postcard::to_io(value, &mut *out).map(|_| ()).map_err(encoding)
}

fn parts(mut bytes: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut parts = Vec::new();
    while !bytes.is_empty() {
        let (len, rest) = bytes.split_at_checked(8).ok_or("a part's length is cut short")?;
        let len = u64::from_le_bytes(len.try_into().expect("8 bytes"));
        let (part, rest) = rest.split_at_checked(len as usize).ok_or("a part is cut short")?;
        parts.push(part);
        bytes = rest;
    }
    Ok(parts)
}

fn decode_part<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, String> {
    postcard::from_bytes(bytes).map_err(|e| format!("{what}: {e}"))
}

impl BuildState {
    /// Writes the state. Runtime settings (change recording) are not part of it.
    pub fn encode(&self, mut out: impl Write) -> std::io::Result<()> {
        let counters: (u64, Option<Stamp>, &Vec<Diagnostic>, u64) =
            (self.events_applied, self.last_event, &self.diagnostics, self.diagnostic_count);
        part(&mut out, &counters)?;
        part(&mut out, &self.refs)?;
        part(&mut out, &self.ref_entries)?;
        part(&mut out, &self.labels)?;
        part(&mut out, &self.job_run_ids)?;
        part(&mut out, &self.job_runs)?;
        part(&mut out, &self.want_ids)?;
        part(&mut out, &self.wants)?;
        part(&mut out, &self.taint_ids)?;
        part(&mut out, &self.taints)?;
        part(&mut out, &self.partitions)
    }

    /// Reads a state written by [`BuildState::encode`] of the same version of `dbl`, and checks
    /// that every index in it points at an entity, so a bad snapshot is an error, never a panic later.
    pub fn decode(bytes: &[u8]) -> Result<BuildState, String> {
        let parts = parts(bytes)?;
        let [counters, refs, ref_entries, labels, job_run_ids, job_runs, want_ids, wants, taint_ids, taints, partitions] =
            parts[..]
        else {
            return Err(format!("{} parts, not 11", parts.len()));
        };
        // The largest parts first, each on its own thread.
        let mut state = std::thread::scope(|scope| -> Result<BuildState, String> {
            let job_runs = scope.spawn(|| decode_part(job_runs, "job runs"));
            let partitions = scope.spawn(|| decode_part::<Column<PartitionInstance>>(partitions, "partitions"));
            let wants = scope.spawn(|| decode_part(wants, "wants"));
            let ref_entries = scope.spawn(|| decode_part(ref_entries, "refs"));
            let names = scope.spawn(|| -> Result<_, String> {
                Ok((
                    decode_part(refs, "ref names")?,
                    decode_part(job_run_ids, "job run ids")?,
                    decode_part(want_ids, "want ids")?,
                ))
            });
            let (events_applied, last_event, diagnostics, diagnostic_count): Counters =
                decode_part(counters, "counters")?;
            let join = |what: &str| format!("decoding {what} panicked");
            let (refs, job_run_ids, want_ids) = names.join().map_err(|_| join("names"))??;
            Ok(BuildState {
                refs,
                ref_entries: ref_entries.join().map_err(|_| join("refs"))??,
                labels: decode_part(labels, "labels")?,
                job_run_ids,
                job_runs: job_runs.join().map_err(|_| join("job runs"))??,
                want_ids,
                wants: wants.join().map_err(|_| join("wants"))??,
                taint_ids: decode_part(taint_ids, "taint ids")?,
                taints: decode_part(taints, "taints")?,
                partitions: partitions.join().map_err(|_| join("partitions"))??,
                events_applied,
                last_event,
                diagnostics,
                diagnostic_count,
                ..BuildState::default()
            })
        })?;
        let by_uuid = std::thread::scope(|scope| {
            let checked = scope.spawn(|| state.check_indexes());
            let partitions = &state.partitions;
            let mut by_uuid = hashbrown::HashTable::with_capacity(partitions.len());
            for (i, instance) in partitions.iter().enumerate() {
                by_uuid.insert_unique(uuid_hash(&instance.uuid), PartitionIx(i as u32), |p: &PartitionIx| {
                    uuid_hash(&partitions[p.index()].uuid)
                });
            }
            checked.join().map_err(|_| "checking the state panicked".to_string())?.map(|()| by_uuid)
        })?;
        state.partition_by_uuid = by_uuid;
        Ok(state)
    }

    fn check_indexes(&self) -> Result<(), String> {
        let (refs, runs, wants, parts, taints, labels) = (
            self.refs.len(),
            self.job_runs.len(),
            self.wants.len(),
            self.partitions.len(),
            self.taints.len(),
            self.labels.len(),
        );
        let ok = self.ref_entries.len() == refs
            && self.job_run_ids.len() == runs
            && self.want_ids.len() == wants
            && self.taint_ids.len() == taints
            && self.job_runs.iter().all(|run| {
                run.label.index() < labels
                    && run.outputs.iter().all(|p| p.index() < parts)
                    && run.wants.iter().all(|a| a.want.index() < wants && a.refs.iter().all(|r| r.index() < refs))
                    && run.read_deps.iter().chain(run.missing_deps.iter()).all(|d| {
                        d.impacted.iter().chain(d.inputs.iter()).all(|r| r.index() < refs)
                    })
                    && run.read_partitions.iter().all(|p| p.index() < parts)
                    && run.derivative_wants.iter().all(|w| w.index() < wants)
            })
            && self.partitions.iter().all(|p| {
                p.partition_ref.index() < refs
                    && p.built_by.is_none_or(|r| r.index() < runs)
                    && p.taints.iter().all(|t| t.index() < taints)
                    && p.consumers.iter().all(|c| c.output.index() < parts && c.job_run.index() < runs)
            })
            && self.wants.iter().all(|w| {
                w.refs.iter().all(|r| r.index() < refs)
                    && w.triggered_by.is_none_or(|r| r.index() < runs)
                    && w.parents.iter().chain(w.children.iter()).all(|x| x.index() < wants)
                    && w.job_runs.iter().all(|r| r.index() < runs)
                    && w.retry_chains.iter().all(|c| {
                        c.label.index() < labels
                            && c.refs.iter().all(|r| r.index() < refs)
                            && c.runs.iter().all(|r| r.index() < runs)
                    })
            })
            && self.ref_entries.iter().all(|e| {
                e.instances.iter().all(|p| p.index() < parts) && e.wants.iter().all(|w| w.index() < wants)
            })
            && self.taints.iter().all(|t| {
                t.refs.iter().all(|r| r.index() < refs) && t.instances.iter().all(|p| p.index() < parts)
            });
        if ok {
            Ok(())
        } else {
            Err("an entity refers to one that does not exist".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_survives_encoding_with_the_same_digest() {
        let events = crate::sim::generate_vec(crate::sim::SimConfig { events: 20_000, seed: 3 });
        let state = BuildState::from_events(&events);
        let mut bytes = Vec::new();
        state.encode(&mut bytes).unwrap();
        let back = BuildState::decode(&bytes).unwrap();
        assert_eq!(back.digest(), state.digest());
        let some = state.partition(PartitionIx(state.partition_count() as u32 - 1)).uuid;
        assert_eq!(back.find_partition(&some), state.find_partition(&some));
        assert!(BuildState::decode(&bytes[..bytes.len() / 2]).is_err(), "a cut snapshot is an error");
    }

    #[test]
    fn an_index_out_of_range_is_an_error() {
        let events = crate::sim::generate_vec(crate::sim::SimConfig { events: 2_000, seed: 3 });
        let mut state = BuildState::from_events(&events);
        state.partitions[0].built_by = Some(JobRunIx(u32::MAX));
        let mut bytes = Vec::new();
        state.encode(&mut bytes).unwrap();
        assert!(BuildState::decode(&bytes).unwrap_err().contains("does not exist"));
    }
}
