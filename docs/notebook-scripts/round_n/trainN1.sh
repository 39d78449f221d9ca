set -e
cd "$(dirname "$0")/../../.."; source .venv/bin/activate
# N1: C1's recipe (G4 + 4 epochs, seed 2) with the long, frame-filling generated set added
D="runs/bar-lab/gz2_2002.npz runs/bar-lab/tight_3002.npz runs/bar-lab/inj8v_5002.npz runs/bar-lab/inj8vL_5004.npz runs/bar-lab/long_3101.npz"
COMMON="--architecture silu_bar_evidence --real-survey runs/surveys/sdss740 --holdout-from catalog_xai/weights/sdss-finetuned/training_log.json --real-repeat 1 --epochs 4 --lr 3e-4 --saliency-weight 0.5 --saliency-max-images 8 --photometric --evidence-weight 1"
python scripts/train_bar_ensemble.py --data $D $COMMON --init catalog_xai/weights/saliency-evidence/silu_bar_evidence.safetensors --seed 2 --tag=-N1 --out runs/bar-lab/N1
M=$(python -c "import json; print(json.dumps(json.load(open('catalog_xai/weights/saliency-evidence/manifest.json'))['method']))")
python scripts/package_bar_ensemble.py runs/bar-lab/N1/*.state.pt --last --architecture silu_bar_evidence --out runs/bar-lab/ensN1 --name ensN1 --method "$M" | tail -1
