#!/usr/bin/env bash
# Runs the editor tests with real clients (install them first with .ci/install-clients.sh):
#   1. the VS Code extension's lint, typecheck, unit tests and .vsix packaging;
#   2. headless Neovim 0.7 and vscode-languageserver-protocol against `dbl serve --stdio`
#      (tests/editor_clients.rs, with CI=true so a missing client fails);
#   3. the packaged extension in code-server 4.100.3 + Chromium via puppeteer-core, saving
#      screenshots in editors/vscode/test-artifacts/;
#   4. the web pages: the committed graph bundle is what its sources build (.ci/check-web-bundle.sh),
#      and the pages of the real `dbl serve --listen` in Chromium via playwright-core (tests/web/),
#      saving screenshots and timings in tests/web/test-artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
CODE_SERVER_DIR="${DBL_CODE_SERVER_DIR:-$HOME/.cache/dbl-clients/code-server-4.100.3}"
export npm_config_update_notifier=false
# The daemons these tests start keep their snapshots here, not in the user's ~/.cache/dbl.
TEST_CACHE=$(mktemp -d)
trap 'rm -rf "$TEST_CACHE"' EXIT

step() { echo "test-clients: $*" >&2; }
timed() {
  local name=$1; shift
  local start=$SECONDS
  "$@"
  step "$name passed in $((SECONDS - start)) s"
}

extension() {
  cd "$REPO/editors/vscode"
  npm run --silent lint
  npm run --silent typecheck
  npm test --silent
  npm run --silent package
  test -s databuild-lineage.vsix
  cd "$REPO"
}

lsp_clients() {
  CI=true cargo test --quiet --test editor_clients -- --nocapture
}

code_server_e2e() {
  local bin="$CODE_SERVER_DIR/node_modules/.bin/code-server"
  [ -x "$bin" ] || { step "code-server is not installed in $CODE_SERVER_DIR: run .ci/install-clients.sh"; return 1; }
  [ -x /usr/bin/chromium ] || { step "/usr/bin/chromium is missing: run .ci/install-clients.sh"; return 1; }
  (cd tests/clients && export XDG_CACHE_HOME="$TEST_CACHE" &&
    DBL="$CARGO_TARGET_DIR/debug/dbl" VSIX="$REPO/editors/vscode/databuild-lineage.vsix" CODE_SERVER="$bin" \
      DBL_FIXTURE="$REPO/tests/clients/fixtures/demo.jsonl" ARTIFACTS="$REPO/editors/vscode/test-artifacts" \
      timeout 300 node code-server-e2e.mjs)
}

web_bundle() {
  bash .ci/check-web-bundle.sh
}

web_pages() {
  [ -x /usr/bin/chromium ] || { step "/usr/bin/chromium is missing: run .ci/install-clients.sh"; return 1; }
  (cd tests/web && export XDG_CACHE_HOME="$TEST_CACHE" && CI=true DBL="$CARGO_TARGET_DIR/debug/dbl" timeout 900 npm test --silent)
}

total=$SECONDS
# --all-targets: the same feature set as `cargo test`, so this reuses its build instead of redoing it.
timed "cargo build" cargo build --quiet --all-targets
timed "extension lint/typecheck/test/package" extension
timed "Neovim + Node LSP clients" lsp_clients
timed "web bundle matches its sources" web_bundle
timed "web pages in Chromium" web_pages
timed "code-server + Chromium end-to-end" code_server_e2e
step "all client tests passed in $((SECONDS - total)) s"
