# HC: the control for HS (trainH.sh with SEED=3): G4 + 2 epochs on G4's draws, seed 3, no human masks
set -e
cd "$(dirname "$0")/../../.."; source .venv/bin/activate
D="runs/bar-lab/gz2_2002.npz runs/bar-lab/tight_3002.npz runs/bar-lab/inj8v_5002.npz runs/bar-lab/inj8vL_5004.npz"
COMMON="--architecture silu_bar_evidence --real-survey runs/surveys/sdss740 --holdout-from catalog_xai/weights/sdss-finetuned/training_log.json --real-repeat 1 --epochs 2 --lr 3e-4 --saliency-weight 0.5 --saliency-max-images 8 --photometric --evidence-weight 1"
M=$(python -c "import json; print(json.dumps(json.load(open('catalog_xai/weights/saliency-evidence/manifest.json'))['method']))")
python scripts/train_bar_ensemble.py --data $D $COMMON --init catalog_xai/weights/saliency-evidence/silu_bar_evidence.safetensors --seed 3 --tag=-HC --out runs/bar-lab/HC
python scripts/package_bar_ensemble.py runs/bar-lab/HC/*.state.pt --last --architecture silu_bar_evidence --out runs/bar-lab/ensHC --name ensHC --method "$M" | tail -1
