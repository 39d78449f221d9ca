"""How biased by resolution are a catalogue's smooth/featured labels and predictions? (seed 003)

    python jobs/resolution_bias.py --catalogue runs/cat --output runs/bias
    python jobs/resolution_bias.py --catalogue runs/cat --output runs/bias --truth-column true_is_disk

Reads a catalogue made from a survey with ``psf_fwhm_arcsec`` (so it has ``resolution_alpha``)
and the volunteers' votes (passed through from the survey).  Writes under --output:

- ``bias_table.csv`` / ``bias.json``: seed 003's Table 1 — CV14 and CV18 (with bootstrap
  errors) of the volunteers' labels, the ensemble's predictions, the de-biased predictions
  (with --debias-checkpoint in the survey job) and, for generated surveys, the truth;
- the theta fit: least squares of the volunteers' smooth fraction per alpha bin against
  f_s + f_d exp(-alpha^2 / 2 theta^2) — the theta to train DDB with (cxai-train --ddb-theta);
- ``smooth_vs_alpha.png``: the smooth fraction of each label set against alpha, with the fit.

Labels are hard (smooth or disk by the larger of the two fractions), as in seed 003; with
--soft the fractions themselves are averaged.  CV18's intrinsic properties are catalogue
columns (--intrinsic); ``size_kpc`` is derived from the Petrosian radius and the redshift.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import pandas as pd

from catalog_xai import columns as C
from catalog_xai import storage
from catalog_xai.core import resolution as R

_Q1 = ("smooth_or_featured_smooth", "smooth_or_featured_features_or_disk")


def _pair(df: pd.DataFrame, smooth: str, disk: str, soft: bool) -> np.ndarray:
    s, d = df[smooth].to_numpy(float), df[disk].to_numpy(float)
    if soft:
        tot = s + d
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.stack([s / tot, d / tot], 1)
    return R.hard_labels(s, d)


def label_sets(df: pd.DataFrame, soft: bool = False, truth_column: str | None = None) -> dict[str, np.ndarray]:
    """The (smooth, disk) labels of each source the catalogue carries, by name.

    Raises
    ------
    SystemExit
        If the catalogue has neither vote counts nor vote fractions for smooth/featured.
    """
    sets = {}
    counts = [f"votes_{a}_count" for a in _Q1]
    fracs = [f"vote_{a}_cumulative_fraction" for a in _Q1]
    if all(c in df for c in counts):
        sets["volunteers"] = _pair(df, *counts, soft)
    elif all(c in df for c in fracs):
        sets["volunteers"] = _pair(df, *fracs, soft)
    else:
        raise SystemExit("error: the catalogue carries no volunteer votes for smooth_or_featured "
                         f"({counts[0]} or {fracs[0]}): they pass through from the survey")
    sets["ensemble"] = _pair(df, *(f"{a}_fraction" for a in _Q1), soft)
    if all(c in df for c in C.DEBIASED_COLUMNS):
        sets["ensemble, de-biased (DDB)"] = _pair(df, *C.DEBIASED_COLUMNS, soft)
    if truth_column:
        if truth_column not in df:
            raise SystemExit(f"error: --truth-column {truth_column!r} is not a catalogue column")
        disk = df[truth_column].astype(float).to_numpy()
        sets["truth"] = np.stack([1 - disk, disk], 1)
    return sets


def intrinsic_properties(df: pd.DataFrame, names: list[str]) -> np.ndarray | None:
    """(n, P) intrinsic properties for CV18; ``size_kpc`` from petroR50_r (else petroR90_r) and redshift.

    Raises
    ------
    SystemExit
        If a named property is not a catalogue column (and cannot be derived).
    """
    if not names:
        return None
    cols = []
    for name in names:
        if name == "size_kpc" and name not in df:
            from catalog_xai.core.units import kpc_per_arcsec

            size = df[C.PETRO_R50] if C.PETRO_R50 in df else df.get(C.PETRO_R90)
            if size is None or C.REDSHIFT not in df:
                raise SystemExit("error: size_kpc needs petroR50_r or petroR90_r and redshift columns")
            z = df[C.REDSHIFT].to_numpy(float)
            good = np.isfinite(z) & (z > 0)
            kpc = np.full(len(z), np.nan)
            kpc[good] = size.to_numpy(float)[good] * kpc_per_arcsec(z[good])
            cols.append(kpc)
        elif name in df:
            cols.append(df[name].to_numpy(float))
        else:
            raise SystemExit(f"error: intrinsic property {name!r} is not a catalogue column")
    return np.stack(cols, 1)


def analyse(df: pd.DataFrame, *, soft: bool = False, truth_column: str | None = None, intrinsic: list[str],
            bins: int = 10, fit_bins: int = 20, intrinsic_bins: int = 3, min_count: int = 20,
            n_boot: int = 200, seed: int = 0) -> dict:
    """The theta fit, the bias table and the binned smooth fractions of a catalogue (a DataFrame)."""
    if C.RESOLUTION_ALPHA not in df:
        raise SystemExit("error: the catalogue has no resolution_alpha: make it from a survey with psf_fwhm_arcsec")
    a = df[C.RESOLUTION_ALPHA].to_numpy(float)
    sets = label_sets(df, soft, truth_column)
    fit_b = R.binned_fractions(sets["volunteers"], a, fit_bins, min_count)
    fit = R.fit_theta(fit_b["mid"], fit_b["fractions"][:, 0])
    rows = R.bias_table(sets, a, intrinsic_properties(df, intrinsic), n_bins=bins, n_intrinsic_bins=intrinsic_bins,
                        min_count=min_count, n_boot=n_boot, seed=seed)
    curves = {name: R.binned_fractions(lab, a, fit_bins, min_count) for name, lab in sets.items()}
    curves = {k: {"alpha": v["mid"].tolist(), "smooth": v["fractions"][:, 0].tolist()} for k, v in curves.items()}
    return {"fit": fit, "table": rows, "curves": curves,
            "galaxies": int(np.isfinite(a).sum()), "labels": "soft fractions" if soft else "hard (majority)",
            "alpha_source": sorted(set(df.get(C.RESOLUTION_ALPHA_SOURCE, pd.Series(dtype=str)).dropna()))}


def smooth_vs_alpha_figure(result: dict):
    from catalog_xai.core.figures import _plt

    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for name, c in result["curves"].items():
        style = dict(ls=":", marker="x", color="k", ms=4) if name == "truth" else dict(ls="-", marker="o", ms=3)
        ax.plot(c["alpha"], c["smooth"], label=name, **style)
    fit = result["fit"]
    grid = np.linspace(np.nanmin(result["curves"]["volunteers"]["alpha"]),
                       np.nanmax(result["curves"]["volunteers"]["alpha"]), 100)
    ax.plot(grid, fit["f_s"] + fit["f_d"] * R.bias_curve(grid, fit["theta"]), "k--",
            label=f"fit: theta = {fit['theta']:.2f}")
    ax.set_xlabel("alpha = size / PSF FWHM")
    ax.set_ylabel("smooth fraction (per equal-count bin)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def class_average_saliency(models: dict[str, object], images: list[bytes], method: str = "gradcam") -> dict:
    """Seed 003 Figs 5-7: for each named model (a GalaxyNet), the mean class-activation map of the
    galaxies it predicts smooth and of those it predicts disk (each map scaled to unit maximum,
    target: its smooth or featured logit), and their radial profiles.

    The class is the larger of the model's two first logits (smooth, featured): for a DDB model
    the argmax of its de-biased pair, for an ordinary one of its two cumulative fractions.
    """
    import torch

    from catalog_xai.core.cam import class_activation_maps, default_layer
    from catalog_xai.core.training import frame_for_training

    out = {}
    for name, model in models.items():
        x, ok = frame_for_training(images, model.spec)
        x = x[torch.from_numpy(ok)].float() / 255
        with torch.no_grad():
            z = model(x)[:, :2]
        cls = (z[:, 1] > z[:, 0]).numpy().astype(int)
        maps = np.zeros((len(x), x.shape[-2], x.shape[-1]))
        layer = default_layer(model, x.shape[-1])
        for k in (0, 1):
            idx = np.flatnonzero(cls == k)
            for i in range(0, len(idx), 64):
                p, _ = class_activation_maps(model, x[idx[i : i + 64]], k, method=method, layer=layer)
                maps[idx[i : i + 64]] = p.numpy()
        maps /= np.maximum(maps.reshape(len(maps), -1).max(1), 1e-12)[:, None, None]
        avg = R.class_average_maps(maps, cls)
        out[name] = {"average": avg, "counts": [int((cls == k).sum()) for k in (0, 1)],
                     "profiles": {R.CLASSES[k]: R.radial_profile(avg[k])[1].tolist() for k in (0, 1)}}
    return out


def class_average_figure(result: dict, method: str = "gradcam"):
    from catalog_xai.core.figures import _plt

    plt = _plt()
    fig, axes = plt.subplots(len(result), 3, figsize=(9, 3 * len(result)), squeeze=False)
    for r, (name, res) in enumerate(result.items()):
        for k in (0, 1):
            if np.isfinite(res["average"][k]).all():
                axes[r, k].imshow(res["average"][k], cmap="inferno")
            axes[r, k].set_title(f"{name}: mean {method}, predicted {R.CLASSES[k]} ({res['counts'][k]})", fontsize=8)
            axes[r, k].set_xticks([])
            axes[r, k].set_yticks([])
            axes[r, 2].plot(res["profiles"][R.CLASSES[k]], label=R.CLASSES[k])
        axes[r, 2].set_xlabel("radius (map pixels)")
        axes[r, 2].set_title(f"{name}: radial profile", fontsize=8)
        axes[r, 2].legend(fontsize=7)
    fig.tight_layout()
    return fig


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--catalogue", required=True, help="catalogue prefix with resolution_alpha and vote columns")
    ap.add_argument("--output", required=True)
    ap.add_argument("--bins", type=int, default=10, help="equal-count alpha bins for CV14 (CV18: half as many)")
    ap.add_argument("--fit-bins", type=int, default=20, help="equal-count alpha bins for the theta fit")
    ap.add_argument("--intrinsic-bins", type=int, default=3, help="equal-count bins per intrinsic property (CV18)")
    ap.add_argument("--min-count", type=int, default=20, help="galaxies a bin needs to be used")
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--intrinsic", nargs="*", default=["size_kpc", "redshift"],
                    help="catalogue columns (or size_kpc) for CV18, e.g. size_kpc absmag_r redshift; none: no CV18")
    ap.add_argument("--truth-column", help="a boolean 'truly a disk' column (generated surveys: true_is_disk)")
    ap.add_argument("--soft", action="store_true", help="average fractions instead of majority labels")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--survey", help="with --checkpoint: the survey's images, for the class-average Grad-CAM maps")
    ap.add_argument("--checkpoint", help="the catalogue's morphology ensemble (its first member's maps are averaged)")
    ap.add_argument("--debias-checkpoint", help="the DDB-trained ensemble, averaged beside it")
    ap.add_argument("--cam-galaxies", type=int, default=500, help="galaxies in the class-average maps")
    ap.add_argument("--storage-options", default={}, type=json.loads)
    args = ap.parse_args(argv)
    so = storage.check_storage_options(args.storage_options)
    df = storage.read_survey(args.catalogue, storage_options=so).to_pandas()
    try:
        result = analyse(df, soft=args.soft, truth_column=args.truth_column, intrinsic=args.intrinsic, bins=args.bins,
                         fit_bins=args.fit_bins, intrinsic_bins=args.intrinsic_bins, min_count=args.min_count,
                         n_boot=args.bootstrap, seed=args.seed)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    fs, out = storage.filesystem(args.output, so)
    fs.makedirs(out, exist_ok=True)
    with fs.open(f"{out}/bias_table.csv", "w") as f:
        pd.DataFrame(result["table"]).to_csv(f, index=False)
    storage.write_json(result, storage.join(args.output, "bias.json"), so)
    fig = smooth_vs_alpha_figure(result)
    with fs.open(f"{out}/smooth_vs_alpha.png", "wb") as f:
        fig.savefig(f, format="png", dpi=110)
    if args.survey and args.checkpoint:
        from catalog_xai.cli.gallery import read_images

        ids = df[C.OBJID].head(args.cam_galaxies).astype(int).tolist()
        found = read_images(args.survey, set(ids), so)
        images = [found[i] for i in ids if found.get(i) is not None]
        models = {"ensemble": storage.load_ensemble(args.checkpoint, so).models[0]}
        if args.debias_checkpoint:
            models["de-biased (DDB)"] = storage.load_ensemble(args.debias_checkpoint, so).models[0]
        cams = class_average_saliency(models, images)
        with fs.open(f"{out}/class_average_gradcam.png", "wb") as f:
            class_average_figure(cams).savefig(f, format="png", dpi=90)
        result["class_average_profiles"] = {k: v["profiles"] for k, v in cams.items()}
        storage.write_json(result, storage.join(args.output, "bias.json"), so)
    fit = result["fit"]
    print(f"theta = {fit['theta']:.3f} (f_s {fit['f_s']:.3f}, f_d {fit['f_d']:.3f}, {fit['bins']} bins, "
          f"rms {fit['rms']:.4f}); {result['galaxies']} galaxies, alpha from {result['alpha_source']}")
    print(pd.DataFrame(result["table"]).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
