set -e
cd "$(dirname "$0")/../../.."; source .venv/bin/activate
D="runs/bar-lab/gz2_2002.npz runs/bar-lab/tight_3002.npz runs/bar-lab/inj8v_5002.npz runs/bar-lab/inj8vL_5004.npz"
COMMON="--architecture silu_bar_evidence --real-survey runs/surveys/sdss740 --holdout-from catalog_xai/weights/sdss-finetuned/training_log.json --real-repeat 1 --epochs 4 --lr 3e-4 --saliency-weight 0.5 --saliency-max-images 8 --photometric --evidence-weight 1"
python scripts/train_bar_ensemble.py --data $D $COMMON --init catalog_xai/weights/saliency-evidence/silu_bar_evidence-2.safetensors --seed 3 --tag=-C2 --out runs/bar-lab/C2
M=$(cat /tmp/m/method.json)
python scripts/package_bar_ensemble.py runs/bar-lab/C2/*.state.pt --last --architecture silu_bar_evidence --out runs/bar-lab/ensC2 --name ensC2 --method "$M" | tail -1
python docs/notebook-scripts/round_m/cachem.py runs/bar-lab/ensC2 C2 2>&1 | tail -1
python docs/notebook-scripts/round_m/ro3.py /tmp/m/M_C2.npz m0
