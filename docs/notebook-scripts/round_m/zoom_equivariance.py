"""Round M: a label-free member criterion. A bar's length must scale with the zoom; a halo of fixed
pixel width does not. Each member's maps of real barred SDSS cutouts (GZ2 votes, not the Hoyle 36)
at zoom 1 and z; the criterion is the median |log(L_z / (z L_1))| and the correlation of z L_1 with L_z.
    python docs/notebook-scripts/round_m/zoom_equivariance.py saliency-evidence runs/bar-lab/ensC1 runs/bar-lab/ensC2
"""
import glob
import sys

import numpy as np
import pyarrow.parquet as pq
import torch
import torch.nn.functional as F

sys.path.insert(0, '.')  # run from the repository root
from catalog_xai import storage
from catalog_xai.core import bars, saliency
from catalog_xai.core.preprocess import frame_batch

t = pq.read_table(sorted(glob.glob('runs/surveys/sdss740/*.parquet')))
bar = np.array(t.column('vote_bar_yes_cumulative_fraction').to_pylist(), float)
feat = np.array(t.column('vote_smooth_or_featured_features_or_disk_cumulative_fraction').to_pylist(), float)
order = np.argsort(-np.nan_to_num(bar / np.maximum(feat, 1e-3)))[:64]  # the most barred by the votes
images = [t.column('image')[int(i)].as_py() for i in order]
Z = float(sys.argv[-1]) if sys.argv[-1].replace('.', '').isdigit() else 1.3
ckpts = [a for a in sys.argv[1:] if not a.replace('.', '').isdigit()]


def zoom(x, z):
    s = x.shape[-1]
    c = int(round(s / z))
    o = (s - c) // 2
    return F.interpolate(x[..., o:o + c, o:o + c], size=(s, s), mode='bilinear', align_corners=False, antialias=True)


def lengths(member, x):
    m = saliency.smoothgrad([member], x, n_samples=8, s_noise=0.0, symmetry='dihedral', x_input=True,
                            seeds=list(range(len(x))), chunk_size=64)[0].numpy()
    m = bars.keep_near_centre(m, 0.18)
    return bars.measure_bars(m, readout='axis_profile', profile_fraction=0.2, profile_width=12, profile_symmetric=True,
                             near_centre=0.18)['length_pix']


for ck in ckpts:
    ens = storage.load_ensemble(ck)
    fr = frame_batch(images, input_size=ens.spec.input_size, crop_fraction=ens.spec.crop_fraction, framing='measured')
    x = fr.x.float()
    xz = zoom(x, Z)
    for k, member in enumerate(ens.members):
        l1, lz = lengths(member, x), lengths(member, xz)
        ok = np.isfinite(l1) & np.isfinite(lz)
        err = np.median(np.abs(np.log(lz[ok] / (Z * l1[ok]))))
        r = np.corrcoef(Z * l1[ok], lz[ok])[0, 1]
        print(f'{ck} member {k}: n {ok.sum()}, median |log(Lz / z L1)| {err:.3f}, median Lz/(z L1) '
              f'{np.median(lz[ok] / (Z * l1[ok])):.3f}, corr {r:.3f}', flush=True)
