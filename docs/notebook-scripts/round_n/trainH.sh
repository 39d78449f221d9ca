# H0-H2: G4 + 2 epochs on G4's draws plus 24 real tuning galaxies with human-length masks (x REPEAT, 8),
# one model per fold (human_masks.py), named P0-P2 (P default H); HH: REPEAT=32 P=HH; HS: REPEAT=32 P=HS SEED=3.
set -e
cd "$(dirname "$0")/../../.."; source .venv/bin/activate
D="runs/bar-lab/gz2_2002.npz runs/bar-lab/tight_3002.npz runs/bar-lab/inj8v_5002.npz runs/bar-lab/inj8vL_5004.npz"
COMMON="--architecture silu_bar_evidence --real-survey runs/surveys/sdss740 --holdout-from catalog_xai/weights/sdss-finetuned/training_log.json --real-repeat 1 --epochs 2 --lr 3e-4 --saliency-weight 0.5 --saliency-max-images 8 --photometric --evidence-weight 1"
M=$(python -c "import json; print(json.dumps(json.load(open('catalog_xai/weights/saliency-evidence/manifest.json'))['method']))")
for k in ${FOLDS:-0 1 2}; do
  H=$(for i in $(seq ${REPEAT:-8}); do printf "runs/bar-lab/human_f$k.npz "; done)
  python scripts/train_bar_ensemble.py --data $D $H $COMMON --init catalog_xai/weights/saliency-evidence/silu_bar_evidence.safetensors --seed ${SEED:-2} --tag=-${P:-H}$k --out runs/bar-lab/${P:-H}$k
  python scripts/package_bar_ensemble.py runs/bar-lab/${P:-H}$k/*.state.pt --last --architecture silu_bar_evidence --out runs/bar-lab/ens${P:-H}$k --name ens${P:-H}$k --method "$M" | tail -1
done
