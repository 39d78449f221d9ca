set -e
cd "$(dirname "$0")/../../.."; source .venv/bin/activate
t=$SECONDS; python jobs/import_survey.py gz2 --input ../shared/data/sdss_gz2_cutouts --output runs/surveys/sdss740 --pixel-scale 0.2 2>&1 | tail -1; echo "import $((SECONDS-t)) s"
t=$SECONDS; python scripts/inject_real_bars.py --survey runs/surveys/sdss740 --holdout-from catalog_xai/weights/sdss-finetuned/training_log.json --per-galaxy 8 --seed 5002 --variety --out runs/bar-lab/inj8v_5002.npz 2>&1 | tail -1; echo "inj8v $((SECONDS-t)) s"
t=$SECONDS; python scripts/inject_real_bars.py --survey runs/surveys/sdss740 --holdout-from catalog_xai/weights/sdss-finetuned/training_log.json --per-galaxy 8 --seed 5004 --variety --length-r90 0.8 2.0 --out runs/bar-lab/inj8vL_5004.npz 2>&1 | tail -1; echo "inj8vL $((SECONDS-t)) s"
t=$SECONDS; python scripts/render_training_set.py tight --n 2000 --seed 3002 --out runs/bar-lab/tight_3002.npz 2>&1 | tail -1; echo "tight $((SECONDS-t)) s"
t=$SECONDS; python scripts/render_training_set.py gz2 --n 2500 --seed 2002 --out runs/bar-lab/gz2_2002.npz 2>&1 | tail -1; echo "gz2 $((SECONDS-t)) s"
