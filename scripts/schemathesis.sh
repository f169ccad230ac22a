#!/usr/bin/env bash
# API conformance: Schemathesis (from PyPI) against the running server's own spec.
#
#   scripts/schemathesis.sh [MAX_EXAMPLES]      default 10 examples per operation and phase
#
# Starts `subsidy serve` (demo data, demo accounts) on a fresh temporary data directory and a
# free port with reminders off, logs in the officer and the supervisor, and runs Schemathesis
# against /openapi.json with each token, checking: no 5xx (not_a_server_error), every status
# code, content type and response body as the spec says (status_code_conformance,
# content_type_conformance, response_schema_conformance). Then it stops the server and scans
# the store (tests/examples/store_scan.rs): every event that the fuzzed requests left must still
# pass the store's and the domain's validation, and every hash chain must verify.
#
# Schemathesis is installed into a venv under ${XDG_CACHE_HOME:-~/.cache}/subsidy/ when absent
# (SUBSIDY_SCHEMATHESIS_VENV to choose another). Each role's run is bounded by
# SUBSIDY_SCHEMATHESIS_MAX_TIME seconds (default 60). Reports (JUnit) and the server log go to
# target/schemathesis/.
set -euo pipefail
cd "$(dirname "$0")/.."

MAX_EXAMPLES="${1:-10}"
MAX_TIME="${SUBSIDY_SCHEMATHESIS_MAX_TIME:-60}"
VENV="${SUBSIDY_SCHEMATHESIS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/subsidy/schemathesis}"
SCHEMATHESIS_VERSION="4.32.5"
OUT="$PWD/target/schemathesis"
PASSWORD="demo-password-2025"
mkdir -p "$OUT"

# --- Schemathesis ----------------------------------------------------------------------------
if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  echo "== installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
  fi
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

# --- the server ------------------------------------------------------------------------------
echo "== building the server and the store scan"
cargo build --locked -q -p api --bin subsidy
cargo build --locked -q -p tests --example store_scan
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"

DATA="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$DATA"
}
trap cleanup EXIT

echo "== starting subsidy serve on $BASE (data: $DATA)"
SUBSIDY_REMINDERS=off RUST_LOG="${RUST_LOG:-warn}" \
  "$TARGET_DIR/debug/subsidy" --data-dir "$DATA" serve --listen "127.0.0.1:$PORT" \
  >"$OUT/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 240); do
  curl -fsS "$BASE/readyz" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$OUT/server.log"; echo "the server died" >&2; exit 1; }
  sleep 0.5
done
curl -fsS "$BASE/readyz" >/dev/null

login() {
  curl -fsS -X POST "$BASE/auth/login" -H 'Content-Type: application/json' \
    -d "{\"username\": \"$1\", \"password\": \"$PASSWORD\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}

# --- Schemathesis, once per role -------------------------------------------------------------
# /auth/logout is left out: it would revoke the very token the rest of the run uses. One worker:
# with two, Hypothesis's lambda descriptions (Python's ast, not thread-safe) failed with
# "SystemError: AST constructor recursion depth mismatch" in the coverage phase of a long run.
status=0
for user in officer.yiyuan supervisor.zibo; do
  token="$(login "$user")"
  echo "== schemathesis as $user (at most $MAX_EXAMPLES examples per operation, $MAX_TIME s)"
  set +e
  "$VENV/bin/schemathesis" run "$BASE/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --exclude-path /auth/logout \
    --max-examples "$MAX_EXAMPLES" --max-time "$MAX_TIME" --seed 20250101 \
    --workers 1 --generation-database none --no-color --warnings off \
    --report junit --report-junit-path "$OUT/junit-$user.xml" \
    2>&1 | tee "$OUT/schemathesis-$user.log" | grep -v '^\s*$' | tail -n 60
  rc=${PIPESTATUS[0]}
  set -e
  echo "schemathesis as $user: exit $rc"
  [ "$rc" -eq 0 ] || status=1
done

# --- the store afterwards --------------------------------------------------------------------
echo "== stopping the server"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || true
SERVER_PID=""
if grep -E 'panicked|ERROR' "$OUT/server.log" | head -n 20; then
  echo "the server logged errors (above; full log: $OUT/server.log)"
fi
echo "== scanning the store"
"$TARGET_DIR/debug/examples/store_scan" --data-dir "$DATA" >"$OUT/store-scan.log" 2>&1 || status=1
tail -n 40 "$OUT/store-scan.log"

exit "$status"
