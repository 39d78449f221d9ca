"""Round O: the log-Gaussian weighted zoom read-out over T (target length in frame, px) and its
width w, on a Z grid; chosen on generated-tune + generated-long (known truths), the rest reported.
usage: zoom_scan.py PAD Z,Z,..."""
import sys
import numpy as np
from scipy.stats import pearsonr
sys.argv += [] ; import zoom_select as zs
rows = []
for T in (28, 30, 32, 35, 38, 40, 45):
    for w in (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.6):
        r = []
        for s in zs.SETS:
            L = np.array([d['L'] for d in zs.D[s]]); F = L / np.array([d['m2o'] for d in zs.D[s]]); t = zs.D[s][0]['true']
            W = np.exp(-0.5 * (np.log(F / T) / w) ** 2) + 1e-12
            est = np.exp((W * np.log(L)).sum(0) / W.sum(0))
            r.append(pearsonr(est, t)[0])
        rows.append((T, w, *r))
rows.sort(key=lambda r: -(r[2] + r[6]))
print('T w', ' '.join(zs.SETS), '  (sorted by tune + long)')
for r in rows[:12]:
    print(f'{r[0]} {r[1]:.2f}', ' '.join(f'{v:.3f}' for v in r[2:]))
