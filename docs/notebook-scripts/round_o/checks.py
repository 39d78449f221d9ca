"""Round O: the shipped zoom scan through the product path on generated-tune, ablations (no scan;
no scan with 4 views; 8 views a zoom), and the real set split as cxai-tune splits it (a third)."""
import sys; sys.path.insert(0, '.')
from dataclasses import replace
import numpy as np
from scipy.stats import pearsonr
from benchmarks.bar_lab import run_lab_ensemble, real_set, generated_set, DEFAULT_REAL
from catalog_xai import storage
from catalog_xai.core.params import MethodParams
ens = storage.load_ensemble('catalog_xai/weights/saliency-evidence')
shipped = MethodParams.from_dict({'n_samples': 64, **ens.manifest['method']})
variants = {'shipped (5 zooms x 4 views)': shipped, 'no scan, 4 views': replace(shipped, zoom_steps=1),
            'no scan, 8 views (round N)': replace(shipped, zoom_steps=1, n_samples=8),
            '5 zooms x 8 views': replace(shipped, n_samples=8)}
sets = sys.argv[1].split(',') if len(sys.argv) > 1 else ['generated-tune', 'real']
labs = {s: real_set(DEFAULT_REAL) if s == 'real' else generated_set(s) for s in sets}
tune = np.zeros(36, bool); tune[np.random.default_rng(0).permutation(36)[:12]] = True  # cxai-tune's split, seed 0
for name, p in variants.items():
    row = []
    for s, lab in labs.items():
        L = run_lab_ensemble(ens, lab, p)['length_pix']
        row.append(f'{s} {pearsonr(L, lab.true_pix)[0]:.3f}')
        if s == 'real':
            row.append(f'(third {pearsonr(L[tune], lab.true_pix[tune])[0]:.3f} / other 24 {pearsonr(L[~tune], lab.true_pix[~tune])[0]:.3f})')
    print(f'{name:30s}', ' '.join(row), flush=True)
