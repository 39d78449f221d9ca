set -e
cd "$(dirname "$0")/../../.."; source .venv/bin/activate
# N2: as N1 with the resolution-matched frame-filling set (fill_frame v2; arms, texture, nucleus)
D="runs/bar-lab/gz2_2002.npz runs/bar-lab/tight_3002.npz runs/bar-lab/inj8v_5002.npz runs/bar-lab/inj8vL_5004.npz runs/bar-lab/long_3102.npz"
COMMON="--architecture silu_bar_evidence --real-survey runs/surveys/sdss740 --holdout-from catalog_xai/weights/sdss-finetuned/training_log.json --real-repeat 1 --epochs 4 --lr 3e-4 --saliency-weight 0.5 --saliency-max-images 8 --photometric --evidence-weight 1"
python scripts/train_bar_ensemble.py --data $D $COMMON --init catalog_xai/weights/saliency-evidence/silu_bar_evidence.safetensors --seed 2 --tag=-N2 --out runs/bar-lab/N2
M=$(python -c "import json; print(json.dumps(json.load(open('catalog_xai/weights/saliency-evidence/manifest.json'))['method']))")
python scripts/package_bar_ensemble.py runs/bar-lab/N2/*.state.pt --last --architecture silu_bar_evidence --out runs/bar-lab/ensN2 --name ensN2 --method "$M" | tail -1
