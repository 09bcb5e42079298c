#!/usr/bin/env bash
# Set up pinn-cli in a virtual environment (default .venv; VENV=... to choose).
# torch: whatever torch the environment already has is kept (a CUDA build on a GPU machine);
# otherwise TORCH_SPEC is installed (default torch==2.13.0, the CPU build on this project's machines).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
PY="$VENV/bin/python"
"$PY" -c "import torch" 2>/dev/null || "$PY" -m pip install -q "${TORCH_SPEC:-torch==2.13.0}"
"$PY" -m pip install -q -e ".[test]"
echo "pinn-cli is set up in $VENV ($("$PY" -c 'import torch; print("torch", torch.__version__)'))"
