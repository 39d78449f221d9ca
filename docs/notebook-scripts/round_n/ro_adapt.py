"""Round N: a level that follows the bar's scale.  First pass at f0; where that length (map px)
exceeds Lc, measure again at f1 (or: f falls linearly with the first length)."""
import sys; sys.path.insert(0, 'docs/notebook-scripts/round_m')
from ro import *
C = np.load('/tmp/m/C_SE.npz'); Lg = np.load('/tmp/n/C_SEL.npz')
def norm(x):
    mx = x.max(axis=(-2, -1), keepdims=True); return np.where(mx > 0, x / np.where(mx > 0, mx, 1), 0)
data = {}
for s, src in [(s, C) for s in SETS] + [('generated_long', Lg)]:
    maps = np.nan_to_num(bars.keep_near_centre(norm(np.nan_to_num(src[s+'_maps'].astype(np.float64))), 0.18))
    data[s] = dict(P=[prof(m) for m in maps], m2o=src[s+'_m2o'], true=src[s+'_true'], maps=maps)
ALL = ['generated_tune', 'generated', 'generated_alt', 'real', 'generated_long']
def score2(fn, label):
    row = []
    for s in ALL:
        D = data[s]; L = np.array([fn(t, p, m) for (t, p), m in zip(D['P'], D['maps'])]) * D['m2o']
        row.append(f'{pearsonr(L, D["true"])[0]:.3f}')
    print(f'{label:40s}', ' '.join(row), flush=True)
def two_pass(t, p, m, f0=0.2, f1=0.1, Lc=50):
    L = outer(t, p, m, f0)
    return outer(t, p, m, f1) if L > Lc else L
def slope(t, p, m, f0=0.2, L0=30, L1=70, f1=0.1):
    L = outer(t, p, m, f0); w = np.clip((L - L0) / (L1 - L0), 0, 1)
    return outer(t, p, m, f0 + w * (f1 - f0))
print(f'{"":40s}', ' '.join(ALL))
score2(lambda t, p, m: outer(t, p, m), 'shipped f0.2')
for f1 in (0.1, 0.15):
    for Lc in (30, 40, 50, 60):
        score2(lambda t, p, m, f1=f1, Lc=Lc: two_pass(t, p, m, 0.2, f1, Lc), f'two-pass f1 {f1} above {Lc} px')
for L0, L1 in ((20, 60), (30, 70), (40, 80)):
    score2(lambda t, p, m, a=L0, b=L1: slope(t, p, m, 0.2, a, b, 0.1), f'f 0.2 -> 0.1 from {L0} to {L1} px')
