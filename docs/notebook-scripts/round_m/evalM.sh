set -e
cd "$(dirname "$0")/../../.."; source .venv/bin/activate
M=$(cat /tmp/m/method.json)
for t in M1 M2; do
  st=$(ls runs/bar-lab/$t/*.state.pt)
  python scripts/package_bar_ensemble.py $st --last --architecture silu_bar_evidence_hdc --out runs/bar-lab/ens$t --name ens$t --method "$M" | tail -1
done
python scripts/package_bar_ensemble.py runs/bar-lab/M1/*.state.pt runs/bar-lab/M2/*.state.pt --last --architecture silu_bar_evidence_hdc --out runs/bar-lab/ensM --name ensM --method "$M" | tail -1
python docs/notebook-scripts/round_m/cachem.py runs/bar-lab/ensM M 2>&1 | tail -1
python docs/notebook-scripts/round_m/ro3.py /tmp/m/M_M.npz mean,min,m0,m1
