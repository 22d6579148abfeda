#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets/) for SECONDS each, one after the other, and prints a
# summary: executions per target and whether it crashed.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     SECONDS defaults to 60; TARGETs default to all of them
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`). New inputs go to a
# scratch corpus (fuzz/target/corpus/<target>/); the committed seeds in fuzz/corpus/<target>/ are read,
# not written. With FUZZ_MERGE=1, scratch inputs that add coverage are merged into fuzz/corpus/ (then
# `cargo +nightly fuzz cmin <target>` keeps it small). Crashes go to fuzz/artifacts/<target>/; once fixed,
# commit the input under fuzz/regressions/<target>/, which `cargo test --test fuzz_corpus` replays.
# CARGO_TARGET_DIR defaults to ~/.cache/dbl-fuzz-target; FUZZ_JOBS (default 1) runs that many libFuzzer
# workers per target (-fork).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${1:-60}
shift || true
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/dbl-fuzz-target}
if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

echo "== building ${targets[*]}"
for target in "${targets[@]}"; do
  cargo +nightly fuzz build "$target"
done

logs=target/logs
mkdir -p "$logs"
declare -A runs outcome
failed=0
for target in "${targets[@]}"; do
  echo "== fuzzing $target for ${seconds}s"
  scratch=target/corpus/$target
  mkdir -p "$scratch" "corpus/$target"
  args=(-max_total_time="$seconds" -print_final_stats=1 -timeout=30)
  [ -f "dicts/$target.dict" ] && args+=(-dict="dicts/$target.dict")
  [ "${FUZZ_JOBS:-1}" -gt 1 ] && args+=(-fork="$FUZZ_JOBS")
  log=$logs/$target.log
  if cargo +nightly fuzz run "$target" "$scratch" "corpus/$target" -- "${args[@]}" >"$log" 2>&1; then
    outcome[$target]=ok
  else
    outcome[$target]="CRASH: $(grep -oE "Test unit written to \S+" "$log" | tail -1 | awk '{print $NF}' || true)"
    failed=1
    grep -E "panicked at|ERROR: libFuzzer|SUMMARY" "$log" | head -5 || true
  fi
  # libFuzzer's final count: `stat::number_of_executed_units`, else the last `#N` status line.
  n=$(grep -oE "stat::number_of_executed_units: [0-9]+" "$log" | tail -1 | awk '{print $2}' || true)
  [ -n "$n" ] || n=$(grep -oE "^#[0-9]+" "$log" | tail -1 | tr -d '#' || true)
  runs[$target]=${n:-?}
  if [ "${FUZZ_MERGE:-0}" = 1 ] && [ "${outcome[$target]}" = ok ]; then
    cargo +nightly fuzz run "$target" "corpus/$target" "$scratch" -- -merge=1 >>"$log" 2>&1
  fi
done

echo
echo "== summary (${seconds}s per target; logs in fuzz/$logs/)"
printf '%-16s %14s  %s\n' target executions outcome
for target in "${targets[@]}"; do
  printf '%-16s %14s  %s\n' "$target" "${runs[$target]}" "${outcome[$target]}"
done
exit $failed
