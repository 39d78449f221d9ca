"""Train saliency-first ensemble members on generated galaxies with their bar masks (issue 12).

Reproduces the generated-galaxy stage of the shipped bar ensemble; every run is logged in
docs/bar-lab-notebook.md.  Data: .npz files written by ``scripts/render_training_set.py``.
Resumable: the training state is saved after every epoch to ``<out>/<name>.state.pt``.

Fine-tuning on real skies (the second stage): ``--init`` the generated-stage weights and
``--real-survey`` a labelled survey (e.g. the 740 SDSS cutouts, ``cxai-import gz2``), framed
as the model's spec says; the generated galaxies stay in the mix so that the mask loss keeps
the maps on the bar while the vote loss learns the real images.  ``--holdout-from`` keeps out
the galaxies another ensemble's training log held out (so held-out figures stay comparable).

    python scripts/train_bar_ensemble.py --data a.npz b.npz --architecture silu_slim \
        --seed 0 --epochs 14 --saliency-weight 1 --out runs/bar-lab/m0
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch

from catalog_xai.core.labels import unbarred_by_votes
from catalog_xai.core.models import bar_evidence_state_from_silu_slim, default_spec
from catalog_xai.core.training import TrainConfig, new_member, train_model
from catalog_xai.storage.checkpoints import load_train_state, load_weights, save_train_state


def load_init(model: torch.nn.Module, path: str) -> None:
    """Start ``model`` from saved weights.  A silu_slim member fills a silu_bar_evidence model's
    encoder (its layers 0-6) and deep stack (7-11) and head, which have the same shapes; the
    bar-evidence head then starts untrained."""
    state = load_weights(path)
    if getattr(model, "bar_pool", None) is not None and any(k.startswith("backbone.0.") for k in state):
        missing, unexpected = model.load_state_dict(bar_evidence_state_from_silu_slim(state), strict=False)
        if unexpected or not all(k.startswith(("backbone.evidence.", "bar_pool.")) for k in missing):
            raise ValueError(f"{path} is not a silu_slim member: unexpected {unexpected}, missing {missing}")
        return
    model.load_state_dict(state)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", nargs="+", required=True)
    ap.add_argument("--architecture", default="silu_slim")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=14)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--saliency-weight", type=float, default=1.0)
    ap.add_argument("--noise-s", type=float, default=0.1)
    ap.add_argument("--mask-shape", choices=("profile", "flat"), default="flat",
                    help="profile: the generator's 1 - m^2 (peaks at the centre); flat: the bar's whole outline, so "
                         "Algorithm 1's threshold keeps the bar end to end")
    ap.add_argument("--framing", default="measured", help="the framing the data were framed with (its spec's)")
    ap.add_argument("--crop-fraction", type=float, default=0.25, help="central fraction of the GZ2 frame seen")
    ap.add_argument("--init", default=None, help="start from these weights (.pt, .state.pt or .safetensors); a "
                    "silu_slim member initialises a silu_bar_evidence model's encoder and deep stack")
    ap.add_argument("--saliency-max-images", type=int, default=0,
                    help="barred galaxies per batch in the saliency-mask loss (0: all)")
    ap.add_argument("--photometric", action="store_true", help="photometric jitter (stretch, colour, seeing)")
    ap.add_argument("--evidence-weight", type=float, default=0.0,
                    help="weight of the bar-evidence segmentation loss (silu_bar_evidence)")
    ap.add_argument("--real-survey", default=None, help="labelled survey to fine-tune on (vote fractions)")
    ap.add_argument("--real-repeat", type=int, default=2, help="each real galaxy appears this often per epoch")
    ap.add_argument("--holdout-from", default=None, help="training_log.json whose holdout_objids are left out")
    ap.add_argument("--real-empty-below", type=float, default=None, metavar="P",
                    help="real galaxies whose volunteers' bar fraction (per question) is at most P, or who were "
                         "hardly asked it (smooth or edge-on), get a known *empty* bar mask: the evidence map "
                         "learns not to fire on real nuclei, rings and disks (default: real masks unknown)")
    ap.add_argument("--tag", default="", help="suffix of the output names")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="where to train: cpu, or cuda on a GPU machine")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N galaxies (timing)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    parts = [np.load(p, allow_pickle=True) for p in args.data]
    x = torch.from_numpy(np.concatenate([p["x"] for p in parts]))
    masks = torch.from_numpy(np.concatenate([p["masks"] for p in parts]))
    if args.mask_shape == "flat":
        masks = torch.where(masks > 0, 255, 0).to(torch.uint8)
    y = torch.from_numpy(np.concatenate([p["labels"] for p in parts]).astype(np.float32))
    if args.limit:
        x, masks, y = x[: args.limit], masks[: args.limit], y[: args.limit]
    spec = default_spec(args.architecture, framing=args.framing, crop_fraction=args.crop_fraction)
    known = torch.ones(len(x), dtype=torch.bool)
    n_real = 0
    if args.real_survey:
        from catalog_xai.cli.train_ensemble import load_labelled

        xr, yr, _, _, objids, _ = load_labelled(args.real_survey, spec)
        if args.holdout_from:
            held = set(json.load(open(args.holdout_from))["holdout_objids"])
            keep = torch.from_numpy(np.array([int(o) not in held for o in objids]))
            xr, yr = xr[keep], yr[keep]
        n_real = len(xr)
        # real galaxies have no bar mask (unknown), except those volunteers call unbarred: an empty one
        known_r = torch.zeros(n_real, dtype=torch.bool)
        if args.real_empty_below is not None:
            known_r = torch.from_numpy(unbarred_by_votes(yr.numpy(), args.real_empty_below))
            print(f"real: {int(known_r.sum())} of {n_real} unbarred by the votes get an empty bar mask")
        xr, yr = xr.repeat(args.real_repeat, 1, 1, 1), yr.repeat(args.real_repeat, 1)
        x = torch.cat([x, xr])
        y = torch.cat([y, yr])
        masks = torch.cat([masks, torch.zeros((len(xr), *masks.shape[1:]), dtype=masks.dtype)])
        known = torch.cat([known, known_r.repeat(args.real_repeat)])
    os.makedirs(args.out, exist_ok=True)
    name = f"{args.architecture}-s{args.seed}{args.tag}"
    state_path = os.path.join(args.out, f"{name}.state.pt")
    resume = load_train_state(state_path) if os.path.exists(state_path) else None
    model = new_member(spec, args.seed)
    if args.init:
        load_init(model, args.init)
    model.to(args.device)
    cfg = TrainConfig(epochs=args.epochs, lr=args.lr, seed=args.seed, noise_s=args.noise_s,
                      saliency_weight=args.saliency_weight, evidence_weight=args.evidence_weight,
                      saliency_max_images=args.saliency_max_images, photometric=args.photometric,
                      plateau_patience=3, early_stop_patience=6)
    t0 = time.time()
    res = train_model(model, x, y, cfg, masks_u8=masks, mask_known=known, resume=resume,
                      on_epoch=lambda st: save_train_state(st, state_path), device=args.device)
    torch.save({k: v.cpu() for k, v in model.state_dict().items()}, os.path.join(args.out, f"{name}.pt"))
    with open(os.path.join(args.out, f"{name}.json"), "w") as f:
        json.dump({"args": vars(args), "spec": spec.to_dict(), "n_train": len(x), "n_real": n_real,
                   "seconds": time.time() - t0,
                   **res}, f, indent=1)


if __name__ == "__main__":
    main()
