"""Round N: the bar ends where the map's ridge leaves the bar's axis (an arm bends away)."""
import sys; sys.path.insert(0, 'docs/notebook-scripts/round_m')
from ro import *
d = np.load(sys.argv[1])
def norm(x):
    mx = x.max(axis=(-2, -1), keepdims=True); return np.where(mx > 0, x / np.where(mx > 0, mx, 1), 0)
data = {}
for s in SETS:
    maps = np.nan_to_num(bars.keep_near_centre(norm(np.nan_to_num(d[s+'_maps'].astype(np.float64))), 0.18))
    data[s] = dict(P=[prof(m) for m in maps], m2o=d[s+'_m2o'], true=d[s+'_true'], scale=d[s+'_scale'], maps=maps)
def strip(m, W):
    h, w = m.shape; th = bars.bar_axis(m); reach = int(np.ceil(np.hypot(h, w)/2))
    t = np.arange(-reach, reach+1.); s = np.arange(-W, W+1.)
    tt, ss = np.meshgrid(t, s, indexing='ij'); cy, cx = (h-1)/2, (w-1)/2
    rows = cy+tt*np.sin(th)+ss*np.cos(th); cols = cx+tt*np.cos(th)-ss*np.sin(th)
    return t, s, ndimage.map_coordinates(m, [rows, cols], order=1, cval=0.)
def ridge(t, p, m, f=0.2, W=12, tol=4, mode='max', start=4, centroid=False):
    L = outer(t, p, m, f)
    tt, s, S = strip(m, W)
    if centroid:
        wts = np.clip(S - 0.5*S.max(1, keepdims=True), 0, None)
        off = (wts*s).sum(1)/np.maximum(wts.sum(1), 1e-12)
    else:
        off = s[np.argmax(S, 1)]
    c = len(tt)//2; halves = []
    for sign in (1, -1):
        r = np.arange(start, c)
        idx = c + sign*r
        bad = (np.abs(off[idx]) > tol) | (S[idx].max(1) < f*p.max())
        halves.append(r[np.argmax(bad)] if bad.any() else c)
    hb = max(halves) if mode == 'max' else min(halves) if mode == 'min' else np.mean(halves)
    return min(L, 2*hb)
score(data, lambda t, p, m: outer(t, p, m), 'shipped outermost f0.2')
for W in (8, 12, 20):
    for tol in (2, 3, 4, 6):
        for mode in ('max', 'mean'):
            score(data, lambda t, p, m, W=W, tol=tol, mode=mode: ridge(t, p, m, W=W, tol=tol, mode=mode), f'ridge W{W} tol{tol} {mode}')
for tol in (2, 3, 4):
    score(data, lambda t, p, m, tol=tol: ridge(t, p, m, W=12, tol=tol, mode='max', centroid=True), f'ridge centroid W12 tol{tol} max')
if len(sys.argv) > 2:
    D = data['real']
    for i, ((t, p), m) in enumerate(zip(D['P'], D['maps'])):
        tt, s, S = strip(m, 12); off = s[np.argmax(S, 1)]; c = len(tt)//2
        print(i, round(D['true'][i]/D['m2o'][i]), outer(t, p, m), ridge(t, p, m, tol=4), off[c:c+45:3].astype(int), off[c-45:c][::-3].astype(int))
