#!/usr/bin/env bash
# The prepared GPU check (scripts/gpu_check.py): the device tests on cuda, the paper's step timed
# against a hand-written PyTorch step (plain and with the SNR captured), a short Allen-Cahn RBA
# run, one table; <= 8 min on one GPU. Without CUDA it says so in one line and exits 0.
#   bash scripts/gpu_check.sh [--steps 20] [--ac-iterations 2000]
# Python: $PY, else .venv/bin/python (scripts/setup.sh), else python3, with this checkout first
# on the import path (no install needed where torch, hydra-core, h5py, ... are present).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if ! "$PY" -c "import torch, sys; sys.exit(not torch.cuda.is_available())" 2>/dev/null; then
    echo "gpu_check: no CUDA device here ($("$PY" -c 'import torch; print("torch", torch.__version__)' 2>/dev/null || echo 'no torch')): nothing to check"
    exit 0
fi
exec "$PY" scripts/gpu_check.py --device cuda "$@"
