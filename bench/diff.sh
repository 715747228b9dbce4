#!/usr/bin/env bash
# Times `dqgate diff --subset all` on the real head of the TMDB file against
# `dqgate check` on the same file in the same run, so the cost of the
# reference, staging, queries and diff is reported as a ratio to checking.
#
#   bench/diff.sh [FILE] [RUNS]
#
# FILE defaults to ../shared/data/movies_metadata_head2996.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
file=${1:-../shared/data/movies_metadata_head2996.csv}
runs=${2:-7}
[ -f "$file" ] || { echo "no input file $file" >&2; exit 2; }

cargo build --release --quiet
bin=target/release/dqgate
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Median wall time in milliseconds of RUNS runs of a command.
median_ms() {
    local times=()
    for _ in $(seq "$runs"); do
        local start end
        start=$(date +%s%N)
        "$@" >/dev/null
        end=$(date +%s%N)
        times+=($(( (end - start) / 1000000 )))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

check_ms=$(median_ms "$bin" check "$file" --out "$work/check")
diff_ms=$(median_ms "$bin" diff "$file" --subset all --out "$work/diff" --store "sqlite://$work/store.db")
rows=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['diff']['subset']['rows'])" "$work/diff/report.json")
queries=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(' '.join(f\"{a['name']}={a['query_ms']:.1f}ms\" for a in r['diff']['aggregates']))" "$work/diff/report.json")

echo "file: $file ($(stat -c %s "$file") bytes), median of $runs runs, $(nproc) cores"
printf '%-34s %8s %8s\n' "command" "ms" "ratio"
printf '%-34s %8d %8s\n' "check (baseline)" "$check_ms" "1.00"
printf '%-34s %8d %8.2f\n' "diff --subset all ($rows rows)" "$diff_ms" "$(echo "$diff_ms / $check_ms" | bc -l)"
echo "queries on staging: $queries"
