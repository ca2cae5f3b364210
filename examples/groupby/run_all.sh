#!/bin/sh
# Generate a G1 dataset and run the ten db-benchmark groupby questions with
# per-statement timings.
#   examples/groupby/run_all.sh [ROWS] [K] [THREADS]      (default 1e6 100 0)
# Needs `tide` on PATH or TIDE=path/to/tide. Writes into the current folder.
set -eu
ROWS=${1:-1e6}
K=${2:-100}
THREADS=${3:-0}
TIDE=${TIDE:-tide}
DIR=$(cd "$(dirname "$0")" && pwd)
DATA=groupby_${ROWS}_${K}.csv
[ -f "$DATA" ] || "$TIDE" gen-groupby --rows "$ROWS" --k "$K" --out "$DATA"
for q in 1 2 3 4 5 6 7 8 9 10; do
  echo "q$q"
  "$TIDE" run "$DIR/q$q.tide" --threads "$THREADS" --timings \
      --set input="$DATA" --set output="q$q.csv"
done
