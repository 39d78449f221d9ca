"""Round N: each single member on the long-bar sets (train, alt) and on the real 36, to see whether
a generated set in the real regime ranks members as the real set does."""
import sys, json; sys.path.insert(0, '.'); sys.path.insert(0, 'docs/notebook-scripts/round_n')
import numpy as np
from dataclasses import replace
from scipy.stats import pearsonr
from longset import long_set
from benchmarks.bar_lab import run_lab_ensemble, real_set, DEFAULT_REAL
from catalog_xai import storage
from catalog_xai.core.ensemble import Ensemble
from catalog_xai.core.params import MethodParams
shipped = storage.load_ensemble('catalog_xai/weights/saliency-evidence')
members = {'G4': Ensemble([shipped.models[0]], shipped.manifest), 'G5': Ensemble([shipped.models[1]], shipped.manifest)}
for tag in sys.argv[1].split(','):
    if tag not in members:
        e = storage.load_ensemble(f'runs/bar-lab/ens{tag}'); members[tag] = Ensemble(e.models, shipped.manifest)
params = MethodParams.from_dict({'n_samples': 64, **shipped.manifest.get('method', {})})
sets = {'long_train': long_set(9104), 'long_alt': long_set(9105, style='alt')}
if '--real' in sys.argv: sets['real'] = real_set(DEFAULT_REAL)
for tag in sys.argv[1].split(','):
    row = []
    for name, lab in sets.items():
        L = run_lab_ensemble(members[tag], lab, params)['length_pix']; ok = np.isfinite(L)
        row.append(f'{pearsonr(L[ok], lab.true_pix[ok])[0]:.3f}')
    print(tag, ' '.join(row), flush=True)
