//! The state's lock, with a turnstile that keeps long readers from holding up short ones.
//!
//! A plain `RwLock` prefers its writer: once the ingest thread waits for the write lock, every new
//! reader waits behind it. Then a hover that needs a few microseconds waits for whatever view was
//! running when an append arrived (milliseconds, for a lineage of the hottest source) and then for the
//! write. Here long readers (views, pages) first pass a turnstile, which the ingest thread closes before
//! it asks for the write lock. So the writer waits only for the long reader already inside, *without*
//! queueing on the state yet; short readers keep reading meanwhile; and a write then waits only for
//! short readers. Long readers queue at the turnstile behind the writer, so ingest is never starved.
//!
//! Lock order, always: turnstile, then state. Both guards below take them in that order.

use std::ops::{Deref, DerefMut};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::state::BuildState;

#[derive(Default)]
pub struct StateLock {
    turnstile: RwLock<()>,
    state: RwLock<BuildState>,
}

/// The state, read by a request that may take a while (a view, a page). See the module docs.
pub struct LongRead<'a> {
    state: RwLockReadGuard<'a, BuildState>,
    _turn: RwLockReadGuard<'a, ()>,
}

/// The state, being written by the ingest thread.
pub struct Write<'a> {
    state: RwLockWriteGuard<'a, BuildState>,
    _turn: RwLockWriteGuard<'a, ()>,
}

// A panic while holding a guard poisons the lock; the state is still whole (each event applies
// fully or the panic escaped the ingest thread), so readers go on.
fn unpoison<G>(result: Result<G, std::sync::PoisonError<G>>) -> G {
    result.unwrap_or_else(|e| e.into_inner())
}

impl StateLock {
    /// A short read (a hover, a status): may wait for a write batch, never for a long reader.
    pub fn read(&self) -> RwLockReadGuard<'_, BuildState> {
        unpoison(self.state.read())
    }

    /// A long read: waits at the turnstile while the ingest thread has a batch to write.
    pub fn read_long(&self) -> LongRead<'_> {
        let turn = unpoison(self.turnstile.read());
        LongRead { state: unpoison(self.state.read()), _turn: turn }
    }

    /// The write lock, for the ingest thread: closes the turnstile, then takes the state.
    pub fn write(&self) -> Write<'_> {
        let turn = unpoison(self.turnstile.write());
        Write { state: unpoison(self.state.write()), _turn: turn }
    }
}

impl Deref for LongRead<'_> {
    type Target = BuildState;
    fn deref(&self) -> &BuildState {
        &self.state
    }
}

impl Deref for Write<'_> {
    type Target = BuildState;
    fn deref(&self) -> &BuildState {
        &self.state
    }
}

impl DerefMut for Write<'_> {
    fn deref_mut(&mut self) -> &mut BuildState {
        &mut self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// The property the turnstile exists for: while a long reader is inside and the writer waits, a
    /// short reader still gets in (with a plain writer-preferring lock it would wait for both).
    #[test]
    fn a_waiting_writer_does_not_hold_up_short_readers_behind_a_long_one() {
        let lock = &StateLock::default();
        let long = lock.read_long();
        std::thread::scope(|scope| {
            let (written_tx, written) = mpsc::channel();
            let writer = scope.spawn(move || {
                let mut state = lock.write();
                state.set_recording(true);
                written_tx.send(()).unwrap();
            });
            // Give the writer time to start waiting (on the turnstile, behind the long reader).
            std::thread::sleep(Duration::from_millis(50));
            let (read_tx, read) = mpsc::channel();
            scope.spawn(move || {
                let events = lock.read().events_applied();
                read_tx.send(events).unwrap();
            });
            assert_eq!(read.recv_timeout(Duration::from_secs(10)), Ok(0), "the short reader got in");
            assert!(written.try_recv().is_err(), "the writer waits for the long reader");
            drop(long);
            written.recv_timeout(Duration::from_secs(10)).expect("the writer gets in once the long reader leaves");
            writer.join().unwrap();
        });
    }

    /// And the writer is not starved: a long reader arriving while it waits queues behind it.
    #[test]
    fn long_readers_queue_behind_a_waiting_writer() {
        let lock = &StateLock::default();
        let first = lock.read_long();
        std::thread::scope(|scope| {
            let (order_tx, order) = mpsc::channel();
            let writer_order = order_tx.clone();
            scope.spawn(move || {
                let _write = lock.write();
                writer_order.send("writer").unwrap();
            });
            std::thread::sleep(Duration::from_millis(50));
            scope.spawn(move || {
                drop(lock.read_long());
                order_tx.send("second long reader").unwrap();
            });
            std::thread::sleep(Duration::from_millis(50));
            drop(first);
            let got: Vec<_> = (0..2).map(|_| order.recv_timeout(Duration::from_secs(10)).unwrap()).collect();
            assert_eq!(got, ["writer", "second long reader"]);
        });
    }
}
