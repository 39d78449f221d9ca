"""Round N: a scale-free nucleus guard.  The profile's level is f' x its maximum beyond the
point where it first falls below h x its peak (a spike's core), so a narrow nuclear spike no
longer sets the level while a smooth bar (max beyond that point = h x peak) keeps f = f' h."""
import sys; sys.argv = sys.argv[:1] + ['/tmp/n/L_SE0.npz']
exec(open('docs/notebook-scripts/round_n/ro_core.py').read().split("print(f'{\"\":45s}'")[0])
def outer_hw(t, p, m, fp=0.4, h=0.5):
    c = len(t) // 2; peak = p.max(); k = int(np.argmax(p))
    right = np.flatnonzero(p[k:] < h * peak); left = np.flatnonzero(p[:k + 1][::-1] < h * peak)
    if len(right) == 0 or len(left) == 0: return outer(t, p, m, fp * h)
    core = np.ones_like(p, bool); core[k - left[0] + 1:k + right[0]] = False
    level_ref = p[core].max()
    q = np.minimum(p, level_ref)
    return outer(t, q, m, fp * level_ref / q.max())
print(f'{"":45s}', ' '.join(ALL))
score2(lambda t, p, m: outer(t, p, m), 'shipped f0.2')
for h in (0.3, 0.5, 0.7):
    for fp in (0.3, 0.4, 0.5, 0.6):
        score2(lambda t, p, m, h=h, fp=fp: outer_hw(t, p, m, fp, h), f"level {fp} x max beyond the {h} core")
