"""Round N (H): bar masks from the human lengths of the real tuning galaxies, in 3 folds of 12
(each fold's model trains on the other 24, is scored on its own 12).  The mask is an ellipse on
the shipped model's bar axis (its mean map), semi-major axis half the human length, axis ratio
0.3, in the 112-px frame the models see; the labels are NaN (no votes for these galaxies: only
the masks teach).  Writes runs/bar-lab/human_f{k}.npz (the 24 training galaxies of fold k).
    python docs/notebook-scripts/round_n/human_masks.py
"""
import sys; sys.path.insert(0, '.')
import numpy as np
from catalog_xai.core import bars
C = np.load('/tmp/m/C_SE.npz')  # docs/notebook-scripts/round_m/cache.py on saliency-evidence
x = (C['real_framed'].astype(np.float32) * 255 + 0.5).clip(0, 255).astype(np.uint8)
maps = np.nan_to_num(C['real_maps'].astype(np.float64))
half = C['real_true'] / C['real_m2o'] / 2  # human half-length in map pixels
n, s = len(x), x.shape[-1]
yy, xx = np.mgrid[:s, :s] - (s - 1) / 2
masks = []
for i in range(n):
    th = bars.bar_axis(maps[i])
    u = xx * np.cos(th) + yy * np.sin(th); v = -xx * np.sin(th) + yy * np.cos(th)
    masks.append((((u / half[i]) ** 2 + (v / (0.3 * half[i])) ** 2) <= 1).astype(np.uint8) * 255)
masks = np.stack(masks)
folds = np.random.default_rng(0).permutation(n) % 3
np.save('/tmp/n/human_folds.npy', folds)
for k in range(3):
    tr = np.flatnonzero(folds != k)
    np.savez_compressed(f'runs/bar-lab/human_f{k}.npz', x=x[tr], masks=masks[tr],
                        labels=np.full((len(tr), 37), np.nan, np.float32), crop_px=np.full(len(tr), np.nan))
    print(f'fold {k}: train on {len(tr)}, hold out {np.flatnonzero(folds == k).tolist()}')
