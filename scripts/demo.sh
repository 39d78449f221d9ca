#!/usr/bin/env bash
# Set up, then run the survey job on the embedded default: a generated sample survey,
# the shipped ensemble, a local Ray, the catalogue written to ./runs/demo/vac.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
python jobs/classify_survey.py "$@"
