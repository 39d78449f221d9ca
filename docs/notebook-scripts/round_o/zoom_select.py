"""Round O: choose per galaxy among the zoomed measurements cached by zoom_pad.py.
usage: [TAG=_ns4] zoom_select.py [PAD] [Z,Z,...]"""
import os
import sys
import numpy as np
from scipy.stats import pearsonr
SETS = ['generated-tune', 'generated', 'generated-alt', 'real', 'generated-long']
PAD = sys.argv[1] if len(sys.argv) > 1 else 'mirror'
ZS = [float(z) for z in sys.argv[2].split(',')] if len(sys.argv) > 2 else [1.0, 1.1, 1.25, 1.4, 1.5, 1.6, 1.75, 2.0, 2.25, 2.5]
def load(s, z):
    pad = 'mirror' if (s not in ('real', 'generated-long') or z == 1.0 and PAD == 'sky') else PAD
    return np.load(f'/tmp/o/zp_{s}_{z}_{pad}{os.environ.get("TAG", "")}.npz')
D = {s: [load(s, z) for z in ZS] for s in SETS}
def score(rule, label):
    row = []
    for s in SETS:
        L = np.array([d['L'] for d in D[s]]); F = L / np.array([d['m2o'] for d in D[s]]); t = D[s][0]['true']
        est = rule(L, F)
        if est.dtype != float: est = L[est, np.arange(L.shape[1])]
        row.append(f'{pearsonr(est, t)[0]:.3f}')
    print(f'{label:45s}', ' '.join(row))
if __name__ == '__main__':
    print(PAD, ZS); print(f'{"":45s}', ' '.join(SETS))
    for k, z in enumerate(ZS):
        score(lambda L, F, k=k: np.full(L.shape[1], k), f'Z {z}')
    for T in (25, 30, 32, 35, 38, 40, 45):
        score(lambda L, F, T=T: np.argmin(np.abs(np.log(F / T)), axis=0), f'closest to {T} px in frame (log)')
    for T in (30, 35, 40):
        def soft(L, F, T=T, w=0.25):
            W = np.exp(-0.5 * (np.log(F / T) / w) ** 2); return np.exp((W * np.log(L)).sum(0) / W.sum(0))
        score(soft, f'log-Gaussian weighted (w 0.25) round {T}')
    score(lambda L, F: np.median(L, axis=0), 'median over Z')
    def flattest(L, F):
        d = np.abs(np.diff(np.log(L), axis=0)); d = np.concatenate([d[:1], np.minimum(d[:-1], d[1:]) , d[-1:]]); return np.argmin(d, axis=0)
    score(flattest, 'most zoom-stable Z')
