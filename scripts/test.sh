#!/usr/bin/env bash
# Set up, then lint and run the whole test suite (pass pytest options through, e.g. -m "not slow").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
ruff check .  # the lint rules are in pyproject.toml
python -m pytest "$@"
