#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 600), one after another.
# Needs cargo-fuzz (cargo install cargo-fuzz) and a nightly toolchain.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# A crash is saved under fuzz/artifacts/TARGET/; turn it into a regression
# test beside the code it broke, then fix it.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(literal expression rule_file check_records)
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    echo "== $target for ${seconds}s"
    cargo +nightly fuzz run "$target" "corpus/$target" -- -max_total_time="$seconds" -rss_limit_mb=2048 2>&1 | tail -n 5
done
