#!/usr/bin/env bash
# Run the tests that assert training outcomes (pytest -m outcome; or the tests given as
# arguments) under every CPU kernel set torch can dispatch to on this machine
# (ATEN_CPU_CAPABILITY default, avx2, avx512 where the CPU has it) and with 1 and 2 threads.
# A test tuned to one CPU's kernels fails here. Usage: bash scripts/test_matrix.sh [pytest args]
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
caps="default avx2"
grep -q avx512f /proc/cpuinfo 2>/dev/null && caps="$caps avx512"
args=("$@"); [ ${#args[@]} -eq 0 ] && args=(-m outcome)
status=0
for cap in $caps; do
  for threads in 1 2; do
    log=$(mktemp)
    ATEN_CPU_CAPABILITY=$cap PINN_TEST_THREADS=$threads OMP_NUM_THREADS=$threads \
      "$PY" -m pytest -q -p no:cacheprovider "${args[@]}" >"$log" 2>&1 || { status=1; grep -E '^(FAILED|ERROR)' "$log"; }
    echo "ATEN_CPU_CAPABILITY=$cap threads=$threads: $(tail -n 1 "$log")"
    rm -f "$log"
  done
done
exit $status
