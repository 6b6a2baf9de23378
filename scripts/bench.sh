#!/usr/bin/env bash
# The benchmarks, side by side with peers (tokio-tungstenite, fastwebsockets,
# tokio-websockets and a raw TCP echo): the echo matrix, idle memory and fan-out, written
# to target/bench/report.md. Servers run on core 1 and the generator on core 0 (taskset).
# Takes about 25 minutes. Arguments go to ws-bench (default `all`; see `ws-bench --help`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# 10,000 idle connections need as many descriptors on each side.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cargo build --release -q -p ws-bench
if [ $# -eq 0 ]; then
  set -- all
fi
exec target/release/ws-bench "$@"
