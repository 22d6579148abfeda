//! Following a source: what each poll's outcome means for the state built from it. One policy for
//! every loop that follows a log (the daemon's ingest thread, `dbl tail`), sans-IO: it is told what a
//! [`Source`](super::source::Source) poll found and answers with a [`Step`]; the caller owns the
//! state, the source and the clock.
//!
//! - The initial load (and every rebuild after a reset) records no changes unless asked to
//!   (`publish_initial_load`): a cold load pays nothing for them, and subscribers are told to query
//!   again instead.
//! - A source that is not there yet ends the initial load: whatever appears later is news.
//! - A reset drops the state; subscribers hear of it once the rebuilt state has caught up.

use std::io;

use super::tail::Poll;

/// The follower's memory between polls.
#[derive(Debug)]
pub struct Follower {
    publish_initial_load: bool,
    loading: bool,
    said_waiting: bool,
    /// A reset to announce once the rebuilt state has caught up.
    pending_reset: Option<&'static str>,
}

/// What the caller does after a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Reading failed; retry on the next tick (show the error).
    Retry,
    /// The source is not there. `announce`: say that it is waited for (once per wait);
    /// `record_from_now`: the initial load ended with nothing to load, record changes from now on.
    Waiting { announce: bool, record_from_now: bool },
    /// Drop the state: the source starts over. Record changes while rebuilding if `record`.
    Rebuild { reason: &'static str, record: bool },
    /// The records polled were handed over. `loaded`: this poll reached the end of the initial load
    /// (or of a rebuild): record changes from now on; `announce_reset`: tell subscribers the source
    /// was reset, now that the rebuilt state has caught up.
    Read { loaded: bool, announce_reset: Option<&'static str> },
}

impl Follower {
    pub fn new(publish_initial_load: bool) -> Follower {
        Follower { publish_initial_load, loading: true, said_waiting: false, pending_reset: None }
    }

    /// Whether changes are recorded from the start (before the initial load ends).
    pub fn record_while_loading(&self) -> bool {
        self.publish_initial_load
    }

    /// Whether the initial load (or a rebuild) is under way.
    pub fn loading(&self) -> bool {
        self.loading
    }

    pub fn step(&mut self, polled: &io::Result<Poll>) -> Step {
        match polled {
            Err(_) => Step::Retry,
            Ok(Poll::Missing) => {
                let announce = !self.said_waiting;
                self.said_waiting = true;
                let record_from_now = std::mem::replace(&mut self.loading, false);
                Step::Waiting { announce, record_from_now }
            }
            Ok(Poll::Reset(reason)) => {
                self.loading = true;
                self.said_waiting = false;
                self.pending_reset = Some(reason.name());
                Step::Rebuild { reason: reason.name(), record: self.publish_initial_load }
            }
            Ok(Poll::Read(read)) => {
                self.said_waiting = false;
                let loaded = self.loading && read.at_end;
                self.loading &= !loaded;
                let announce_reset = if loaded { self.pending_reset.take() } else { None };
                Step::Read { loaded, announce_reset }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::tail::{Read, ResetReason};

    fn read(at_end: bool) -> io::Result<Poll> {
        Ok(Poll::Read(Read { bytes_read: 1, at_end, file_len: 1, new_error: None }))
    }

    #[test]
    fn a_load_a_wait_and_a_reset() {
        let mut f = Follower::new(false);
        assert!(f.loading() && !f.record_while_loading());
        assert_eq!(f.step(&read(false)), Step::Read { loaded: false, announce_reset: None });
        assert_eq!(f.step(&read(true)), Step::Read { loaded: true, announce_reset: None });
        assert!(!f.loading());
        assert_eq!(f.step(&Ok(Poll::Missing)), Step::Waiting { announce: true, record_from_now: false });
        assert_eq!(f.step(&Ok(Poll::Missing)), Step::Waiting { announce: false, record_from_now: false });
        assert_eq!(
            f.step(&Ok(Poll::Reset(ResetReason::Truncated))),
            Step::Rebuild { reason: "truncated", record: false }
        );
        assert_eq!(f.step(&read(false)), Step::Read { loaded: false, announce_reset: None });
        assert_eq!(f.step(&read(true)), Step::Read { loaded: true, announce_reset: Some("truncated") });
        assert_eq!(f.step(&read(true)), Step::Read { loaded: false, announce_reset: None });
        assert_eq!(f.step(&Err(io::Error::other("x"))), Step::Retry);
    }

    #[test]
    fn a_source_that_is_not_there_ends_the_initial_load() {
        let mut f = Follower::new(false);
        assert_eq!(f.step(&Ok(Poll::Missing)), Step::Waiting { announce: true, record_from_now: true });
        assert_eq!(f.step(&read(true)), Step::Read { loaded: false, announce_reset: None });
    }
}
