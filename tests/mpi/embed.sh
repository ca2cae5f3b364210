#!/usr/bin/env bash
# tide inside an MPI job: each rank must plan only the CPUs mpirun bound it
# to (the inherited mask), never oversubscribe silently, and leave OpenMP
# binding to an embedder that sets OMP_PROC_BIND.
#   tests/mpi/embed.sh path/to/tide      (exit 77 = skipped: no mpirun or < 2 CPUs)
# SPDX-License-Identifier: Apache-2.0
set -euo pipefail
tide=${1:?usage: embed.sh TIDE}
mpirun=$(command -v mpirun || true)
if [ -z "$mpirun" ] || [ "$(nproc)" -lt 2 ]; then
  echo "mpi embed: needs mpirun (openmpi-bin) and 2 CPUs; skipped" >&2
  exit 77
fi
run() { "$mpirun" --allow-run-as-root --oversubscribe -np 2 "$@" 2>&1; }
fail() { echo "mpi embed: $*" >&2; echo "$out" >&2; exit 1; }

# 1. bound to one core per rank: each plans 1 worker on its own CPU
out=$(run --bind-to core --map-by core env -u TIDE_THREADS "$tide" topology)
[ "$(grep -c '1 PU(s) usable' <<<"$out")" = 2 ] || fail "a rank saw more than its core"
[ "$(grep -c 'plan: 1 worker(s)' <<<"$out")" = 2 ] || fail "a rank planned more than 1 worker"
pus=$(grep -o 'worker 0 -> PU [0-9]*' <<<"$out" | awk '{print $NF}' | sort -u | wc -l)
[ "$pus" = 2 ] || fail "both ranks planned the same CPU"

# 2. asking for more workers than the rank's CPUs is reported, not silent
out=$(run --bind-to core --map-by core "$tide" topology --threads 3)
[ "$(grep -c 'OVERSUBSCRIBED' <<<"$out")" = 2 ] || fail "oversubscription not reported"

# 3. an embedder binding OpenMP itself: tide does not pin
out=$(run --bind-to none -x OMP_PROC_BIND=true "$tide" topology)
[ "$(grep -c 'the embedding process binds' <<<"$out")" = 2 ] || fail "OMP_PROC_BIND not respected"
echo "mpi embed: ok"
