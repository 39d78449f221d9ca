"""Round M: weak bar masks for real barred SDSS cutouts from the isophote fit (not from the networks).
The bar's outline is the ellipse at the isophotes' ellipticity peak, out to the isophote bar end
(core.isophotes' criteria), kept only where the fit is confident (peak ellipticity >= 0.3, the end
found inside the fit). Writes the same npz as scripts/inject_real_bars.py, the real votes as labels.
    python docs/notebook-scripts/round_m/isophote_masks.py runs/surveys/sdss740 runs/bar-lab/isoreal.npz
"""
import json
import sys

import numpy as np

sys.path.insert(0, '.')  # run from the repository root
from catalog_xai import columns as C
from catalog_xai import storage
from catalog_xai.core.isophotes import fit_isophotes
from catalog_xai.core.labels import conditional_from_cumulative
from catalog_xai.core.preprocess import decode_image, frame_batch, frame_image

survey, out = sys.argv[1], sys.argv[2]
t = storage.read_survey(survey).to_pandas()
held = set(json.load(open('catalog_xai/weights/sdss-finetuned/training_log.json'))['holdout_objids'])
cum = t[list(C.LABEL_COLUMNS)].to_numpy(float)
cond = conditional_from_cumulative(cum)
i_bar = C.ANSWER_NAMES.index('bar_yes')
i_feat = C.ANSWER_NAMES.index('smooth_or_featured_features_or_disk')
i_face = C.ANSWER_NAMES.index('edge_on_no')
pick = (~t[C.OBJID].isin(held).to_numpy() & (np.nan_to_num(cond[:, i_bar]) >= 0.5)
        & (np.nan_to_num(cum[:, i_feat]) >= 0.5) & (np.nan_to_num(cond[:, i_face]) >= 0.7))
print(f'{pick.sum()} barred by the votes (held-out excluded)', flush=True)
images, masks_full, labels, info = [], [], [], []
for k in np.flatnonzero(pick):
    raw = t[C.IMAGE].iloc[k]
    rgb = decode_image(raw)
    grey = rgb.astype(float).mean(axis=2)
    fit = fit_isophotes(grey)
    if fit is None:
        continue
    sma, eps, pa, factor = fit
    j = int(np.argmax(eps[:-1]))
    if eps[j] < 0.3:
        continue
    dpa = np.degrees(np.abs(np.angle(np.exp(2j * (pa - pa[j]))))) / 2
    ends = np.flatnonzero((np.arange(len(sma)) > j) & ((eps <= eps[j] - 0.1) | (dpa > 10)))
    if ends.size == 0:
        continue  # the end is not inside the fit: no confident extent
    semi = 0.5 * (sma[j] + sma[ends[0]]) * factor
    b = max(semi * (1 - eps[j]), 1.5)
    s = grey.shape[0]
    yy, xx = np.mgrid[:s, :s] - (s - 1) / 2
    u = xx * np.cos(pa[j]) + yy * np.sin(pa[j])  # photutils: PA from +x towards +y (rows)
    v = -xx * np.sin(pa[j]) + yy * np.cos(pa[j])
    masks_full.append(((u / semi) ** 2 + (v / b) ** 2 <= 1).astype(np.float32))
    images.append(raw)
    labels.append(cum[k])
    info.append((2 * semi, eps[j]))
fb = frame_batch(images, input_size=112, crop_fraction=0.25, framing='measured')
masks = []
for i in fb.ok_rows:
    m = np.repeat((masks_full[i] * 255).astype(np.uint8)[..., None], 3, axis=2)
    framed = frame_image(m, input_size=112, crop_fraction=0.25, crop_px=int(fb.crop_px[i]))[0]
    masks.append((framed.numpy() > 0.5).astype(np.uint8) * 255)
import torch  # noqa: E402

keep = [n for n, m in enumerate(masks) if m.astype(bool).sum() >= 150]  # < 150 px: a round nucleus, not a bar
rows = [fb.ok_rows[n] for n in keep]
np.savez_compressed(out, x=(fb.x[keep] * 255 + 0.5).to(torch.uint8).numpy(), masks=np.stack([masks[n] for n in keep]),
                    labels=np.stack([labels[i] for i in rows]).astype(np.float32), crop_px=fb.crop_px[rows])
masks = [masks[n] for n in keep]
L = np.array([info[i][0] for i in rows])
print(f'wrote {out}: {len(rows)} real barred cutouts with isophote masks; bar length median {np.median(L):.0f} '
      f'px (16-84 %: {np.percentile(L, 16):.0f}-{np.percentile(L, 84):.0f}); mask px median '
      f'{np.median([m.astype(bool).sum() for m in masks]):.0f} in the 112-px frame')
