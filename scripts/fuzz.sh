#!/usr/bin/env bash
# Runs the protocol engine's fuzz targets (fuzz/fuzz_targets), each for SECONDS (default
# 600), two at a time, starting from the committed seed corpora in fuzz/corpus.
#   scripts/fuzz.sh                 # every target, 10 minutes each
#   scripts/fuzz.sh 60 decoder      # one target, one minute
# A crash, hang (10 s on one input) or allocation over 256 MB stops a target and leaves
# the input in fuzz/artifacts/TARGET/; `cargo fuzz fmt TARGET FILE` prints it.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-600}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(decoder assembler extension_offer inflater)
fi

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# cargo-fuzz needs nightly flags (-Zsanitizer); the stable toolchain allows them this way.
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O

run() {
    local target="$1"
    mkdir -p "fuzz/corpus/$target"
    cargo fuzz run -O "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=256 \
        -print_final_stats=1 >"fuzz/$target.log" 2>&1 \
        && echo "$target: $(grep -E '^Done' "fuzz/$target.log")" \
        || { echo "$target: FAILED, see fuzz/$target.log"; return 1; }
}

status=0
for ((i = 0; i < ${#targets[@]}; i += 2)); do
    pids=()
    for target in "${targets[@]:i:2}"; do
        run "$target" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do
        wait "$pid" || status=1
    done
done
exit $status
