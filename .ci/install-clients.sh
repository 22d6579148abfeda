#!/usr/bin/env bash
# Installs the real editor clients the client tests drive (see tests/clients/README.md), idempotently:
# apt packages (Neovim 0.7, Chromium, the toolchain code-server's native modules need, ripgrep, PostgreSQL
# for tests/sources.rs),
# the npm dependencies of editors/vscode, tests/clients, web (the graph bundle) and tests/web (playwright-core)
# (npm ci), and code-server 4.100.3 (the
# last that runs on Node 20) into $DBL_CODE_SERVER_DIR. Prints how long each step took.
set -euo pipefail
cd "$(dirname "$0")/.."

CODE_SERVER_VERSION=4.100.3
CODE_SERVER_DIR="${DBL_CODE_SERVER_DIR:-$HOME/.cache/dbl-clients/code-server-$CODE_SERVER_VERSION}"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

step() { echo "install-clients: $*" >&2; }
timed() {
  local name=$1; shift
  local start=$SECONDS
  "$@"
  step "$name took $((SECONDS - start)) s"
}

apt_packages() {
  local missing=()
  for pkg in neovim chromium build-essential pkg-config libkrb5-dev ripgrep postgresql; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    step "apt packages already installed"
    return
  fi
  step "apt-get install ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

npm_ci() {
  local dir=$1
  if [ -f "$dir/node_modules/.package-lock.json" ] && cmp -s "$dir/package-lock.json" "$dir/.ci-installed-lock" 2>/dev/null; then
    step "$dir: node_modules up to date"
    return
  fi
  step "npm ci in $dir"
  (cd "$dir" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  cp "$dir/package-lock.json" "$dir/.ci-installed-lock"
}

code_server() {
  if [ -x "$CODE_SERVER_DIR/node_modules/.bin/code-server" ] &&
    "$CODE_SERVER_DIR/node_modules/.bin/code-server" --version 2>/dev/null | grep -q "^$CODE_SERVER_VERSION "; then
    step "code-server $CODE_SERVER_VERSION already installed in $CODE_SERVER_DIR"
    return
  fi
  # @vscode/ripgrep's postinstall downloads rg from GitHub, which is unreachable: seed its cache
  # with Debian's rg, packed the way it expects.
  local cache=/tmp/vscode-ripgrep-cache-1.15.11
  local tarball=$cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz
  if [ ! -s "$tarball" ]; then
    mkdir -p "$cache" "$cache/stage"
    cp "$(command -v rg)" "$cache/stage/rg"
    tar -C "$cache/stage" -czf "$tarball" rg
  fi
  mkdir -p "$CODE_SERVER_DIR"
  cd "$CODE_SERVER_DIR"
  [ -f package.json ] || echo '{"name":"dbl-code-server","private":true}' >package.json
  step "npm install code-server@$CODE_SERVER_VERSION in $CODE_SERVER_DIR (builds native modules; slow)"
  npm_config_yes=true npm install --no-audit --no-fund --loglevel=error --unsafe-perm \
    --dangerously-allow-all-scripts "code-server@$CODE_SERVER_VERSION"
  "$CODE_SERVER_DIR/node_modules/.bin/code-server" --version | head -1
  cd - >/dev/null
}

total=$SECONDS
timed "apt packages" apt_packages
timed "npm ci editors/vscode" npm_ci editors/vscode
timed "npm ci tests/clients" npm_ci tests/clients
timed "npm ci web" npm_ci web
timed "npm ci tests/web" npm_ci tests/web
timed "code-server" code_server
step "all clients installed in $((SECONDS - total)) s"
