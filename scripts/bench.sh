#!/usr/bin/env bash
# The benchmark report against the peers (issue 13), in one run: BENCHMARKS.md describes every row.
#
#   scripts/bench.sh [--events 1000000,10000000] [--large] [--skip duckdb,sqlite,live] [--out FILE]
#                    [--live-seconds 30] [--dir DIR] [--wait-quiet SECONDS]
#
# For each size: `dbl simulate` logs (binary and JSON lines, seed 1; kept in DIR and reused), `dbl status` on
# both (best of 3), examples/bench_peers.rs (decode only, apply + query, lineage, SQLite), `dbl lineage
# --no-daemon` on both (median of 3: a full replay per request; the first answer from JSON lines),
# scripts/bench_duckdb.py (DuckDB from PyPI, in a venv under ~/.cache/dbl-bench-venv; median of 3) and
# examples/bench_live.rs (the daemon under load), then once examples/bench_lock.rs (a hover behind a view and
# a write, on the state's lock against a plain RwLock). scripts/bench_report.py turns the results into markdown:
# on stdout and in FILE (default target/bench-report.md). --large adds 100,000,000 events, for `dbl status`
# only (load time and peak memory; the peers would take hours to ingest that many, and the daemon's live
# phases are measured at 10M). A step that fails is reported as such; the rest of the report is still
# written. --wait-quiet waits (at most SECONDS) for the 1-minute load average to fall below 1.5 before
# measuring. The report gives the load average at the start and the end, and the CPU time other processes
# took during the run (/proc/stat less this script's children).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

EVENTS=1000000,10000000
SKIP=""
OUT=target/bench-report.md
LIVE_SECONDS=30
DIR=""
while [ $# -gt 0 ]; do
  case "$1" in
    --events) EVENTS=$2; shift 2 ;;
    --large) LARGE=1; shift ;;
    --skip) SKIP=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --live-seconds) LIVE_SECONDS=$2; shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    --wait-quiet) WAIT_QUIET=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "${LARGE:-}" ] && EVENTS="$EVENTS,100000000"
skipped() { [[ ",$SKIP," == *",$1,"* ]]; }

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
DIR=${DIR:-$CARGO_TARGET_DIR/bench}
RESULTS="$DIR/results-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$DIR" "$RESULTS" "$(dirname "$OUT")"
say() { echo "bench.sh: $*" >&2; }

say "building (release: dbl and the examples)"
cargo build --release --bin dbl --examples >&2
DBL="$CARGO_TARGET_DIR/release/dbl"
EXAMPLES="$CARGO_TARGET_DIR/release/examples"

VENV="${DBL_BENCH_VENV:-$HOME/.cache/dbl-bench-venv}"
if ! skipped duckdb && ! "$VENV/bin/python" -c 'import duckdb' 2>/dev/null; then
  say "installing DuckDB from PyPI into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet duckdb >&2
fi

machine() {
  echo "{\"cores\": $(nproc), \"loadavg\": \"$(cut -d' ' -f1-3 /proc/loadavg)\","
  echo " \"cpu\": \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')\","
  echo " \"mem_gib\": $(awk '/MemTotal/ {printf "%.1f", $2 / 1048576}' /proc/meminfo),"
  echo " \"commit\": \"$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || echo '+uncommitted')\","
  echo " \"date\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"}"
}
load1() { cut -d' ' -f1 /proc/loadavg; }
if [ -n "${WAIT_QUIET:-}" ]; then
  waited=0
  while awk "BEGIN {exit !($(load1) >= 1.5)}" && [ "$waited" -lt "$WAIT_QUIET" ]; do
    [ $((waited % 60)) -eq 0 ] && say "waiting for a quiet machine (load average $(load1))"
    sleep 10; waited=$((waited + 10))
  done
fi
# The machine's busy CPU time and this script's children's, at the start and the end.
cpu_snapshot() { head -1 /proc/stat; getconf CLK_TCK; times; }
machine > "$RESULTS/machine-start.json"
cpu_snapshot > "$RESULTS/cpu-start.txt"
LOAD1=$(load1)
if awk "BEGIN {exit !($LOAD1 > 1.5)}"; then
  say "WARNING: load average $LOAD1 on $(nproc) cores: the figures will be noisy"
fi

# Runs a step; its failure is noted in the results, not fatal.
step() {
  local name=$1; shift
  say "$name"
  if ! "$@"; then
    say "FAILED: $name (exit $?)"
    echo "$name" >> "$RESULTS/failed.txt"
    return 1
  fi
}

status_runs() { # N FORMAT LOG
  local n=$1 fmt=$2 log=$3 runs=3
  [ "$n" -gt 10000000 ] && runs=1
  for r in $(seq 1 $runs); do
    local start end
    start=$(date +%s.%N)
    "$DBL" status --no-daemon --log "$log" > /dev/null 2> "$RESULTS/status-$n-$fmt-$r.txt"
    end=$(date +%s.%N)
    echo "wall $(awk "BEGIN {print $end - $start}")" >> "$RESULTS/status-$n-$fmt-$r.txt"
  done
}

# databuild's own server, and dbl's first answer from JSON lines: the real binary loads the log and answers
# one request (the focus bench_peers chose, downstream, depth 3), as a one-shot view does.
cli_lineage_runs() { # N FORMAT LOG UUID
  local n=$1 fmt=$2 log=$3 uuid=$4 runs=3 start end
  [ "$n" -gt 10000000 ] && runs=1
  for r in $(seq 1 $runs); do
    start=$(date +%s.%N)
    "$DBL" lineage --no-daemon --log "$log" --direction downstream --depth 3 --fanout 1000 --format json "$uuid" \
      > "$RESULTS/lineage-$n-$fmt.json"
    end=$(date +%s.%N)
    awk "BEGIN {print $end - $start}" >> "$RESULTS/lineage-$n-$fmt.wall"
  done
}

duckdb_runs() { # N JSONL RUN REF
  local n=$1 runs=3
  [ "$n" -gt 10000000 ] && runs=1
  for r in $(seq 1 $runs); do
    "$VENV/bin/python" "$ROOT/scripts/bench_duckdb.py" "$2" --focus-run "$3" --focus-ref "$4" > "$RESULTS/duckdb-$n-$r.json"
  done
}

IFS=, read -ra SIZES <<< "$EVENTS"
for n in "${SIZES[@]}"; do
  bel="$DIR/sim-$n.bel"; jsonl="$DIR/sim-$n.jsonl"
  [ -s "$bel" ] || step "simulate $n events (bel)" "$DBL" simulate --out "$bel" --events "$n" --seed 1 || continue
  [ -s "$jsonl" ] || step "simulate $n events (jsonl)" "$DBL" simulate --out "$jsonl" --events "$n" --seed 1 --format jsonl || continue
  step "dbl status, $n events, binary" status_runs "$n" bel "$bel" || true
  step "dbl status, $n events, JSON lines" status_runs "$n" jsonl "$jsonl" || true
  if [ "$n" -gt 10000000 ]; then
    say "$n events: dbl status only (see --help)"
    continue
  fi

  peer_flags=(--bel "$bel" --jsonl "$jsonl" --sqlite-db "$DIR/peers-$n.sqlite")
  skipped sqlite && peer_flags+=(--skip-sqlite)
  step "bench_peers, $n events" sh -c '"$0" "$@" > "'"$RESULTS/peers-$n.json"'"' "$EXAMPLES/bench_peers" "${peer_flags[@]}" || true

  if [ -s "$RESULTS/peers-$n.json" ]; then
    focus() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["focus"][sys.argv[2]])' "$RESULTS/peers-$n.json" "$1"; }
    focus_uuid=$(focus uuid); focus_run=$(focus job_run_id); focus_ref=$(focus ref)
    step "dbl lineage --no-daemon (a full replay per request), $n events, binary" cli_lineage_runs "$n" bel "$bel" "$focus_uuid" || true
    step "dbl lineage --no-daemon (first answer), $n events, JSON lines" cli_lineage_runs "$n" jsonl "$jsonl" "$focus_uuid" || true
    if ! skipped duckdb; then
      step "DuckDB, $n events" duckdb_runs "$n" "$jsonl" "$focus_run" "$focus_ref" || true
    fi
  fi

  if ! skipped live; then
    quiet=$(( LIVE_SECONDS / 3 > 5 ? LIVE_SECONDS / 3 : 5 ))
    step "live daemon, $n events" sh -c '"$0" "$@" > "'"$RESULTS/live-$n.json"'"' "$EXAMPLES/bench_live" \
      --dbl "$DBL" --log "$bel" --quiet-seconds "$quiet" --busy-seconds "$LIVE_SECONDS" || true
  fi
done
if ! skipped live; then
  step "the state's lock: a hover's wait behind a view and a write" sh -c '"$0" "$@" > "'"$RESULTS/lock.json"'"' \
    "$EXAMPLES/bench_lock" --seconds 10 || true
fi
machine > "$RESULTS/machine-end.json"
cpu_snapshot > "$RESULTS/cpu-end.txt"

python3 "$ROOT/scripts/bench_report.py" "$RESULTS" --events "$EVENTS" | tee "$OUT"
say "report: $OUT (raw results: $RESULTS)"
