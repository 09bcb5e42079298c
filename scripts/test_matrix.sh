#!/usr/bin/env bash
# Run the tests that assert training outcomes (pytest -m outcome; or the tests given as
# arguments) under every CPU kernel set torch can dispatch to on this machine
# (ATEN_CPU_CAPABILITY default, avx2, avx512 where the CPU has it) with 1 and 2 threads, and under
# MKL's other code paths (MKL_CBWR=COMPATIBLE, AVX2: its matrix products round differently) with
# one thread. A test tuned to one CPU's kernels fails here.
# Usage: bash scripts/test_matrix.sh [pytest args]
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
caps="default avx2"
grep -q avx512f /proc/cpuinfo 2>/dev/null && caps="$caps avx512"
args=("$@"); [ ${#args[@]} -eq 0 ] && args=(-m outcome)
combos=()
for cap in $caps; do for threads in 1 2; do combos+=("$cap $threads -"); done; done
for cbwr in COMPATIBLE AVX2; do combos+=("default 1 $cbwr"); done
status=0
for combo in "${combos[@]}"; do
  read -r cap threads cbwr <<<"$combo"
  vars=(ATEN_CPU_CAPABILITY="$cap" PINN_TEST_THREADS="$threads" OMP_NUM_THREADS="$threads")
  [ "$cbwr" != "-" ] && vars+=(MKL_CBWR="$cbwr")
  log=$(mktemp)
  env "${vars[@]}" "$PY" -m pytest -q -p no:cacheprovider "${args[@]}" >"$log" 2>&1 \
    || { status=1; grep -E '^(FAILED|ERROR)' "$log"; }
  echo "${vars[*]}: $(tail -n 1 "$log")"
  rm -f "$log"
done
exit $status
