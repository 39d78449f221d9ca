"""Round N: the profile's level set by its peak outside the nucleus (|t| >= core px), on the lab's
four cached sets and the long-bar sets."""
import sys; sys.path.insert(0, 'docs/notebook-scripts/round_m')
from ro import *
C = np.load('/tmp/m/C_SE.npz'); Lz = np.load(sys.argv[1] if len(sys.argv) > 1 else '/tmp/n/L_SE0.npz')
def norm(x):
    mx = x.max(axis=(-2, -1), keepdims=True); return np.where(mx > 0, x / np.where(mx > 0, mx, 1), 0)
data = {}
for s in SETS:
    maps = np.nan_to_num(bars.keep_near_centre(norm(np.nan_to_num(C[s+'_maps'].astype(np.float64))), 0.18))
    data[s] = dict(P=[prof(m) for m in maps], m2o=C[s+'_m2o'], true=C[s+'_true'], scale=C[s+'_scale'], maps=maps)
for s in ('train', 'alt'):
    maps = np.nan_to_num(bars.keep_near_centre(norm(np.nan_to_num(Lz[s+'_maps'].astype(np.float64))), 0.18))
    data['long_'+s] = dict(P=[prof(m) for m in maps], m2o=Lz[s+'_m2o'], true=Lz[s+'_true'], scale=np.ones(len(maps)), maps=maps)
ALL = SETS + ['long_train', 'long_alt']
def score2(fn, label):
    row = []
    for s in ALL:
        D = data[s]; L = np.array([fn(t, p, m) for (t, p), m in zip(D['P'], D['maps'])])*D['m2o']; ok = np.isfinite(L)
        row.append(f'{pearsonr(L[ok], D["true"][ok])[0]:.3f}')
    print(f'{label:45s}', ' '.join(row), flush=True)
def outer_core(t, p, m, f=0.2, core=0, near=0.18*112):
    q = p.copy()
    if core > 0:
        outside = np.abs(t) >= core
        peak = q[outside].max()
        q = np.minimum(q, peak)  # the nucleus no longer sets the level
    return outer(t, q, m, f)
print(f'{"":45s}', ' '.join(ALL))
score2(lambda t, p, m: outer(t, p, m), 'shipped f0.2')
for core in (3, 5, 8, 12):
    for f in (0.2, 0.3, 0.4):
        score2(lambda t, p, m, c=core, f=f: outer_core(t, p, m, f, c), f'peak outside |t|<{core} f{f}')
