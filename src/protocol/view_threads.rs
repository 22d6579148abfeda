//! The threads views are built on: one fewer than the cores (at least one), at a lower CPU priority.
//!
//! A view is batch work next to what an editor waits on. However many tools ask for views, they take
//! turns on these threads, so a core stays free for hovers, lenses, change notices and ingest; and
//! when the two still meet on a core, the scheduler favours the interactive side (nice +5 gives a view
//! about a quarter of a contended core, all of an idle one). A thread's priority cannot be raised back
//! without privileges, so views get threads of their own rather than lowering tokio's blocking pool.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::{mpsc, Arc, LazyLock, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// How much lower than the daemon's other threads views run (`nice` steps).
const NICENESS: i32 = 5;

static VIEW_THREADS: LazyLock<mpsc::Sender<Job>> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    start(cores.saturating_sub(1).max(1))
});

fn start(threads: usize) -> mpsc::Sender<Job> {
    let (jobs, queue) = mpsc::channel::<Job>();
    let queue = Arc::new(Mutex::new(queue));
    for i in 0..threads {
        let queue = queue.clone();
        std::thread::Builder::new()
            .name(format!("dbl-view-{i}"))
            .spawn(move || {
                lower_priority();
                loop {
                    // The lock is held only while waiting for the next job, not while running it.
                    let job = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            })
            .expect("spawning a view thread");
    }
    jobs
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    // SAFETY: plain integer arguments; on Linux the niceness is per thread, so this one alone is lowered.
    let failed = unsafe {
        let tid = libc::gettid() as libc::id_t;
        let now = libc::getpriority(libc::PRIO_PROCESS, tid);
        libc::setpriority(libc::PRIO_PROCESS, tid, now + NICENESS) != 0
    };
    if failed {
        tracing::debug!("views run at the daemon's priority: {}", std::io::Error::last_os_error());
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

/// Builds `build`'s result on a view thread, in its turn. A panic is returned, not propagated.
pub async fn in_turn<T: Send + 'static>(build: impl FnOnce() -> T + Send + 'static) -> Result<T, Box<dyn Any + Send>> {
    let (answer, answered) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        // The asker may be gone (a closed connection): then the answer is dropped.
        let _ = answer.send(std::panic::catch_unwind(AssertUnwindSafe(build)));
    });
    VIEW_THREADS.send(job).expect("view threads never stop");
    answered.await.expect("a view thread answers every job it takes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn views_run_on_their_own_lower_priority_threads_and_a_panic_comes_back_as_an_error() {
        let (name, nice) = in_turn(|| {
            // SAFETY: reads this thread's niceness.
            let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
            (std::thread::current().name().map(str::to_owned), nice)
        })
        .await
        .unwrap();
        assert!(name.is_some_and(|n| n.starts_with("dbl-view-")));
        // SAFETY: reads this thread's niceness.
        let ours = unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
        assert_eq!(nice, (ours + NICENESS).min(19));
        assert!(in_turn(|| panic!("a broken view")).await.is_err());
        assert_eq!(in_turn(|| 2 + 2).await.unwrap(), 4, "the thread survives a panic");
    }
}
