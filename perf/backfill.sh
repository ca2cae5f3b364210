#!/usr/bin/env bash
# Backfill benchmark (issue 5, perf/): the ten db-benchmark groupby
# questions run by `tide backfill` over D date partitions of the G1 dataset
# (N rows in all, N/D rows per date), compared with the same questions on
# one in-memory table of all N rows.
#
#   perf/backfill.sh [--rows N] [--k K] [--dates D] [--threads T] [--runs R]
#                    [--codec C] [--data DIR] [--out DIR] [--lazy] [--nice N]
#   (defaults: 1e7 rows, K=100, 10 dates, 2 threads, 2 runs, lz4,
#    data cache tide-db/perf, results perf/out/backfill.md; --nice N runs
#    the timed processes under nice -n N, e.g. -20 as root on a shared box)
#
# Uses $TIDE if set, else build/perf/tide (built in Release if missing).
# Data: the G1 CSV of scripts/perf (tide gen-groupby, cached in --data) is
# split by row number (where "ii >= a && ii < b") into D consecutive dates
# 2026-01-01.. of namespace G1, table x, in a database DIR/backfill-db-...
# (created once: Systems/G1/Partitions/0 and its WritablePartitions link).
#
# Every variant loads x from the partitions and materializes it in memory
# (x = historical_table(...).select(): the "load" time; with --lazy, x is
# the lazy historical table itself and the questions read the column files
# as they go). Three variants, each a separate tide process, run --runs
# times, in turn:
#   backfill  tide backfill: per date, x = historical_table("G1", "x") (that
#             date's N/D rows) and the ten questions on it; the answers are
#             saved with --csv (a Date column in front). Computes each
#             question PER DATE (e.g. q1 = sum(v1) by id1 within each date).
#   bydate    tide run: x = all dates in one table (N rows, one
#             historical_table), the ten questions with Date added to every
#             by= and view (the same answers as the backfill, in one pass),
#             written with write_csv.
#   whole     tide run: x = all N rows, the ten questions as in scripts/perf
#             (over ALL rows, no Date: different answers, e.g. q1 has K
#             groups instead of D x K), written with write_csv.
# Times come from --timings (per statement; the backfill's are summed over
# its dates): "load" is the x = ... line, "questions" the ten questions,
# "writes" the answers' CSV output (backfill: its "save:" lines), and
# "wall" the whole process (so it also counts the script start per date
# and the release of the tables).
# SPDX-License-Identifier: Apache-2.0
set -euo pipefail
TIDE_ROOT=$(cd "$(dirname "$0")/.." && pwd)
rows=1e7 k=100 dates=10 threads=2 runs=2 codec=lz4 load='.select()' nice_cmd=()
data="$TIDE_ROOT/tide-db/perf" out="$TIDE_ROOT/perf/out"
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) rows=$2; shift ;;
    --k) k=$2; shift ;;
    --dates) dates=$2; shift ;;
    --threads) threads=$2; shift ;;
    --runs) runs=$2; shift ;;
    --codec) codec=$2; shift ;;
    --data) data=$2; shift ;;
    --out) out=$2; shift ;;
    --lazy) load='' ;;
    --nice) nice_cmd=(nice -n "$2"); shift ;;
    -h|--help) sed -n '2,/^# SPDX/p' "$0" | sed 's/^# \{0,1\}//' | head -n -1; exit 0 ;;
    *) echo "perf/backfill.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
log() { echo "perf/backfill.sh: $*" >&2; }

TIDE=${TIDE:-$TIDE_ROOT/build/perf/tide}
if [ ! -x "$TIDE" ]; then
  log "building tide (Release) in build/perf"
  cmake -S "$TIDE_ROOT" -B "$TIDE_ROOT/build/perf" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$TIDE_ROOT/build/perf" -j2 --target tide >/dev/null
  TIDE=$TIDE_ROOT/build/perf/tide
fi
mkdir -p "$data" "$out"
csv="$data/G1_${rows}_${k}.csv"
if [ ! -f "$csv" ]; then
  log "generating G1 rows=$rows k=$k into $csv"
  "$TIDE" gen-groupby --rows "$rows" --k "$k" --out "$csv"
fi
n=$(awk -v r="$rows" 'BEGIN { printf "%d", r + 0 }')
per=$(( (n + dates - 1) / dates ))
day() { date -u -d "2026-01-01 + $1 days" +%F; }
db="$data/backfill-db-${rows}_${k}_${dates}_${codec}"
if [ ! -f "$db/.complete" ]; then
  log "splitting $csv into $dates dates of $per rows in $db"
  rm -rf "$db"
  mkdir -p "$db/Systems/G1/Partitions/0" "$db/Systems/G1/WritablePartitions"
  ln -s ../Partitions/0 "$db/Systems/G1/WritablePartitions/0"
  {
    echo "x = read_csv(\"$csv\")"
    for ((d = 0; d < dates; d++)); do
      echo "write_historical(x.where(\"ii >= $((d * per)) && ii < $(((d + 1) * per))\"), \"G1\", \"x\", \"$(day "$d")\", db=\"$db\", codec=\"$codec\")"
    done
  } >"$db.split.tide"
  "$TIDE" run "$db.split.tide" --threads "$threads"
  touch "$db/.complete"
fi

# The questions (as scripts/perf's gb_expr and examples/groupby/q*.tide).
Q=(
  'x.agg_by([agg.sum_("v1")], by=["id1"])'
  'x.agg_by([agg.sum_("v1")], by=["id1", "id2"])'
  'x.agg_by([agg.sum_("v1"), agg.avg("v3")], by=["id3"])'
  'x.agg_by([agg.avg(["v1", "v2", "v3"])], by=["id4"])'
  'x.agg_by([agg.sum_(["v1", "v2", "v3"])], by=["id6"])'
  'x.agg_by([agg.median("median_v3 = v3"), agg.std("sd_v3 = v3")], by=["id4", "id5"])'
  'x.agg_by([agg.max_("v1"), agg.min_("v2")], by=["id3"]).update("range_v1_v2 = v1 - v2").view(["id3", "range_v1_v2"])'
  'x.where("!isNull(v3)").sort_descending("v3").head_by(2, by=["id6"]).view(["id6", "largest2_v3 = v3"])'
  'x.where(["!isNull(v1)", "!isNull(v2)"]).update(["v1v1 = v1 * v1", "v2v2 = v2 * v2", "v1v2 = v1 * v2"]).agg_by([agg.sum_(["sx = v1", "sy = v2", "sxx = v1v1", "syy = v2v2", "sxy = v1v2"]), agg.count_("n")], by=["id2", "id4"]).update(["cov = (double)n * sxy - (double)sx * sy", "vx = (double)n * sxx - (double)sx * sx", "vy = (double)n * syy - (double)sy * sy", "r2 = (cov * cov) / (vx * vy)"]).view(["id2", "id4", "r2"])'
  'x.agg_by([agg.sum_("v3"), agg.count_("count")], by=["id1", "id2", "id3", "id4", "id5", "id6"])'
)
tmp="$out/backfill-work"
rm -rf "$tmp"
mkdir -p "$tmp"
# line 1: the load; lines 2..11: q1..q10; then (tide run) the writes
{
  echo "x = historical_table(\"G1\", \"x\")$load"
  for i in "${!Q[@]}"; do echo "q$((i + 1)) = ${Q[$i]}"; done
} >"$tmp/backfill.tide"
for v in whole bydate; do
  {
    echo "x = historical_table(\"G1\", \"x\", db=\"$db\")$load"
    for i in "${!Q[@]}"; do
      e=${Q[$i]}
      [ $v = bydate ] && e=$(sed -e 's/by=\[/by=["Date", /g' -e 's/view(\["/view(["Date", "/g' <<<"$e")
      echo "q$((i + 1)) = $e"
    done
    for i in "${!Q[@]}"; do echo "write_csv(q$((i + 1)), \"$tmp/$v/q$((i + 1)).csv\")"; done
  } >"$tmp/$v.tide"
  mkdir -p "$tmp/$v"
done
outs=$(seq -s, -f 'q%g' 1 10)

now() { date +%s.%N; }
# sum the --timings lines of a stderr file: "load questions writes q1 .. q10"
sums() {
  awk '/^[0-9]+: [0-9.e+-]+ s$/ { l = $1 + 0; t[l] += $2 }
       /^save: [0-9.e+-]+ s$/ { sv += $2 }
       END { q = 0; w = sv; for (l in t) { n = l + 0; if (n >= 2 && n <= 11) q += t[l]; if (n >= 12) w += t[l] }
             printf "%.3f %.3f %.3f", t[1], q, w; for (l = 2; l <= 11; l++) printf " %.3f", t[l] }' "$1"
}
results="$tmp/results.txt"
: >"$results"
for ((r = 1; r <= runs; r++)); do
  for v in backfill bydate whole; do
    la=$(cut -d' ' -f1-3 /proc/loadavg)
    t0=$(now)
    if [ $v = backfill ]; then
      "${nice_cmd[@]}" "$TIDE" backfill "$tmp/backfill.tide" --db "$db" --out "$outs" --csv "$tmp/backfill" \
        --threads "$threads" --timings 2>"$tmp/$v-$r.err" >/dev/null
    else
      "${nice_cmd[@]}" "$TIDE" run "$tmp/$v.tide" --threads "$threads" --timings 2>"$tmp/$v-$r.err" >/dev/null
    fi
    t1=$(now)
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    echo "$v $r $wall $(sums "$tmp/$v-$r.err") $la" >>"$results"
    log "$v run $r: wall $wall s (load average $la)"
  done
done
# answers: the backfill's CSV equals the bydate answers (same rows, any
# order; numbers within a relative 1e-9: sums of doubles in another order)
same=yes
for i in $(seq 1 10); do
  if ! cmp -s <(tail -n +2 "$tmp/backfill/q$i.csv" | LC_ALL=C sort) \
              <(tail -n +2 "$tmp/bydate/q$i.csv" | LC_ALL=C sort) &&
     ! paste -d'\n' <(tail -n +2 "$tmp/backfill/q$i.csv" | LC_ALL=C sort) \
                     <(tail -n +2 "$tmp/bydate/q$i.csv" | LC_ALL=C sort) |
     awk -F, -v num='^-?[0-9]+([.][0-9]*)?([eE][-+]?[0-9]+)?$' 'NR % 2 { a = $0; next }
              { n = split(a, x, ","); if (n != NF) exit 1
                for (j = 1; j <= NF; j++) if (x[j] != $j) {
                  if (x[j] !~ num || $j !~ num) exit 1
                  d = x[j] - $j; if (d < 0) d = -d; m = $j < 0 ? -$j : $j
                  if (d > 1e-9 * m) exit 1 } }
              END { if (NR % 2) exit 1 }'; then
    same=no
    log "q$i: backfill and bydate answers differ"
  fi
done
rowsA=$(for i in $(seq 1 10); do echo -n "$(($(wc -l <"$tmp/backfill/q$i.csv") - 1)) "; done)
rowsW=$(for i in $(seq 1 10); do echo -n "$(($(wc -l <"$tmp/whole/q$i.csv") - 1)) "; done)

{
  echo "# Backfill vs one in-memory table: G1 $rows rows, K=$k, $dates dates of $per rows, $threads threads, codec $codec, load x = historical_table(...)${load:- (lazy)}"
  echo
  echo "tide $("$TIDE" --version | cut -d' ' -f2), $(nproc) CPUs, $(date -u +%FT%TZ). Times in seconds;"
  echo "backfill = per-date questions via tide backfill (summed over dates); bydate = the same answers"
  echo "from one table of all rows (Date in every by=); whole = the questions over all rows (no Date)."
  echo "Backfill answers equal bydate's: $same. Answer rows per question (backfill, all dates): $rowsA; whole: $rowsW."
  echo
  echo "| variant | run | wall | load | questions | writes | q1 | q2 | q3 | q4 | q5 | q6 | q7 | q8 | q9 | q10 | load avg |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  while read -r v r wall load q w q1 q2 q3 q4 q5 q6 q7 q8 q9 q10 l1 l5 l15; do
    echo "| $v | $r | $wall | $load | $q | ${w} | $q1 | $q2 | $q3 | $q4 | $q5 | $q6 | $q7 | $q8 | $q9 | $q10 | $l1 $l5 $l15 |"
  done <"$results"
  echo
  echo "(writes: the write_csv statements; for backfill the 'save:' times of --timings, its per-date CSV appends)"
  awk '{ w[$1] = w[$1] ? (w[$1] < $3 ? w[$1] : $3) : $3; q[$1] = q[$1] ? (q[$1] < $5 ? q[$1] : $5) : $5 }
       END { printf "\nBest of runs: wall backfill %.3f / bydate %.3f / whole %.3f; backfill/whole %.2fx, backfill/bydate %.2fx (wall); questions backfill %.3f / bydate %.3f / whole %.3f; backfill/whole %.2fx, backfill/bydate %.2fx\n",
               w["backfill"], w["bydate"], w["whole"], w["backfill"] / w["whole"], w["backfill"] / w["bydate"],
               q["backfill"], q["bydate"], q["whole"], q["backfill"] / q["whole"], q["backfill"] / q["bydate"] }' "$results"
} >"$out/backfill.md"
cat "$out/backfill.md"
