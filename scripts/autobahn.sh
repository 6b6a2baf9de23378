#!/usr/bin/env bash
# Conformance: runs the Autobahn testsuite's fuzzing client (the genuine wstest) against
# the `autobahn` example and compares every verdict with autobahn/expected-results.json.
#
#   scripts/autobahn.sh              # run and compare
#   scripts/autobahn.sh --update     # run and rewrite the expected results
#
# Environment: AUTOBAHN_CASES (default "*": all 517 cases), AUTOBAHN_EXCLUDE (default none),
# AUTOBAHN_TIMEOUT seconds (default 1800).
# The report lands in autobahn/report/ (reports/index.html is wstest's own).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CASES="${AUTOBAHN_CASES:-*}"
EXCLUDE="${AUTOBAHN_EXCLUDE-}"
OUT="$ROOT/autobahn/report"
UPDATE=()
[ "${1:-}" = "--update" ] && UPDATE=(--update)

wstest="$("$ROOT/scripts/install-wstest.sh")"
(cd "$ROOT" && cargo build --release --quiet --example autobahn)

rm -rf "$OUT"
mkdir -p "$OUT"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$ROOT/target/release/examples/autobahn" --addr "127.0.0.1:$port" > "$OUT/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

python3 - "$OUT/spec.json" "ws://127.0.0.1:$port" "$CASES" "$EXCLUDE" "$OUT/reports" <<'PY'
import json, sys
path, url, cases, exclude, reports = sys.argv[1:]
split = lambda text: [c.strip() for c in text.split(",") if c.strip()]
json.dump({"outdir": reports, "servers": [{"agent": "ws-server", "url": url}],
           "cases": split(cases), "exclude-cases": split(exclude), "exclude-agent-cases": {}},
          open(path, "w"), indent=2)
PY

echo "autobahn: running wstest against 127.0.0.1:$port (cases '$CASES', excluding '$EXCLUDE')" >&2
if ! (cd "$OUT" && timeout "${AUTOBAHN_TIMEOUT:-1800}" "$wstest" -m fuzzingclient -s spec.json > wstest.log 2>&1); then
  echo "autobahn: wstest failed or timed out; see $OUT/wstest.log" >&2
  tail -n 20 "$OUT/wstest.log" >&2
  exit 1
fi
if ! kill -0 "$server" 2>/dev/null; then
  echo "autobahn: the server died during the run; see $OUT/server.log" >&2
  exit 1
fi
python3 "$ROOT/autobahn/compare.py" "$OUT/reports/index.json" "$ROOT/autobahn/expected-results.json" ${UPDATE[@]+"${UPDATE[@]}"}
