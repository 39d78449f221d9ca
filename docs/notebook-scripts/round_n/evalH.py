"""Round N (H): each fold's model on its held-out 12 real galaxies (pooled: 36 galaxies, each
measured by a model that never saw it), beside its control C0 and G4 on the same galaxies, and
each fold's model on the generated sets.
    python evalH.py PREFIX [generated sets, comma-separated] [control network, default C0]"""
import sys; sys.path.insert(0, '.')
import numpy as np
from scipy.stats import pearsonr, spearmanr
from benchmarks.bar_lab import run_lab_ensemble, real_set, generated_set, DEFAULT_REAL
from catalog_xai import storage
from catalog_xai.core.ensemble import Ensemble
from catalog_xai.core.params import MethodParams
shipped = storage.load_ensemble('catalog_xai/weights/saliency-evidence')
params = MethodParams.from_dict({'n_samples': 64, **shipped.manifest.get('method', {})})
folds = np.load('/tmp/n/human_folds.npy')
real = real_set(DEFAULT_REAL)
gen_sets = [s for s in sys.argv[2].split(',') if s] if len(sys.argv) > 2 else []
def one(path):
    e = storage.load_ensemble(path); return Ensemble(e.models, shipped.manifest)
control = sys.argv[3] if len(sys.argv) > 3 else 'C0'
nets = {'G4': Ensemble([shipped.models[0]], shipped.manifest), control: one(f'runs/bar-lab/ens{control}')}
prefix = sys.argv[1] if len(sys.argv) > 1 else 'H'
for k in range(3):
    nets[f'{prefix}{k}'] = one(f'runs/bar-lab/ens{prefix}{k}')
L = {name: run_lab_ensemble(e, real, params)['length_pix'] for name, e in nets.items()}
T = real.true_pix * real.pixel_scale
pooled = np.zeros(36)
for k in range(3):
    pooled[folds == k] = L[f'{prefix}{k}'][folds == k]
def fig(x): return f'{pearsonr(x * real.pixel_scale, T)[0]:.3f} (Spearman {spearmanr(x, T)[0]:.2f}, ratio {np.median(x * real.pixel_scale / T):.2f})'
print(f'{prefix} pooled held-out: {fig(pooled)}')
for name in nets:
    print(f'{name:4s} on all 36: {fig(L[name])}; on each fold: ' + ' '.join(f'{pearsonr(L[name][folds == k], T[folds == k])[0]:.2f}' for k in range(3)))
for s in gen_sets:
    lab = generated_set(s)
    print(s, ' '.join(f'{prefix}{k} {pearsonr(run_lab_ensemble(nets[f"{prefix}{k}"], lab, params)["length_pix"], lab.true_pix)[0]:.3f}' for k in range(3)), flush=True)
