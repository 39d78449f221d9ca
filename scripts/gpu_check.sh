#!/usr/bin/env bash
# The GPU checks in one go, on a machine with a CUDA GPU whose python3 already holds torch:
#   1. `python -m benchmarks gpu`: the paper-size ensemble's SmoothGrad and a survey job;
#   2. the shipped default ensembles on a generated survey ($GALAXIES, default 2048): throughput;
#   3. the README's main job (the 36 real barred galaxies) in the precisions $DEMO_PRECISIONS
#      (default "auto fp32"; "" to skip), catalogues packed for a comparison with a CPU run.
# Where Ray and astropy are missing (a bare GPU image with no registry), put their wheels and a
# `ray-stripped.tar.xz` (site-packages layout) in .whl/ first: docs/performance.md says how.
# Results go to $OUT (default runs/gpu-check).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu-check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  [ -f .whl/ray-stripped.tar.xz ] && tar xJf .whl/ray-stripped.tar.xz -C /tmp/site
  export PYTHONPATH=/tmp/site:$PWD PATH=/tmp/site/bin:$PATH
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, ray, astropy; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'ray', ray.__version__, 'astropy', astropy.__version__)" | tee -a "$OUT/gpu.txt"
nproc | sed 's/^/cpus /' | tee -a "$OUT/gpu.txt"
rc=0
timeout 330 python3 -m benchmarks gpu --results "$OUT" 2>&1 | tee "$OUT/bench.log" || rc=1
# 2. the product's default ensembles on a larger generated survey: catalogue throughput on one GPU
timeout 120 python3 jobs/make_survey.py --output runs/gpu-check/survey --galaxies "${GALAXIES:-2048}" \
  --shard-size 256 --seed 11 2>&1 | tail -3
SECONDS=0
timeout 240 python3 jobs/classify_survey.py --input runs/gpu-check/survey --output runs/gpu-check/vac-survey \
  --overwrite 2>&1 | tail -12 | tee "$OUT/survey.log" || rc=1
echo "wall ${SECONDS} s" | tee -a "$OUT/survey.log"
cp runs/gpu-check/vac-survey/_summary.json "$OUT/survey_summary.json" 2>/dev/null
# 3. the README's main job (36 real barred galaxies), packed for comparison with a CPU catalogue
for precision in ${DEMO_PRECISIONS-auto fp32}; do
  SECONDS=0
  timeout 150 python3 jobs/classify_survey.py --output "runs/gpu-check/vac-$precision" --overwrite \
    --precision "$precision" 2>&1 | tail -25 | tee "$OUT/demo-$precision.log" || rc=1
  echo "wall ${SECONDS} s" | tee -a "$OUT/demo-$precision.log"
  tar cf "$OUT/vac-$precision.tar" -C runs/gpu-check "vac-$precision"
done
exit $rc
