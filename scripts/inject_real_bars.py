"""Bars injected into real unbarred SDSS disks, with their masks (issue 12: the real-sky gap).

The mask-trained models light generated bars but, on real cutouts, the disk's texture and the
sky: the mask loss only ever saw generated skies.  Here the skies, disks, noise and JPEG are
real: a Ferrers bar (n 0.5-1.5, length 0.5-1.4 R90 by default (`--length-r90`), axis ratio 0.2-0.45, any angle, its
strength 0.4-1.2 of the disk's light where it ends, the galaxy's own colour, SDSS seeing) is
added to a real galaxy that volunteers call unbarred, in approximately linear flux (the
cutouts' asinh stretch undone), then stretched and JPEG-encoded again.  Its outline is the
mask; its labels are the galaxy's own votes with the bar question answered yes.

    python scripts/inject_real_bars.py --survey runs/surveys/sdss740 \
        --holdout-from catalog_xai/weights/sdss-finetuned/training_log.json --per-galaxy 3 --out inj.npz

Writes the same arrays as render_training_set.py (x, masks, labels), for train_bar_ensemble.py.
Only the training split is used (the held-out galaxies stay unseen).
"""

from __future__ import annotations

import argparse
import io
import json

import numpy as np
import torch
from PIL import Image

from catalog_xai import columns as C
from catalog_xai import storage
from catalog_xai.core.labels import conditional_from_cumulative
from catalog_xai.core.preprocess import decode_image, frame_batch, frame_image, measure_r90_pixels

BETA = 2.5  # asinh stretch softness assumed for undoing the cutouts' stretch (SDSS-like)


def _gauss_blur(a: np.ndarray, sigma: float) -> np.ndarray:
    k = np.fft.fftfreq(a.shape[0])
    g = np.exp(-2 * (np.pi * sigma) ** 2 * (k[:, None] ** 2 + k[None, :] ** 2))
    return np.real(np.fft.ifft2(np.fft.fft2(a) * g))


def inject(rgb: np.ndarray, rng: np.random.Generator, variety: bool = False,
           length_r90: tuple[float, float] = (0.5, 1.4), rings: float = 0.0) -> tuple[np.ndarray, np.ndarray] | None:
    """A real cutout with a bar added, and the bar's outline (None if the galaxy has no size).

    ``variety`` (run D3) widens the family of bars beyond Ferrers ellipses: boxy isophotes
    (generalised ellipse |u/a|^c + |v/qa|^c, c 2-4), ansae (bright blobs at the bar's ends) in
    a third of them, and a milder strength range (0.25-1.0), closer to real bars' contrast.
    Without it the draws are exactly those of runs D/D2.  ``length_r90``: the bar's full length,
    in units of the cutout's measured R90 (round G: up to 2, since a galaxy that overfills its
    cutout has a truncated R90 and a bar that spans most of the frame).

    ``rings`` (round L): the probability of an inner ring round the bar (radius 1.0-1.3 x the
    bar's semi-major axis), in half of them broken into two arcs that leave the bar's ends, as
    real barred disks have; the outline stays the bar's alone, so a model that lights the ring
    where it crosses the bar's line is penalised for it (the real maps' worst errors, round K-L).
    Without it the draws are exactly those of the earlier runs.
    """
    r90 = measure_r90_pixels(rgb)
    if not np.isfinite(r90) or r90 < 4:
        return None
    size = rgb.shape[0]
    a = rng.uniform(*length_r90) / 2 * r90  # semi-major axis
    q, phi, n = rng.uniform(0.2, 0.45), rng.uniform(0, np.pi), rng.uniform(0.5, 1.5)
    c = (np.arange(size) + 0.5 - size / 2)
    x, y = np.meshgrid(c, c)
    u = x * np.cos(phi) + y * np.sin(phi)
    v = -x * np.sin(phi) + y * np.cos(phi)
    boxy = rng.uniform(2.0, 4.0) if variety else 2.0
    m2 = (np.abs(u / a) ** boxy + np.abs(v / (q * a)) ** boxy) ** (2 / boxy)
    profile = np.where(m2 < 1, (1 - np.minimum(m2, 1)) ** n, 0.0)
    if variety and rng.uniform() < 1 / 3:  # ansae: blobs of 0.15 a at the ends, as bright as the bar's middle
        for end in (-1, 1):
            profile = profile + np.exp(-((u - end * 0.85 * a) ** 2 + v ** 2) / (2 * (0.15 * a) ** 2))
        profile = np.minimum(profile, 1.0)
    lin = np.sinh(BETA * rgb / 255.0) / np.sinh(BETA)
    r = np.hypot(x, y)
    ring = (r > 0.8 * a) & (r < 1.1 * a)
    ref = np.median(lin[ring], axis=0)  # the disk's light (and colour) where the bar ends
    amp = rng.uniform(*((0.25, 1.0) if variety else (0.4, 1.2))) * ref
    if rings and rng.uniform() < rings:
        rr, wr = rng.uniform(1.0, 1.3) * a, rng.uniform(0.06, 0.12) * a
        qr, pr = rng.uniform(0.75, 1.0), rng.uniform(0, np.pi)
        ur, vr = x * np.cos(pr) + y * np.sin(pr), (-x * np.sin(pr) + y * np.cos(pr)) / qr
        ring_light = rng.uniform(0.3, 0.8) * np.exp(-0.5 * ((np.hypot(ur, vr) - rr) / wr) ** 2)
        if rng.uniform() < 0.5:  # a pseudo-ring: two arcs starting at the bar's ends, trailing
            theta = np.arctan2(v, u) - rng.uniform(0, 0.7) * rng.choice([-1, 1])
            ring_light = ring_light * (0.5 + 0.5 * np.cos(2 * theta)) ** 2
        profile = np.maximum(profile, ring_light) if variety else profile + ring_light
    bar = _gauss_blur(profile, 1.3)[..., None] * amp  # SDSS seeing: FWHM ~1.4" = 3 px at 0.2"/px
    out = np.arcsinh(np.clip(lin + bar, 0, None) * np.sinh(BETA)) / BETA
    rgb_out = np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb_out).save(buf, "JPEG", quality=90)
    return decode_image(buf.getvalue()), (m2 < 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--survey", required=True)
    ap.add_argument("--holdout-from", required=True, help="training_log.json whose holdout_objids are left out")
    ap.add_argument("--per-galaxy", type=int, default=3)
    ap.add_argument("--max-bar", type=float, default=0.25, help="most volunteers' per-question bar fraction kept")
    ap.add_argument("--seed", type=int, default=5001)
    ap.add_argument("--crop-fraction", type=float, default=0.25)
    ap.add_argument("--input-size", type=int, default=112)
    ap.add_argument("--variety", action="store_true", help="boxy bars, ansae, milder strengths (run D3)")
    ap.add_argument("--length-r90", type=float, nargs=2, default=(0.5, 1.4), metavar=("LO", "HI"),
                    help="the bar's full length drawn uniformly in [LO, HI] x the cutout's measured R90")
    ap.add_argument("--rings", type=float, default=0.0,
                    help="probability of an inner ring or two arcs round the bar, outside its mask (round L)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    t = storage.read_survey(args.survey).to_pandas()
    held = set(json.load(open(args.holdout_from))["holdout_objids"])
    cum = t[list(C.LABEL_COLUMNS)].to_numpy(float)
    cond = conditional_from_cumulative(cum)
    i_bar, i_featured = C.ANSWER_NAMES.index("bar_yes"), C.ANSWER_NAMES.index("smooth_or_featured_features_or_disk")
    i_face = C.ANSWER_NAMES.index("edge_on_no")
    pick = (~t[C.OBJID].isin(held).to_numpy() & (np.nan_to_num(cond[:, i_bar], nan=1) <= args.max_bar)
            & (np.nan_to_num(cum[:, i_featured]) >= 0.5) & (np.nan_to_num(cond[:, i_face]) >= 0.7))
    rng = np.random.default_rng(args.seed)
    images, masks_full, labels = [], [], []
    for k in np.flatnonzero(pick):
        rgb = decode_image(t[C.IMAGE].iloc[k])
        for _ in range(args.per_galaxy):
            res = inject(rgb, rng, args.variety, tuple(args.length_r90), args.rings)
            if res is None:
                continue
            img, mask = res
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, "PNG")  # lossless: the JPEG round trip was in inject
            images.append(buf.getvalue())
            masks_full.append(mask)
            y = cum[k].copy()
            asked = y[i_face]  # the bar question's share of volunteers
            y[i_bar], y[i_bar + 1] = 0.8 * asked, 0.2 * asked
            labels.append(y)
    fb = frame_batch(images, input_size=args.input_size, crop_fraction=args.crop_fraction, framing="measured")
    masks = []
    for i in fb.ok_rows:
        m = np.repeat((masks_full[i] * 255).astype(np.uint8)[..., None], 3, axis=2)
        framed = frame_image(m, input_size=args.input_size, crop_fraction=args.crop_fraction,
                             crop_px=int(fb.crop_px[i]))[0]
        masks.append((framed.numpy() > 0.5).astype(np.uint8) * 255)
    np.savez_compressed(args.out, x=(fb.x * 255 + 0.5).to(torch.uint8).numpy(), masks=np.stack(masks),
                        labels=np.stack([labels[i] for i in fb.ok_rows]).astype(np.float32),
                        crop_px=fb.crop_px[fb.ok_rows])
    print(f"wrote {args.out}: {len(fb.ok_rows)} injected cutouts from {int(pick.sum())} real unbarred disks "
          f"(of {len(t)}; held-out excluded); median crop {np.median(fb.crop_px[fb.ok_rows]):.0f} px")


if __name__ == "__main__":
    main()
