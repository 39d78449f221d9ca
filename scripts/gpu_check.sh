#!/usr/bin/env bash
# The GPU checks in one go, on a machine with a CUDA GPU whose python3 already holds torch:
#   1. `python -m benchmarks gpu`: the paper-size ensemble's SmoothGrad and a survey job;
#   2. the shipped default ensembles on a generated survey ($GALAXIES, default 2048): throughput;
#   3. the README's main job (the 36 real barred galaxies) in the precisions $DEMO_PRECISIONS
#      (default "auto fp32"; "" to skip), catalogues packed for a comparison with a CPU run;
#   STEPS (default "1 2 3") picks among these;
#   4. with OOM_CHECK_GB=G: the paper-size job squeezed into G GB of the GPU (out-of-memory retries).
# Where Ray and astropy are missing (a bare GPU image with no registry), put their wheels and a
# `ray-stripped.tar.xz` in .whl/ first (`bash scripts/gpu_wheels.sh`).
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
step() { [[ " ${STEPS-1 2 3} " == *" $1 "* ]]; }  # STEPS="1 3": only those
if step 1; then
  timeout 330 python3 -m benchmarks gpu --results "$OUT" 2>&1 | tee "$OUT/bench.log" || rc=1
fi
# 2. the product's default ensembles on a larger generated survey: catalogue throughput on one GPU
if step 2; then
timeout 120 python3 jobs/make_survey.py --output runs/gpu-check/survey --galaxies "${GALAXIES:-2048}" \
  --shard-size 256 --seed 11 2>&1 | tail -3
SECONDS=0
timeout 240 python3 jobs/classify_survey.py --input runs/gpu-check/survey --output runs/gpu-check/vac-survey \
  --overwrite 2>&1 | tail -12 | tee "$OUT/survey.log" || rc=1
echo "wall ${SECONDS} s" | tee -a "$OUT/survey.log"
cp runs/gpu-check/vac-survey/_summary.json "$OUT/survey_summary.json" 2>/dev/null
fi
# 3. the README's main job (36 real barred galaxies), packed for comparison with a CPU catalogue
step 3 && for precision in ${DEMO_PRECISIONS-auto fp32}; do
  SECONDS=0
  timeout 150 python3 jobs/classify_survey.py --output "runs/gpu-check/vac-$precision" --overwrite \
    --precision "$precision" 2>&1 | tail -25 | tee "$OUT/demo-$precision.log" || rc=1
  echo "wall ${SECONDS} s" | tee -a "$OUT/demo-$precision.log"
  tar cf "$OUT/vac-$precision.tar" -C runs/gpu-check "vac-$precision"
done
# 4. (OOM_CHECK_GB=G) the paper-size ensemble's job with only G GB of the GPU left to it (another
#    process holds the rest): the actor must retry with smaller chunks and still write every row.
if [ -n "${OOM_CHECK_GB:-}" ]; then
  python3 -c "
import torch, time
free, _ = torch.cuda.mem_get_info()
hold = torch.empty(int(free - ${OOM_CHECK_GB} * 2**30), dtype=torch.uint8, device='cuda')
print('holding', round(hold.numel() / 2**30, 1), 'GB of the GPU', flush=True)
time.sleep(900)" &
  hog=$!
  sleep 20
  python3 -c "
from catalog_xai import storage
from catalog_xai.core.models import create_model, default_spec
storage.save_ensemble([create_model(default_spec(a, input_size=224)) for a in ('vgg16', 'resnet50v2', 'xception')],
                      'runs/gpu-check/paper-size', name='paper-size-untrained', training_data='none (timing)')"
  python3 jobs/make_survey.py --output runs/gpu-check/oom-survey --galaxies 32 --shard-size 16 --seed 5 --no-ray | tail -1
  timeout 240 python3 jobs/classify_survey.py --input runs/gpu-check/oom-survey --output runs/gpu-check/oom-vac \
    --checkpoint runs/gpu-check/paper-size --bar-checkpoint same --n-samples 64 --overwrite --progress-seconds 600 \
    2>&1 | grep -v "^\s*$" | grep -E "retrying|actor on|galaxies:|rows not ok|time:|Error" | tee "$OUT/oom.log" || rc=1
  kill $hog
fi
exit $rc
