#!/usr/bin/env bash
# Whole-process benchmark of dqgate against a raw-parse baseline measured in
# the same run. One command from a fresh clone:
#
#   bench/run.sh            # generates bench/data/*.csv from ../shared/data if needed
#
# For each input it times (best of RUNS, default 3) and measures peak memory
# (/usr/bin/time -v) of: the raw-parse baseline (examples/raw_parse.rs: the
# csv crate reading every record and touching every field), and
# `dqgate check` with rules/movies.toml. It reports MB/s, rows/s, peak RSS and
# each as a ratio to the baseline; then times `dqgate run` (check, stage,
# diff --subset all, promote) into a fresh SQLite store on the 34 MB file.
# qsv and frictionless are added where installed.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
source_csv=${SOURCE_CSV:-../shared/data/movies_metadata_head2996.csv}
mkdir -p bench/data
for spec in "movies_34m.csv 34445126" "movies_1g.csv 1G"; do
    set -- $spec
    if [ ! -f "bench/data/$1" ]; then
        [ -f "$source_csv" ] || { echo "need $source_csv to generate bench/data/$1" >&2; exit 2; }
        python3 bench/generate.py "$source_csv" "bench/data/$1" "$2"
    fi
done

cargo build --release --quiet --bin dqgate --example raw_parse
dqgate=target/release/dqgate
baseline=target/release/examples/raw_parse
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Prints "seconds peak_kib" for the best of $runs runs of a command.
measure() {
    measure_n "$runs" "$@"
}

# The same for the best of N runs.
measure_n() {
    local n=$1 best_s="" best_kib=0
    shift
    for _ in $(seq "$n"); do
        /usr/bin/time -v -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || true
        local s kib
        s=$(awk -F': ' '/Elapsed \(wall clock\)/ {split($2, t, ":"); if (length(t) == 3) print t[1]*3600 + t[2]*60 + t[3]; else print t[1]*60 + t[2]}' "$work/time")
        kib=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time")
        if [ -z "$best_s" ] || awk "BEGIN {exit !($s < $best_s)}"; then best_s=$s; fi
        [ "$kib" -gt "$best_kib" ] && best_kib=$kib
    done
    echo "$best_s $best_kib"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); best of $runs runs"
printf '%-15s %-30s %8s %9s %11s %9s %9s %9s\n' file command seconds "MB/s" "rows/s" "peak MiB" "speed×" "memory×"
for file in bench/data/movies_34m.csv bench/data/movies_1g.csv; do
    bytes=$(stat -c %s "$file")
    rows=$("$baseline" "$file" | awk '{print $1 - 1}')
    read -r base_s base_kib < <(measure "$baseline" "$file")
    row() {
        local name=$1 s=$2 kib=$3
        awk -v f="$(basename "$file")" -v n="$name" -v s="$s" -v k="$kib" -v b="$bytes" -v r="$rows" -v bs="$base_s" -v bk="$base_kib" \
            'BEGIN {printf "%-15s %-30s %8.2f %9.1f %11.0f %9.1f %9.2f %9.2f\n", f, n, s, b/1048576/s, r/s, k/1024, bs/s, k/bk}'
    }
    row "raw parse (baseline)" "$base_s" "$base_kib"
    read -r s kib < <(measure "$dqgate" check "$file" --out "$work/out")
    row "dqgate check" "$s" "$kib"
    if command -v qsv >/dev/null; then
        read -r s kib < <(measure qsv validate "$file" bench/movies.schema.json)
        row "qsv validate" "$s" "$kib"
    fi
    if command -v frictionless >/dev/null; then
        read -r s kib < <(measure frictionless validate "$file")
        row "frictionless validate" "$s" "$kib"
    fi
done
command -v qsv >/dev/null || echo "(qsv is not installed: skipped)"
command -v frictionless >/dev/null || echo "(frictionless is not installed: skipped)"

echo
file=bench/data/movies_34m.csv
rm -f "$work/store.db"
# One run: a second one would find the file already promoted.
read -r s kib < <(measure_n 1 "$dqgate" run "$file" --subset all --store "sqlite://$work/store.db" --out "$work/run")
echo "dqgate run (check, stage, diff --subset all, promote) of $(basename "$file") into a fresh SQLite store: ${s} s, peak $((kib / 1024)) MiB"
python3 - "$work/run/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"  promotion: {r['promotion']['status']}, {r['diff']['staged']['movies']} movies staged;",
      "queries on staging:", ", ".join(f"{a['name']} {a['query_ms']:.0f} ms" for a in r['diff']['aggregates']))
PY
