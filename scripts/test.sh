#!/usr/bin/env bash
# The project's test command (README): every Rust test, then the editor and real-client tests.
# Under CI=true a missing real client is a failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo build (every target, benches included, so none rots)"
cargo build --all-targets --locked
echo "== cargo test"
cargo test --lib --bins --tests --locked

if [ -f .ci/test-clients.sh ]; then
  echo "== editor extension and real LSP clients"
  bash .ci/test-clients.sh
fi
