set -e
cd "$(dirname "$0")/../../.."; source .venv/bin/activate
while ! grep -q "^gz2 " /tmp/m/data.log; do sleep 10; done
while pgrep -f "cache.py" >/dev/null; do sleep 5; done
D="runs/bar-lab/gz2_2002.npz runs/bar-lab/tight_3002.npz runs/bar-lab/inj8v_5002.npz runs/bar-lab/inj8vL_5004.npz"
COMMON="--architecture silu_bar_evidence_hdc --real-survey runs/surveys/sdss740 --holdout-from catalog_xai/weights/sdss-finetuned/training_log.json --real-repeat 1 --epochs 4 --lr 3e-4 --saliency-weight 0.5 --saliency-max-images 8 --photometric --evidence-weight 1"
python scripts/train_bar_ensemble.py --data $D $COMMON --init catalog_xai/weights/saliency-evidence/silu_bar_evidence.safetensors --seed 2 --tag=-M1 --out runs/bar-lab/M1
python scripts/train_bar_ensemble.py --data $D $COMMON --init catalog_xai/weights/saliency-evidence/silu_bar_evidence-2.safetensors --seed 3 --tag=-M2 --out runs/bar-lab/M2
