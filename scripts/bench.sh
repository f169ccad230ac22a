#!/usr/bin/env bash
# The benchmark suite (BENCHMARKS.md, "Write path" and "Persisted projections at scale").
#   scripts/bench.sh           the full run: release build, append at 1/8/32 writers on both
#                              backends beside pgbench, a plain SQLite loop and the Python peer,
#                              then the scale benchmarks on 100,000 generated projects per backend.
#                              Results in target/bench/*.md. About 25 min on 2 cores (generation
#                              and the projection rebuilds take most of it).
#   scripts/bench.sh --smoke   tiny sizes, dev profile: proves every benchmark still runs (CI).
# Installs what it needs when absent: PostgreSQL (pgbench ships with the server package), a venv
# with the Python `eventsourcing` library (the peer). Expects PostgreSQL on 127.0.0.1:5432 as
# scripts/test.sh leaves it (TEST_DATABASE_URL, an admin connection).
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=full
[ "${1:-}" = "--smoke" ] && MODE=smoke
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}"
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
log() { printf '\n== %s\n' "$*"; }

if ! command -v pgbench >/dev/null 2>&1; then
  log "installing pgbench (postgresql)"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq || true
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-client
fi
pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not reachable on 127.0.0.1:5432 (run scripts/test.sh once, or start it)" >&2; exit 1; }

VENV=target/bench-venv
if ! "$VENV/bin/python" -c 'import eventsourcing.postgres' >/dev/null 2>&1; then
  log "installing the Python peer (eventsourcing) in $VENV"
  python3 -m venv "$VENV" || {
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
    python3 -m venv "$VENV"
  }
  "$VENV/bin/pip" install -q 'eventsourcing[postgres]==9.5.6'
fi
PEER="$VENV/bin/python"
OUT=target/bench
mkdir -p "$OUT"

if [ "$MODE" = smoke ]; then
  log "benchmark smoke run (tiny sizes, dev profile)"
  cargo build -q -p api -p tests --examples --bins
  target/debug/examples/append_bench --smoke --peer "$PEER" | tee "$OUT/append-smoke.md"
  rm -rf "$OUT/smoke-sqlite"
  target/debug/examples/scale_data --data-dir "$OUT/smoke-sqlite" --projects 60 --seed 20260901
  target/debug/examples/scale_bench --data-dir "$OUT/smoke-sqlite" --subsidy target/debug/subsidy \
    --runs 1 --seconds 1 --clients 4 --rebuilds 1 | tee "$OUT/scale-smoke.md"
  exit 0
fi

log "release build"
cargo build --release -p api -p tests --examples --bins
log "append: store and HTTP beside pgbench, a plain SQLite loop and the Python peer"
target/release/examples/append_bench --peer "$PEER" --seconds 5 --rounds 3 | tee "$OUT/append.md"
log "scale: 100,000 projects per backend"
db="bench_scale_$$"
psql "$TEST_DATABASE_URL" -qc "CREATE DATABASE $db"
url="${TEST_DATABASE_URL%/*}/$db"
target/release/examples/scale_data --database-url "$url" --projects 100000 --seed 20260901
target/release/examples/scale_bench --database-url "$url" --subsidy target/release/subsidy \
  --runs 5 --seconds 10 --rebuilds 1 | tee "$OUT/scale-postgres.md"
psql "$TEST_DATABASE_URL" -qc "DROP DATABASE $db WITH (FORCE)"
rm -rf "$OUT/scale-sqlite"
target/release/examples/scale_data --data-dir "$OUT/scale-sqlite" --projects 100000 --seed 20260901
target/release/examples/scale_bench --data-dir "$OUT/scale-sqlite" --subsidy target/release/subsidy \
  --runs 5 --seconds 10 --rebuilds 1 | tee "$OUT/scale-sqlite.md"
