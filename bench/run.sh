#!/usr/bin/env bash
# Whole-process benchmark of dqgate against a raw-parse baseline measured in
# the same run. One command from a fresh clone:
#
#   bench/run.sh            # generates bench/data/*.csv from ../shared/data if needed
#
# For each input (34 MB, the size of the monthly file, and 1 GB) it times
# (best of RUNS rounds, default 3; each round runs every command once, so a
# slow spell of a shared machine slows them alike) and measures peak
# memory (/usr/bin/time -v) of:
# the raw-parse baseline (examples/raw_parse.rs: the csv crate reading every
# record and touching every field); `dqgate check` with rules/movies.toml on
# one thread and on every core; and, where installed, frictionless and qsv
# validating the same file against the same checks (bench/movies.*.json).
# It reports MB/s, rows/s, peak memory, each speed as a ratio to the
# baseline, and the speed-up of all cores over one. The one-thread check
# runs with --timings: the share of its pass done in file order (the one
# step threads cannot share) bounds the speed-up on any number of cores.
# The small file runs 3 times as many rounds: a run takes a tenth of a
# second, too short for one slow moment not to show. Then it takes `run`
# apart on the 34 MB file: check, diff --subset all (check + staging + the
# queries on staging + the comparison) and run --subset all into a fresh
# SQLite store (+ promotion, reconciliation), with staging and promotion
# rates in rows/s.
set -euo pipefail
# A decimal point in $EPOCHREALTIME and in awk, whatever the locale.
export LC_ALL=C
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
cores=$(nproc)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Prints "seconds peak_kib" for the best of N runs of a command. The time
# is bash's microsecond clock around the run (GNU time's wall clock has a
# resolution of 10 ms, too coarse for the 34 MB file); the memory is GNU
# time's.
measure_n() {
    local n=$1 best_s="" best_kib=0
    shift
    for _ in $(seq "$n"); do
        local start=$EPOCHREALTIME s kib
        /usr/bin/time -v -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || true
        s=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.4f", b - a}')
        kib=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time")
        if [ -z "$best_s" ] || awk "BEGIN {exit !($s < $best_s)}"; then best_s=$s; fi
        [ "$kib" -gt "$best_kib" ] && best_kib=$kib
    done
    echo "$best_s $best_kib"
}
measure() { measure_n "$runs" "$@"; }

# One timed run of a command: "seconds peak_kib"; its standard error is
# kept in $work/stderr.
measure_once() {
    local start=$EPOCHREALTIME s kib
    /usr/bin/time -v -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || true
    s=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.4f", b - a}')
    kib=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time")
    echo "$s $kib"
}

echo "machine: $cores cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); best of $runs interleaved rounds ($((3 * runs)) for the 34 MB file)"
printf '%-15s %-28s %8s %9s %11s %9s %9s %9s\n' file command seconds "MB/s" "rows/s" "peak MiB" "speed×" "vs 1 thr"
for file in bench/data/movies_34m.csv bench/data/movies_1g.csv; do
    bytes=$(stat -c %s "$file")
    rows=$("$baseline" "$file" | awk '{print $1 - 1}')
    rounds_here=$runs
    [ "$bytes" -lt $((100 * 1048576)) ] && rounds_here=$((3 * runs))
    # Each command is a label and a command line. The commands run in
    # rounds, one run of each per round, so that a slow spell of a shared
    # machine slows every command alike instead of one command's runs.
    labels=("raw parse (baseline)" "dqgate check --threads 1" "dqgate check --threads $cores")
    commands=("$baseline $file"
        "$dqgate check $file --threads 1 --timings --out $work/out1"
        "$dqgate check $file --threads $cores --out $work/out")
    rounds=("$rounds_here" "$rounds_here" "$rounds_here")
    # frictionless reads some thousands of rows a second: once, and by
    # default only on files up to FRICTIONLESS_MAX_MB (100).
    if command -v frictionless >/dev/null && [ "$bytes" -le $((${FRICTIONLESS_MAX_MB:-100} * 1048576)) ]; then
        labels+=("frictionless validate")
        commands+=("frictionless validate --schema bench/movies.tableschema.json $file")
        rounds+=(1)
    fi
    if command -v qsv >/dev/null; then
        labels+=("qsv validate")
        commands+=("qsv validate $file bench/movies.schema.json")
        rounds+=("$runs")
    fi
    best_s=()
    best_kib=()
    # The in-file-order share of the fastest one-thread pass.
    in_order=""
    for round in $(seq "$rounds_here"); do
        for i in "${!commands[@]}"; do
            [ "$round" -le "${rounds[$i]}" ] || continue
            # The command lines hold no quoted words: split them on spaces.
            read -r s kib < <(measure_once ${commands[$i]})
            if [ -z "${best_s[$i]:-}" ] || awk "BEGIN {exit !($s < ${best_s[$i]})}"; then
                best_s[$i]=$s
                [ "$i" -eq 1 ] && in_order=$(grep '^timings: ' "$work/stderr" || true)
            fi
            [ "$kib" -gt "${best_kib[$i]:-0}" ] && best_kib[$i]=$kib
        done
        # qsv writes its split of the input beside it.
        rm -f "$file.valid" "$file.invalid" "$file.validation-errors.tsv"
    done
    base_s=${best_s[0]}
    one_s=${best_s[1]}
    for i in "${!commands[@]}"; do
        # The baseline has no "vs 1 thr": it is no dqgate run.
        awk -v f="$(basename "$file")" -v n="${labels[$i]}" -v s="${best_s[$i]}" -v k="${best_kib[$i]}" -v b="$bytes" -v r="$rows" -v bs="$base_s" -v one="$one_s" -v base="$((i == 0))" \
            'BEGIN {printf "%-15s %-28s %8.3f %9.1f %11.0f %9.1f %9.2f", f, n, s, b/1048576/s, r/s, k/1024, bs/s; if (base) print ""; else printf " %9.2f\n", one/s}'
        if [ "$i" -eq 1 ] && [ -n "$in_order" ]; then
            # "timings: pass P s on 1 thread; in file order (...) O s, S%"
            echo "$in_order" | sed -E 's/.*pass ([0-9.]+) s .* ([0-9.]+) s, [0-9.]+%$/\1 \2/' |
                awk '{printf "%-15s %-28s %.3f s of the %.3f s pass in file order (%.1f%%): bound %.0fx one thread\n", "", "  serial share", $2, $1, 100*$2/$1, $1/$2}'
        fi
        if [ "$i" -eq 2 ]; then
            # Uniqueness is the one thing allowed to grow: the budget is
            # 64 MiB plus 16 bytes per distinct key (accepted rows).
            keys=$(python3 -c "import json; r=json.load(open('$work/out/report.json')); print(r['rows']['accepted'])")
            awk -v k="${best_kib[2]}" -v n="$keys" 'BEGIN {printf "%-15s %-28s peak %.1f MiB; budget 64 MiB + 16 B x %d keys = %.1f MiB\n", "", "  memory budget", k/1024, n, 64 + n*16/1048576}'
        fi
    done
    # The reports of one thread and of every core are the same but for timings.
    if ! cmp -s "$work/out1/quarantine.csv" "$work/out/quarantine.csv"; then
        echo "error: the quarantine differs between 1 and $cores threads" >&2
        exit 1
    fi
done

# A header of 200,000 columns and no rows: binding it to the rules must
# cost about what reading it does (it was quadratic).
python3 -c "print(','.join('c%d' % i for i in range(200000)))" > "$work/wide.csv"
read -r wide_base _ < <(measure "$baseline" "$work/wide.csv")
read -r wide_check _ < <(measure "$dqgate" check "$work/wide.csv" --out "$work/w")
awk -v b="$wide_base" -v c="$wide_check" 'BEGIN {printf "header of 200,000 columns: raw parse %.3f s, dqgate check %.3f s (%.1fx the raw parse, process start and outputs included)\n", b, c, c/b}'

command -v frictionless >/dev/null || echo "(frictionless is not installed: skipped; pip install frictionless)"
command -v qsv >/dev/null || echo "(qsv is not installed: skipped)"

echo
file=bench/data/movies_34m.csv
read -r check_s _ < <(measure "$dqgate" check "$file" --out "$work/c")
read -r diff_s _ < <(measure "$dqgate" diff "$file" --subset all --store "sqlite://$work/diff.db" --out "$work/d")
# Each run into a fresh store: a second run would find the file promoted.
run_s=""
run_kib=0
for _ in $(seq "$runs"); do
    rm -f "$work/store.db"
    read -r s kib < <(measure_once "$dqgate" run "$file" --subset all --store "sqlite://$work/store.db" --out "$work/run")
    if [ -z "$run_s" ] || awk "BEGIN {exit !($s < $run_s)}"; then run_s=$s; fi
    [ "$kib" -gt "$run_kib" ] && run_kib=$kib
done
printf 'dqgate run of %s into a fresh SQLite store: %.2f s, peak %d MiB (target < 2 s)\n' "$(basename "$file")" "$run_s" $((run_kib / 1024))
python3 - "$work/run/report.json" "$check_s" "$diff_s" "$run_s" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
check_s, diff_s, run_s = map(float, sys.argv[2:5])
staged = r['diff']['staged']
rows = sum(staged[k] for k in ('movies', 'genres', 'companies', 'movie_genres', 'movie_companies'))
staging_q = sum(a['query_ms'] for a in r['diff']['aggregates']) / 1000
production_q = sum(a['query_ms'] for a in r['promotion']['reconciliation']) / 1000
stage_s = diff_s - check_s - staging_q
promote_s = run_s - diff_s - production_q
print(f"  check {check_s:.2f} s; staging {stage_s:.2f} s ({rows} rows: {rows / stage_s:,.0f} rows/s);"
      f" queries on staging {staging_q:.2f} s; promotion {promote_s:.2f} s ({rows / promote_s:,.0f} rows/s);"
      f" queries on production {production_q:.2f} s")
print(f"  promotion: {r['promotion']['status']}, {staged['movies']} movies")
PY
