#!/usr/bin/env bash
# Checks that the committed lineage-graph bundle, web/dist/graph.js (embedded in the dbl binary), is exactly
# what `npm ci && npm run build` in web/ produces from web/src and the locked dependencies.
set -euo pipefail
cd "$(dirname "$0")/../web"
committed=$(mktemp)
trap 'cp "$committed" dist/graph.js; rm -f "$committed"' EXIT
cp dist/graph.js "$committed"
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json .ci-installed-lock 2>/dev/null; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json .ci-installed-lock
fi
npm run --silent build >/dev/null
if ! cmp -s "$committed" dist/graph.js; then
  echo "web/dist/graph.js is not what \`npm run build\` in web/ produces: run it and commit the result" >&2
  diff <(tr ';' '\n' <"$committed") <(tr ';' '\n' <dist/graph.js) | head -20 >&2 || true
  exit 1
fi
echo "web/dist/graph.js matches its sources"
