"""Bar-length read-outs on cached lab maps (issue 12 notebook, §4 item 5).

Runs an ensemble once over the lab's three sets (``benchmarks/bar_lab.py``: the same galaxies,
through the product's own path), caches the measured ensemble-mean maps, then scores map
transforms and Algorithm 1 settings on them without running SmoothGrad again:

    python scripts/readout_lab.py --checkpoint saliency-real --cache runs/readout/saliency-real.npz

Read-outs beside Algorithm 1: saliency-weighted second moments above a fraction of the peak,
and the farthest pair above one fixed threshold.  Transforms: ``none``; ``azimuthal-median`` /
``azimuthal-mean``, the map minus its azimuthal median (mean) in 1-px annuli around the cutout's
centre (over the cutout's data), clipped at 0 and renormalised (a bar is the non-axisymmetric
part of the light; rings, bulges and disks are symmetric).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TRANSFORMS = ("none", "azimuthal-median", "azimuthal-mean")


def remove_axisymmetric(maps: np.ndarray, statistic: str = "median") -> np.ndarray:
    """(B, S, S) maps minus their azimuthal ``statistic`` in 1-px annuli about the centre,
    clipped at 0 and scaled to a peak of 1 (all-zero maps stay zero)."""
    b, s, _ = maps.shape
    yy, xx = np.mgrid[:s, :s]
    ring = np.rint(np.hypot(yy - (s - 1) / 2, xx - (s - 1) / 2)).astype(int).ravel()
    order = np.argsort(ring, kind="stable")
    bounds = np.flatnonzero(np.diff(ring[order])) + 1
    out = np.empty_like(maps, dtype=np.float64)
    for i, m in enumerate(maps.reshape(b, -1)):
        parts = np.split(m[order], bounds)
        # over the cutout's data only: the measured map is exactly 0 outside it (restrict_to_data),
        # and zeros in an annulus would lower its level and light a ring at the data's edge
        data = [p[p > 0] for p in parts]
        level = np.array([0.0 if not d.size else np.median(d) if statistic == "median" else d.mean() for d in data])
        sym = np.repeat(level, [len(p) for p in parts])
        res = np.empty_like(m, dtype=np.float64)
        res[order] = m[order] - sym
        res = np.clip(res, 0, None)
        peak = res.max()
        out[i] = (res / peak if peak > 0 else res).reshape(s, s)
    return out


def transform(maps: np.ndarray, name: str) -> np.ndarray:
    if name == "none":
        return maps
    return remove_axisymmetric(maps, name.split("-")[1])


def moments_length(maps: np.ndarray, level: float) -> np.ndarray:
    """Length of the saliency-weighted pixels above ``level`` x peak along their major axis:
    sqrt(12 l1), the full length of a uniform bar whose variance along it is l1."""
    out = np.full(len(maps), np.nan)
    s = maps.shape[1]
    yy, xx = np.mgrid[:s, :s].astype(np.float64)
    for i, m in enumerate(maps):
        keep = m > level * m.max() if m.max() > 0 else np.zeros_like(m, bool)
        if keep.sum() < 3:
            continue
        w = m[keep] / m[keep].sum()
        pts = np.stack([yy[keep], xx[keep]], 1)
        c = pts - (w[:, None] * pts).sum(0)
        cov = (w[:, None, None] * c[:, :, None] * c[:, None, :]).sum(0)
        out[i] = np.sqrt(12 * np.linalg.eigvalsh(cov)[-1])
    return out


def fixed_threshold_length(maps: np.ndarray, level: float) -> np.ndarray:
    """The farthest pair of pixels above ``level`` x peak: Algorithm 1 stopped at one threshold."""
    from catalog_xai.core.bars import bar_endpoints

    out = np.full(len(maps), np.nan)
    for i, m in enumerate(maps):
        ends = bar_endpoints(m > level * m.max()) if m.max() > 0 else None
        if ends is not None:
            out[i] = max(float(np.hypot(*(ends[0] - ends[1]))), 1.0)
    return out


def cache_maps(checkpoint: str, n_samples: int, path: Path, gradients: str = "abs", tune: bool = False,
               symmetry: str = "none", s_noise: float | None = None) -> dict:
    from benchmarks.bar_lab import DEFAULT_REAL, generated_set, real_set, run_lab_ensemble
    from catalog_xai import storage
    from catalog_xai.core.params import MethodParams

    ens = storage.load_ensemble(checkpoint)
    params = MethodParams.from_dict({**ens.manifest.get("method", {}), "n_samples": n_samples, "gradients": gradients,
                                     "symmetry": symmetry,
                                     **({} if s_noise is None else {"s_noise": s_noise})})
    out = {}
    labs = [generated_set("generated"), generated_set("generated-alt"), real_set(DEFAULT_REAL)]
    for lab in labs + ([generated_set("generated-tune")] if tune else []):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = run_lab_ensemble(ens, lab, params)
        out[lab.name] = dict(maps=res["maps"].astype(np.float32), scale=res["map_to_original"] * params.length_scale,
                             true=lab.true_pix, arcsec=lab.pixel_scale, product=res["length_pix"])
        print(lab.name, "maps", res["maps"].shape, f"{res['seconds']:.0f} s", flush=True)
    np.savez_compressed(path, **{f"{k}__{f}": v for k, d in out.items() for f, v in d.items()})
    return out


def load(path: Path) -> dict:
    z = np.load(path)
    out: dict = {}
    for key in z.files:
        name, field = key.split("__")
        out.setdefault(name, {})[field] = z[key]
    return out


def main(argv=None) -> int:
    from catalog_xai.core import bars
    from catalog_xai.core.evaluation import length_agreement
    from catalog_xai.core.params import GRADIENTS, SYMMETRIES

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default="saliency-real")
    ap.add_argument("--n-samples", type=int, default=64)
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--gradients", default="abs", choices=GRADIENTS,
                    help="abs (SmoothGrad), square (SmoothGrad^2), var (VarGrad)")
    ap.add_argument("--s-noise", type=float, help="SmoothGrad S_noise (default: the ensemble's own)")
    ap.add_argument("--symmetry", default="none", choices=SYMMETRIES,
                    help="SmoothGrad over the frame's 8 rotations/flips (like --gradients, it replaces the manifest's)")
    ap.add_argument("--tc", type=float, nargs="+", default=[0.3, 0.5, 0.7, 0.85])
    ap.add_argument("--tl", type=int, nargs="+", default=[10, 30])
    ap.add_argument("--linearity", nargs="+", default=["eigen", "pearson"])
    ap.add_argument("--transforms", nargs="+", default=list(TRANSFORMS), choices=TRANSFORMS)
    ap.add_argument("--tune", action="store_true",
                    help="also cache a generated tuning set (other galaxies, the training renderer) and name the "
                         "Algorithm 1 setting that is best there: a read-out chosen without the lab's own sets")
    ap.add_argument("--output", type=Path)
    args = ap.parse_args(argv)
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    sets = load(args.cache) if args.cache.exists() else cache_maps(args.checkpoint, args.n_samples, args.cache,
                                                                                args.gradients, args.tune,
                                                                                args.symmetry, args.s_noise)
    rows = []
    for name, tc, tl, lin in itertools.product(args.transforms, args.tc, args.tl, args.linearity):
        row = {"transform": name, "tc": tc, "tl": tl, "linearity": lin}
        for set_name, d in sets.items():
            maps = transform(d["maps"], name)
            length = bars.measure_bars(maps, tc=tc, tl=tl, linearity=lin)["length_pix"] * d["scale"]
            agree = length_agreement(length, d["true"])
            row[set_name] = round(float(agree["pearson"]), 3)
            row[set_name + "_ci95"] = [round(float(v), 2) for v in agree["pearson_ci95"]]
            row[set_name + "_ratio"] = round(float(agree["median_ratio"]), 2)
        rows.append(row)
        print(json.dumps(row), flush=True)
    if "generated-tune" in sets:
        grid = [r for r in rows if r["transform"] == "none"]
        best = max(grid, key=lambda r: r["generated-tune"] if np.isfinite(r["generated-tune"]) else -2)
        print("chosen on generated-tune:", json.dumps(best), flush=True)
    for kind, fn in (("moments", moments_length), ("fixed-threshold", fixed_threshold_length)):
        for level in (0.2, 0.3, 0.5, 0.7):
            row = {"transform": "none", "readout": kind, "level": level}
            for set_name, d in sets.items():
                agree = length_agreement(fn(d["maps"], level) * d["scale"], d["true"])
                row[set_name] = round(float(agree["pearson"]), 3)
                row[set_name + "_ci95"] = [round(float(v), 2) for v in agree["pearson_ci95"]]
                row[set_name + "_ratio"] = round(float(agree["median_ratio"]), 2)
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.output:
        args.output.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
