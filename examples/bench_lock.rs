//! How long a short read (a hover) waits for the state's lock while a long reader (a view) and the
//! ingest thread take turns: `live::lock::StateLock` against a plain `RwLock`, in the same run.
//! Prints one JSON object on stdout.
//!
//! ```text
//! cargo run --release --example bench_lock -- [--seconds 10] [--view-ms 3] [--write-us 200] [--append-ms 20]
//! ```
//!
//! Three threads per lock: a view reading for `--view-ms` with a 1 ms pause between reads (as one view
//! at a time runs in the daemon, back to back when tools keep asking), a writer writing for
//! `--write-us` every `--append-ms` (an append), and a hover reading briefly every millisecond, which
//! records how long it waited. The writer records its waits too: the turnstile must not starve it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use clap::Parser;
use dbl::live::lock::StateLock;
use dbl::state::BuildState;
use serde_json::json;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    #[arg(long = "view-ms", default_value_t = 3.0)]
    view_ms: f64,
    #[arg(long = "write-us", default_value_t = 200.0)]
    write_us: f64,
    #[arg(long = "append-ms", default_value_t = 20.0)]
    append_ms: f64,
}

/// The three ways of taking the lock, so both locks run the same workload.
trait Lock: Sync {
    fn long_read(&self, hold: Duration);
    fn short_read(&self);
    fn write(&self, hold: Duration);
}

/// Busy for `hold` (a view or a write is CPU work, not sleep).
fn spin(hold: Duration) {
    let until = Instant::now() + hold;
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

impl Lock for RwLock<BuildState> {
    fn long_read(&self, hold: Duration) {
        let _state = self.read().unwrap();
        spin(hold);
    }
    fn short_read(&self) {
        std::hint::black_box(self.read().unwrap().events_applied());
    }
    fn write(&self, hold: Duration) {
        let _state = self.write().unwrap();
        spin(hold);
    }
}

impl Lock for StateLock {
    fn long_read(&self, hold: Duration) {
        let _state = self.read_long();
        spin(hold);
    }
    fn short_read(&self) {
        std::hint::black_box(self.read().events_applied());
    }
    fn write(&self, hold: Duration) {
        let _state = self.write();
        spin(hold);
    }
}

fn percentiles(mut waits: Vec<Duration>) -> serde_json::Value {
    waits.sort();
    let at = |p: f64| waits[((waits.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e6;
    json!({ "n": waits.len(), "p50_us": at(0.5), "p99_us": at(0.99), "max_us": at(1.0) })
}

fn run(lock: &dyn Lock, args: &Args) -> serde_json::Value {
    let stop = AtomicBool::new(false);
    let (view, write) = (Duration::from_secs_f64(args.view_ms / 1e3), Duration::from_secs_f64(args.write_us / 1e6));
    let append = Duration::from_secs_f64(args.append_ms / 1e3);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                lock.long_read(view);
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        let writer = scope.spawn(|| {
            let mut waits = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(append);
                let asked = Instant::now();
                lock.write(write);
                waits.push(asked.elapsed().saturating_sub(write));
            }
            waits
        });
        let hover = scope.spawn(|| {
            let mut waits = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(1));
                let asked = Instant::now();
                lock.short_read();
                waits.push(asked.elapsed());
            }
            waits
        });
        std::thread::sleep(Duration::from_secs_f64(args.seconds));
        stop.store(true, Ordering::Relaxed);
        let writer = writer.join().unwrap();
        json!({ "short_read_wait": percentiles(hover.join().unwrap()), "write_wait": percentiles(writer) })
    })
}

fn main() {
    let args = Args::parse();
    let plain = run(&RwLock::new(BuildState::new()), &args);
    let turnstile = run(&StateLock::default(), &args);
    let report = json!({
        "view_ms": args.view_ms, "write_us": args.write_us, "append_ms": args.append_ms, "seconds": args.seconds,
        "plain_rwlock": plain, "state_lock": turnstile,
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}
