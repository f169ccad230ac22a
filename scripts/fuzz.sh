#!/usr/bin/env bash
# Runs each cargo-fuzz target (fuzz/fuzz_targets/) for a bounded time.
#
#   scripts/fuzz.sh [SECONDS] [TARGET…]     default: 60 s each, every target
#
# Installs cargo-fuzz when absent. cargo-fuzz needs nightly flags; on the stable toolchain
# RUSTC_BOOTSTRAP=1 allows them. The targets are built without a sanitizer (`-s none`): the
# workspace has no `unsafe` code, what is looked for is panics (including arithmetic overflow,
# checked in these builds) and broken invariants, and AddressSanitizer would double the build.
# Corpora live in fuzz/corpus/TARGET (kept between runs, not committed); each run first writes
# the seeds (shipped programme definitions, domain::fixtures forms, the walk of every programme
# as command bodies) into it. A crash leaves its input in fuzz/artifacts/TARGET/ and makes the
# script fail; reproduce it with `RUSTC_BOOTSTRAP=1 cargo fuzz run -s none TARGET FILE` in fuzz/.
#
# Environment: SUBSIDY_FUZZ_TARGET_DIR (the fuzz build's target directory, default
# fuzz/target), SUBSIDY_FUZZ_JOBS (cargo build jobs), SUBSIDY_FUZZ_DEV=1 (an unoptimised build:
# about 2.5 times less CPU to build from scratch, but some 50 times fewer executions a second,
# so scripts/test.sh does not use it).
set -euo pipefail
cd "$(dirname "$0")/.."

SECS="${1:-60}"
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  TARGETS=(programme_definition form command_body)
fi

export RUSTC_BOOTSTRAP=1
export PATH="$HOME/.cargo/bin:$PATH"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

TARGET_DIR="${SUBSIDY_FUZZ_TARGET_DIR:-$PWD/fuzz/target}"
BUILD_FLAGS=(-s none --codegen-units 16 --target-dir "$TARGET_DIR")
if [ -n "${SUBSIDY_FUZZ_JOBS:-}" ]; then BUILD_FLAGS+=(--jobs "$SUBSIDY_FUZZ_JOBS"); fi
if [ "${SUBSIDY_FUZZ_DEV:-0}" = 1 ]; then BUILD_FLAGS+=(--dev); fi

echo "== building the fuzz targets"
start=$(date +%s)
(cd fuzz && cargo fuzz build "${BUILD_FLAGS[@]}")
echo "built in $(($(date +%s) - start)) s"

failed=()
summary=()
for t in "${TARGETS[@]}"; do
  corpus="$PWD/fuzz/corpus/$t"
  log="$TARGET_DIR/fuzz-$t.log"
  mkdir -p "$corpus" "$PWD/fuzz/artifacts/$t"
  echo "== fuzzing $t for $SECS s"
  set +e
  (cd fuzz && SUBSIDY_FUZZ_SEEDS="$corpus" cargo fuzz run "${BUILD_FLAGS[@]}" "$t" "$corpus" -- \
    -max_total_time="$SECS" -timeout=20 -print_final_stats=1 >"$log" 2>&1)
  rc=$?
  set -e
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1 || true)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$' || true)
  if [ "$rc" -eq 0 ]; then
    summary+=("$t: ${runs:-?} executions in $SECS s, coverage ${cov:-?} edges, no crash")
  else
    failed+=("$t")
    summary+=("$t: FAILED (exit $rc) after ${runs:-?} executions; see $log")
    grep -E 'panicked|ERROR|SUMMARY|Test unit written|^thread' "$log" | head -n 20 || true
    tail -n 30 "$log"
  fi
done

echo
echo "== fuzz summary"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "crashing targets: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
