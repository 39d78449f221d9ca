"""Render generated training galaxies with their bar masks, framed as the models see them (issue 12).

    # GZ2-framed 424-px renders, framed "measured" at crop 0.25 (the generated stage)
    python scripts/render_training_set.py gz2 --n 2500 --seed 2001 --out v2q_2001.npz
    # SDSS-like tight cutouts (128 px at 0.1-0.2"/px), framed "measured" as real cutouts are
    python scripts/render_training_set.py tight --n 3000 --seed 3001 --out tight_3001.npz
    # the Hoyle cutouts' regime: the galaxy fills the 128-px cutout (R90 50-80 px), bars 0.35-0.8
    # R90 in semi-major axis (synth.fill_frame); half the armed disks with arms starting sharply (at
    # the bar's ends), half the disks clumpy, half with an unresolved nucleus
    python scripts/render_training_set.py long --n 2000 --seed 3102 --attached-arms 0.5 --texture 0.5 \
        --nucleus 0.5 --out long_3102.npz

Writes x (N, 3, 112, 112) uint8, masks (N, 112, 112) uint8 (the bar's outline on each
galaxy's crop, ``synth.bar_mask``), labels (N, 37) cumulative vote fractions, crop_px and the
truth; ``train_bar_ensemble.py`` reads them.  The runs behind the shipped weights are in
docs/bar-lab-notebook.md.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from catalog_xai.core import synth
from catalog_xai.core.preprocess import frame_batch

GEOMETRY = ("bar_a_pix", "bar_q", "bar_phi", "pa", "cos_i")


def render(kind: str, n: int, seed: int, attached_arms: float = 0.0, texture: float = 0.0,
           nucleus: float = 0.0) -> tuple[list[bytes], list[dict], list[np.ndarray]]:
    images, truths, votes = [], [], []
    for k in range(n):
        # gz2: galaxy k is make_catalogue's objid k + 1 (the same galaxies as a synthetic survey of this seed)
        rng = np.random.default_rng([seed, k] if kind != "gz2" else [seed, k + 1])
        t = synth.sample_truth(rng)
        synth.set_arm_start(t, rng, attached_arms)
        synth.set_disk_texture(t, rng, texture)
        synth.set_nucleus(t, rng, nucleus)
        if kind == "long":
            t["render_scale"] = synth.fill_frame(t, rng)
            rgb = synth.render_galaxy(t, rng, 128, pixel_scale_arcsec=t["render_scale"])
        elif kind == "tight":
            # nearer / larger galaxies too, as in the Hoyle sample (z ~ 0.03)
            t["render_scale"] = float(rng.uniform(0.1, 0.2))
            rgb = synth.render_galaxy(t, rng, 128, pixel_scale_arcsec=t["render_scale"])
        else:
            t["render_scale"] = t["pixel_scale_arcsec"]  # the GZ2 frame: 0.02 petroR90_r per pixel
            rgb = synth.render_galaxy(t, rng)
        images.append(synth.encode_jpeg(rgb))
        truths.append(t)
        votes.append(synth.simulate_votes(t, rng))
    return images, truths, votes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=("gz2", "tight", "long"))
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--attached-arms", type=float, default=0.0,
                    help="probability that an armed disk's arms start sharply (at a barred disk's bar ends)")
    ap.add_argument("--texture", type=float, default=0.0, help="probability of a clumpy disk")
    ap.add_argument("--nucleus", type=float, default=0.0, help="probability of an unresolved nucleus")
    ap.add_argument("--crop-fraction", type=float, default=0.25)
    ap.add_argument("--framing", default="measured")
    ap.add_argument("--input-size", type=int, default=112)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    images, truths, votes = render(args.kind, args.n, args.seed, args.attached_arms, args.texture,
                                    args.nucleus)
    fb = frame_batch(images, input_size=args.input_size, crop_fraction=args.crop_fraction, framing=args.framing)
    ok = fb.ok_rows
    masks = []
    for i in ok:
        t = truths[i]
        field = fb.crop_px[i] * t["render_scale"] / t["pixel_scale_arcsec"]  # the crop in 424-px GZ2 units
        masks.append(synth.bar_mask({"has_bar": t["has_bar"], **{k: t[k] for k in GEOMETRY}}, args.input_size, field))
    np.savez_compressed(
        args.out, x=(fb.x * 255 + 0.5).to(torch.uint8).numpy(), masks=(np.stack(masks) * 255).astype(np.uint8),
        labels=np.stack([votes[i] for i in ok]), crop_px=fb.crop_px[ok],
        true_has_bar=np.array([truths[i]["has_bar"] for i in ok]),
        true_bar_length_pix=np.array([truths[i]["bar_length_arcsec"] / truths[i]["render_scale"] for i in ok]))
    print(f"wrote {args.out}: {len(ok)} of {args.n} framed, median crop {np.median(fb.crop_px[ok]):.0f} px")


if __name__ == "__main__":
    main()
