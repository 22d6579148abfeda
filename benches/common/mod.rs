//! What the criterion benches share: the state of the simulated log they measure on.

use dbl::sim::{generate, SimConfig};
use dbl::state::BuildState;

/// The state of `dbl simulate --events N --seed 1`: N is `DBL_BENCH_EVENTS`, 1,000,000 by default.
pub fn simulated_state() -> BuildState {
    let events = std::env::var("DBL_BENCH_EVENTS").ok().and_then(|n| n.parse().ok()).unwrap_or(1_000_000);
    let mut state = BuildState::new();
    generate(SimConfig { events, seed: 1 }, &mut |event| {
        state.apply(event, 0);
        Ok(())
    })
    .expect("applying to a state cannot fail");
    state
}
