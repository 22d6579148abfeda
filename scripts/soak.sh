#!/usr/bin/env bash
# A soak run of the daemon against a log that is appended in random pieces, truncated and replaced
# (tests/soak.rs). Not part of CI: it runs for SECONDS (default 300). DBL_SOAK_SEED picks the run.
set -euo pipefail
cd "$(dirname "$0")/.."
DBL_SOAK_SECONDS="${1:-300}" cargo test --release --test soak -- --ignored --nocapture
