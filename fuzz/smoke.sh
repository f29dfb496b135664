#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 5) on a copy of its seed corpus; fails on the first
# finding. `bash fuzz/smoke.sh 600` is the ten-minute run per target.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo +nightly fuzz build -O
for t in $(cargo +nightly fuzz list); do
    case $t in
        imu_csv | replay | replay_with_profile) dict=fuzz/dict/imu_csv.dict ;;
        raw_log) dict=fuzz/dict/raw_log.dict ;;
        toml_*) dict=fuzz/dict/toml.dict ;;
        *) dict="" ;;
    esac
    mkdir -p "$work/$t"
    # New inputs go to the scratch directory; the committed seeds stay as they are.
    cargo +nightly fuzz run -O "$t" "$work/$t" "fuzz/corpus/$t" -- \
        -max_total_time="$secs" -max_len=262144 -timeout=10 -rss_limit_mb=2048 \
        ${dict:+-dict=$dict} 2>"$work/$t.log" || {
        tail -40 "$work/$t.log" >&2
        echo "fuzz target $t found a problem (see above; the input is under fuzz/artifacts/$t)" >&2
        exit 1
    }
    echo "$t: $(grep -E '^#[0-9]+' "$work/$t.log" | tail -1 | awk '{print $1, "runs,", $NF}') $(grep -oE 'exec/s: [0-9]+' "$work/$t.log" | tail -1)"
done
