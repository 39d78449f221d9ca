# Round N: the --device cuda path of train_bar_ensemble.py on a bare GPU image (wheels from scripts/gpu_wheels.sh in .whl/),
# a small run (1,024 frame-filling + 24 human-masked cutouts, carried), then packaged and loaded on the CPU.
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
tar xJf .whl/ray-stripped.tar.xz -C /tmp/site
export PYTHONPATH=/tmp/site:$PWD PATH=/tmp/site/bin:$PATH PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name --format=csv,noheader
D="runs/bar-lab/long_small.npz runs/bar-lab/human_f0.npz"
SECONDS=0
python3 scripts/train_bar_ensemble.py --data $D --architecture silu_bar_evidence --epochs 3 --saliency-weight 0.5 --saliency-max-images 8 --photometric --evidence-weight 1 --seed 1 --device cuda --tag=-gpu --out runs/gpu-train 2>&1 | tail -4
echo "train wall ${SECONDS} s"
python3 scripts/train_bar_ensemble.py --data $D --architecture silu_bar_evidence --epochs 1 --saliency-weight 0.5 --saliency-max-images 8 --photometric --evidence-weight 1 --seed 1 --threads 16 --device cpu --limit 256 --tag=-cpu --out runs/gpu-train 2>&1 | tail -1
python3 scripts/package_bar_ensemble.py runs/gpu-train/silu_bar_evidence-s1-gpu.state.pt --last --architecture silu_bar_evidence --out runs/gpu-train/ens --name gpu-trained 2>&1 | tail -1
python3 -c "
from catalog_xai import storage; e = storage.load_ensemble('runs/gpu-train/ens'); print('loaded on the CPU:', len(e.models), 'member(s)', next(e.models[0].parameters()).device)"
cp runs/gpu-train/*.json $OUT/ 2>/dev/null; true
