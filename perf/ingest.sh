#!/usr/bin/env bash
# Ingest rate of `tide ingest` (issue 5): a file ingested at once, and the
# same rows streamed through stdin with several commit intervals, into a
# fresh intraday partition each time (every commit: column files fsync-ed,
# then the commit record). Trades from scripts/gen-market.awk.
#   perf/ingest.sh [TIDE_BIN] [ROWS] [SCRATCH]    (defaults: build/release/tide 1000000 /tmp/tide-ingest)
# Prints one line per run: mode, commit interval, rows, seconds, rows/s.
# SPDX-License-Identifier: Apache-2.0
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tide=${1:-$root/build/release/tide}
rows=${2:-1000000}
scratch=${3:-/tmp/tide-ingest}
rm -rf "$scratch" && mkdir -p "$scratch"
gawk -v rows="$rows" -v seed=11 -v date=2026-11-20 -v trades="$scratch/trades.csv" \
  -v quotes="$scratch/quotes.csv" -f "$root/scripts/gen-market.awk"
n=$(($(wc -l < "$scratch/trades.csv") - 1))
now() { date +%s.%N; }
run() { # label commit-rows command...
  local label=$1 every=$2; shift 2
  rm -rf "$scratch/db"
  local t0 t1
  t0=$(now); "$@"; t1=$(now)
  awk -v l="$label" -v e="$every" -v n="$n" -v a="$t0" -v b="$t1" \
    'BEGIN { s = b - a; printf "%-8s commit_rows=%-8s rows=%d  %.3f s  %.2f M rows/s\n", l, e, n, s, n / s / 1e6 }'
}
run file all "$tide" ingest --db "$scratch/db" --ns perf --table trades --date 2026-11-20 \
  --csv "$scratch/trades.csv" --quiet
for every in 1000 10000 100000; do
  run stream "$every" sh -c "\"$tide\" ingest --db \"$scratch/db\" --ns perf --table trades \
    --date 2026-11-20 --csv - --commit-rows $every --commit-ms 60000 --quiet < \"$scratch/trades.csv\""
done
rm -rf "$scratch"
