#!/usr/bin/env bash
# The one test command (README): prepares what the tests need on a fresh Debian machine —
# PostgreSQL (installed with apt-get and started when absent), the SMTP test server package,
# headless Chromium with chromedriver —
# then runs formatting and lint checks and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

apt_install() {
  log "installing $*"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq || true
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

# --- PostgreSQL -----------------------------------------------------------------------------
# Tests use TEST_DATABASE_URL (an admin connection; each test creates its own database).
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}"

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  apt_install postgresql postgresql-client
fi
if ! pg_up; then
  log "starting PostgreSQL"
  for v in $(ls /etc/postgresql); do
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$v" main start || true
  done
  for _ in $(seq 1 60); do pg_up && break; sleep 0.5; done
fi
pg_up || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
# A freshly installed cluster asks for a password on TCP: give the postgres role the one in
# TEST_DATABASE_URL. (On a machine with trust auth this changes nothing that matters.)
if ! psql "$TEST_DATABASE_URL" -Atqc 'select 1' >/dev/null 2>&1; then
  log "setting the postgres role's password for TCP connections"
  sql="ALTER USER postgres PASSWORD 'postgres'"
  if [ "$(id -u)" -eq 0 ]; then
    su postgres -c "psql -qc \"$sql\""
  else
    sudo -u postgres psql -qc "$sql"
  fi
fi
psql "$TEST_DATABASE_URL" -Atqc 'select 1' >/dev/null

# --- SMTP test server -----------------------------------------------------------------------
# The reminder tests start their own real SMTP server process (Debian's python3-aiosmtpd).
if ! /usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1; then
  apt_install python3-aiosmtpd
fi
export SMTP_TEST_PYTHON=/usr/bin/python3

# --- Headless browser -----------------------------------------------------------------------
# The page tests (tests/tests/web) drive Debian's Chromium through chromedriver; a CJK font
# makes the Chinese screenshots readable.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1 \
   || ! fc-list 2>/dev/null | grep -qi 'wenquanyi zen hei'; then
  apt_install chromium chromium-driver fonts-wqy-zenhei
fi

# --- Rust checks and tests ------------------------------------------------------------------
log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
log "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
cargo test --workspace --locked --doc

# --- Hardening: API conformance, dependency policy -----------------------------------------
# The fuzz targets' smoke run is a test (tests/tests/fuzz_smoke.rs, above); coverage-guided
# fuzzing is scripts/fuzz.sh, run by hand (its instrumented build takes ~20 min the first time).
# Each step below installs its tool when absent (Schemathesis in a venv, cargo-deny).
timed() {
  local start=$SECONDS
  "$@"
  printf '(%s took %d s)\n' "$*" $((SECONDS - start))
}
log "API conformance (Schemathesis) and store scan"
timed scripts/schemathesis.sh
log "benchmark smoke run (scripts/bench.sh --smoke: every benchmark at tiny sizes, so none rots)"
timed scripts/bench.sh --smoke
log "cargo deny (licences, bans, sources)"
deny_check() {
  if ! cargo deny --version >/dev/null 2>&1; then cargo install cargo-deny --locked; fi
  cargo deny --locked check licenses bans sources
}
timed deny_check
log "all green"
