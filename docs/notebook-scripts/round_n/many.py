"""Round N: maps averaged over many networks (the cached per-network maps of rounds M and N)."""
import sys, itertools; sys.path.insert(0, 'docs/notebook-scripts/round_m')
from ro import *
def norm(x):
    mx = x.max(axis=(-2, -1), keepdims=True); return np.where(mx > 0, x / np.where(mx > 0, mx, 1), 0)
nets = {}
se = np.load('/tmp/m/M_SE.npz'); mm = np.load('/tmp/m/M_M.npz')
for s in SETS:
    pass
def members(path, k=None, key='members'):
    d = np.load(path); return {s: (d[s+'_'+key][:, k] if k is not None else d[s+'_'+key]) for s in SETS}, d
base = np.load('/tmp/m/M_SE.npz')
for name, path, k in [('G4', '/tmp/m/M_SE.npz', 0), ('G5', '/tmp/m/M_SE.npz', 1), ('C0', '/tmp/m/M_C0.npz', 0),
                      ('C1', '/tmp/m/M_C1.npz', 0), ('C2', '/tmp/m/M_C2.npz', 0), ('I1', '/tmp/m/M_I1.npz', 0),
                      ('M1', '/tmp/m/M_M.npz', 0), ('M2', '/tmp/m/M_M.npz', 1)]:
    d = np.load(path); nets[name] = {s: norm(np.nan_to_num(d[s+'_members'][:, k].astype(np.float32))) for s in SETS}
d = np.load('/tmp/n/C_N1.npz'); nets['N1'] = {s: norm(np.nan_to_num(d[s+'_maps'].astype(np.float32))) for s in SETS}
def evaluate(names):
    row = []
    for s in SETS:
        maps = np.nan_to_num(bars.keep_near_centre(norm(np.mean([nets[n][s] for n in names], 0)).astype(np.float64), 0.18))
        L = np.array([outer(*prof(m), m) for m in maps]) * base[s+'_m2o']
        row.append(pearsonr(L, base[s+'_true'])[0])
    return row
print('columns', SETS)
for names in (['G4'], ['G4', 'G5'], ['G4', 'G5', 'C1', 'C2'], ['G4', 'G5', 'C0', 'C1', 'C2', 'I1', 'N1'],
              ['G4', 'G5', 'C0', 'C1', 'C2', 'I1', 'N1', 'M1', 'M2'], ['C0', 'C1', 'C2', 'I1', 'N1']):
    print(f'{"+".join(names):40s}', ' '.join(f'{r:.3f}' for r in evaluate(names)), flush=True)
