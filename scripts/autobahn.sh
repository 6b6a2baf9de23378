#!/usr/bin/env bash
# Conformance: runs the Autobahn testsuite's fuzzing client (the genuine wstest) against
# the `autobahn` example three times: served by ws-server's own server, embedded in an axum
# app through `WsService` (`--axum`), and over HTTP/2 (`--over-http2`: each wstest
# connection carried into an extended-CONNECT stream of one HTTP/2 connection). Every
# verdict of every run is compared with autobahn/expected-results.json.
#
#   scripts/autobahn.sh              # run all and compare
#   scripts/autobahn.sh --update     # run all and rewrite the expected results (from the first)
#
# Environment: AUTOBAHN_CASES (default "*": all 517 cases), AUTOBAHN_EXCLUDE (default none),
# AUTOBAHN_TIMEOUT seconds per run (default 1800), AUTOBAHN_PATHS (default
# "standalone axum http2").
# Reports land in autobahn/report/<path>/ (reports/index.html is wstest's own).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CASES="${AUTOBAHN_CASES:-*}"
EXCLUDE="${AUTOBAHN_EXCLUDE-}"
PATHS="${AUTOBAHN_PATHS:-standalone axum http2}"
UPDATE=()
[ "${1:-}" = "--update" ] && UPDATE=(--update)
# A selection of cases is compared with the expected results of those cases alone.
[ "$CASES" != "*" ] && [ ${#UPDATE[@]} -eq 0 ] && UPDATE=(--subset)

wstest="$("$ROOT/scripts/install-wstest.sh")"
(cd "$ROOT" && cargo build --release --quiet --example autobahn)
rm -rf "$ROOT/autobahn/report"

server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null || true' EXIT

# run PATH [SERVER ARGS...]: one wstest run against the example served that way.
run() {
  local name="$1"
  shift
  local out="$ROOT/autobahn/report/$name"
  mkdir -p "$out"
  local port
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  "$ROOT/target/release/examples/autobahn" --addr "127.0.0.1:$port" "$@" > "$out/server.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  python3 - "$out/spec.json" "ws://127.0.0.1:$port" "$CASES" "$EXCLUDE" "$out/reports" <<'PY'
import json, sys
path, url, cases, exclude, reports = sys.argv[1:]
split = lambda text: [c.strip() for c in text.split(",") if c.strip()]
json.dump({"outdir": reports, "servers": [{"agent": "ws-server", "url": url}],
           "cases": split(cases), "exclude-cases": split(exclude), "exclude-agent-cases": {}},
          open(path, "w"), indent=2)
PY
  echo "autobahn: running wstest against the $name server on 127.0.0.1:$port (cases '$CASES', excluding '$EXCLUDE')" >&2
  if ! (cd "$out" && timeout "${AUTOBAHN_TIMEOUT:-1800}" "$wstest" -m fuzzingclient -s spec.json > wstest.log 2>&1); then
    echo "autobahn: wstest failed or timed out; see $out/wstest.log" >&2
    tail -n 20 "$out/wstest.log" >&2
    exit 1
  fi
  if ! kill -0 "$server" 2>/dev/null; then
    echo "autobahn: the $name server died during the run; see $out/server.log" >&2
    exit 1
  fi
  kill "$server"
  wait "$server" 2>/dev/null || true
  server=""
  echo -n "$name: " >&2
  python3 "$ROOT/autobahn/compare.py" "$out/reports/index.json" "$ROOT/autobahn/expected-results.json" ${UPDATE[@]+"${UPDATE[@]}"}
  # Only the first run rewrites the expected results; the others are compared with them.
  [ "${UPDATE[*]-}" = "--update" ] && UPDATE=()
  true
}

for name in $PATHS; do
  case "$name" in
    standalone) run standalone ;;
    axum) run axum --axum ;;
    http2) run http2 --over-http2 ;;
    *) echo "autobahn: unknown path $name" >&2; exit 2 ;;
  esac
done
