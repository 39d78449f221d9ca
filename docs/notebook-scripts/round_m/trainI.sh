# I1: G4 + 2 epochs on G4's draws plus the 16 isophote-masked real barred cutouts, 8 times over
set -e
cd "$(dirname "$0")/../../.."; source .venv/bin/activate
D="runs/bar-lab/gz2_2002.npz runs/bar-lab/tight_3002.npz runs/bar-lab/inj8v_5002.npz runs/bar-lab/inj8vL_5004.npz"
ISO=$(for i in 1 2 3 4 5 6 7 8; do printf "runs/bar-lab/isoreal.npz "; done)
COMMON="--architecture silu_bar_evidence --real-survey runs/surveys/sdss740 --holdout-from catalog_xai/weights/sdss-finetuned/training_log.json --real-repeat 1 --epochs 2 --lr 3e-4 --saliency-weight 0.5 --saliency-max-images 8 --photometric --evidence-weight 1"
python scripts/train_bar_ensemble.py --data $D $ISO $COMMON --init catalog_xai/weights/saliency-evidence/silu_bar_evidence.safetensors --seed 2 --tag=-I1 --out runs/bar-lab/I1
M=$(cat /tmp/m/method.json)
python scripts/package_bar_ensemble.py runs/bar-lab/I1/*.state.pt --last --architecture silu_bar_evidence --out runs/bar-lab/ensI1 --name ensI1 --method "$M" | tail -1
python docs/notebook-scripts/round_m/cachem.py runs/bar-lab/ensI1 I1 2>&1 | tail -1
python docs/notebook-scripts/round_m/ro3.py /tmp/m/M_I1.npz m0
