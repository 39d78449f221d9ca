"""Round N: ridge test from mid-bar outwards, broken only by k consecutive off-axis samples."""
import sys; sys.argv = sys.argv[:2]
exec(open('docs/notebook-scripts/round_n/ridge.py').read().split("score(data, lambda t, p, m: outer")[0])
def ridge2(t, p, m, f=0.2, W=12, tol=4, frac=0.5, k=3, mode='max'):
    L = outer(t, p, m, f)
    tt, s, S = strip(m, W); off = s[np.argmax(S, 1)]; c = len(tt)//2; halves = []
    for sign in (1, -1):
        r = np.arange(int(frac*L/2), c); idx = c + sign*r
        bad = np.abs(off[idx]) > tol
        run = np.convolve(bad.astype(int), np.ones(k, int), 'full')[:len(bad)] >= k  # k in a row ending here
        halves.append(r[np.argmax(run)] - (k-1) if run.any() else c)
    hb = max(halves) if mode == 'max' else np.mean(halves)
    return min(L, 2*hb)
score(data, lambda t, p, m: outer(t, p, m), 'shipped outermost f0.2')
for frac in (0.3, 0.5, 0.7):
    for tol in (3, 4, 6):
        for k in (2, 4):
            for mode in ('max', 'mean'):
                score(data, lambda t, p, m, a=(frac, tol, k, mode): ridge2(t, p, m, frac=a[0], tol=a[1], k=a[2], mode=a[3]), f'ridge2 from {frac}L tol{tol} k{k} {mode}')
