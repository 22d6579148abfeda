#!/usr/bin/env bash
# The long soak run (tests/soak.rs): a log appended in random pieces, truncated and replaced, while 8
# WebSocket clients query and subscribe and an LSP client edits and hovers. CI runs a 30 s variant in
# debug; this runs SECONDS (default 300) in release, with larger rounds. DBL_SOAK_SEED picks the run.
set -euo pipefail
cd "$(dirname "$0")/.."
DBL_SOAK_SECONDS="${1:-300}" DBL_SOAK_MAX_EVENTS="${DBL_SOAK_MAX_EVENTS:-50000}" \
  cargo test --release --test soak -- --nocapture
