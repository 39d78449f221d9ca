"""Round N: networks (alone, or the shipped pair) on the lab's generated-long set and the others."""
import sys; sys.path.insert(0, '.')
import numpy as np
from scipy.stats import pearsonr
from benchmarks.bar_lab import run_lab_ensemble, real_set, generated_set, DEFAULT_REAL
from catalog_xai import storage
from catalog_xai.core.ensemble import Ensemble
from catalog_xai.core.params import MethodParams
shipped = storage.load_ensemble('catalog_xai/weights/saliency-evidence')
params = MethodParams.from_dict({'n_samples': 64, **shipped.manifest.get('method', {})})
def net(tag):
    if tag == 'SE': return shipped
    if tag in ('G4', 'G5'): return Ensemble([shipped.models[('G4', 'G5').index(tag)]], shipped.manifest)
    models = [m for t in tag.split('+') for m in (storage.load_ensemble(f'runs/bar-lab/ens{t}').models
                                                 if t not in ('G4', 'G5') else [shipped.models[('G4', 'G5').index(t)]])]
    return Ensemble(models, shipped.manifest)
sets = sys.argv[2].split(',')
labs = {s: real_set(DEFAULT_REAL) if s == 'real' else generated_set(s) for s in sets}
print('network', ' '.join(sets))
for tag in sys.argv[1].split(','):
    e = net(tag); row = []
    for s, lab in labs.items():
        L = run_lab_ensemble(e, lab, params)['length_pix']; ok = np.isfinite(L)
        row.append(f'{pearsonr(L[ok], lab.true_pix[ok])[0]:.3f}')
    print(tag, ' '.join(row), flush=True)
