#!/usr/bin/env bash
# Create .venv and install catalog_xai with its test extras.
# Without an NVIDIA GPU, torch comes as the CPU build (the CUDA build is several GB).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
if ! python -c "import torch" >/dev/null 2>&1; then
  if command -v nvidia-smi >/dev/null 2>&1; then
    python -m pip install -q "torch>=2.2,<2.15"
  else
    # The CPU wheel (a find-links wheel on our build machines; elsewhere use PyTorch's CPU index).
    python -m pip install -q "torch==2.13.0"
  fi
fi
python -m pip install -q -c scripts/constraints.txt -e ".[test]"  # the Ray version the cluster gets too
