"""The saliency lab: how well an ensemble's bar lengths follow the truth (issue 12).

    python -m benchmarks bar_lab [--checkpoints saliency-evidence sdss-finetuned ...]

Fixed sets, the same every run:
- ``generated``: barred galaxies of the built-in generator (the training renderer),
  stratified by bar length (4 quantile bins) and angle (6 slices of 30 deg);
- ``generated-alt``: the same stratification, rendered differently (``synth`` style
  ``alt``: boxy flat bars, Moffat PSF, correlated noise, per-channel stretch);
- ``generated-long`` (on request, ``--sets``): the training renderer in the real cutouts'
  regime, the galaxy filling a tight 128-px cutout and bars 0.35-0.8 R90 (~40-140 px long);
- ``real``: the 36 SDSS barred galaxies with Hoyle et al. (2011) human lengths in
  ``../shared/data/hoyle_bar_lengths`` (or ``--real``), 25.6" cutouts at 0.2"/px.

Each ensemble goes through the product's own path (``run_ensemble`` and
``measure_and_convert``, with the parameters of its manifest unless given), beside the
isophote baseline (``core.isophotes``) on the same galaxies.  Figures: Pearson and
Spearman rho with 95 % bootstrap intervals, RMSE, median measured/true, rho in pixels
and in arcsec (the paper's x petroR90 units), the error against bar angle, and a panel
figure of the best, median and worst galaxies.  Writes benchmarks/results/bar_lab.json
and docs/figures/bar_lab_<ensemble>.png.
"""

from __future__ import annotations

import argparse
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from catalog_xai.core.bars import isolated_bar
from catalog_xai.core.params import GRADIENTS, READOUTS, SCORES, SYMMETRIES

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REAL = ROOT.parent / "shared" / "data" / "hoyle_bar_lengths"
#: Galaxies per (length, angle) cell of the generated sets: 4 lengths x 6 angles x 8 = 192 a set.
#: Round K (docs/bar-lab-notebook.md): at 4 a cell (96) each 30° angle slice held 16 galaxies and its
#: median error scattered by ±30 % once errors were 8 %; 32 a slice and ±0.03 on Pearson need 8.
N_PER_CELL = 8
#: generated-tune: the training renderer again, other galaxies, for choosing a read-out (Tc, Tl)
#: without looking at the lab's own sets.  generated-long: the training renderer in the real
#: tuning cutouts' regime (``synth.fill_frame``: the galaxy fills a 128-px cutout, bars ~40-140 px).
SEEDS = {"generated": 9001, "generated-alt": 9002, "generated-tune": 9003, "generated-long": 9004}


@dataclass
class LabSet:
    name: str
    objid: np.ndarray
    images: list[bytes]
    true_pix: np.ndarray  # full bar length in the cutout's pixels
    angle_deg: np.ndarray  # NaN where unknown (real)
    pixel_scale: np.ndarray  # arcsec per cutout pixel
    petro_r90: np.ndarray  # arcsec; NaN where unknown
    redshift: np.ndarray
    gz2_framed: bool  # cutouts already in the GZ2 framing


def generated_set(name: str, n_per_cell: int = N_PER_CELL) -> LabSet:
    from catalog_xai import columns as C
    from catalog_xai.core import synth

    style = "alt" if name.endswith("alt") else "train"
    long = name == "generated-long"  # tight 128-px cutouts that the galaxy fills, framed as the real ones are
    truths = synth.stratified_barred_truths(n_per_cell, SEEDS[name], frame_filling=long)
    get = lambda k: np.array([t[k] for t, _ in truths], dtype=float)  # noqa: E731
    r90 = get("petroR90_r")
    images = [synth.encode_jpeg(synth.render_galaxy(t, rng, 128, pixel_scale_arcsec=t["render_scale"]) if long
                                else synth.render_galaxy(t, rng, style=style)) for t, rng in truths]
    scale = get("render_scale") if long else r90 * C.GZ2_PIXEL_SCALE_PER_PETRO
    true = np.array([synth.cutout_bar_length(t) for t, _ in truths])
    return LabSet(name, np.arange(1, len(truths) + 1), images, true, get("bar_angle_deg"), scale, r90,
                  get("redshift"), not long)


def real_set(folder: Path) -> LabSet:
    import pandas as pd

    table = pd.read_csv(folder / "hoyle_tuning.csv")
    images = [(folder / p).read_bytes() for p in table["image"]]
    scale = table["pixel_scale_arcsec"].to_numpy(float)
    n = len(table)
    return LabSet("real", table["objid"].to_numpy(np.int64), images, table["bar_length_arcsec"].to_numpy(float) / scale,
                  np.full(n, np.nan), scale, np.full(n, np.nan), table["redshift"].to_numpy(float), False)


def run_lab_ensemble(ens, lab: LabSet, params) -> dict:
    """The ensemble's lengths (cutout pixels) on one set, through the product's own path."""
    from catalog_xai import columns as C
    from catalog_xai.core.catalogue import ensemble_mean_maps, measure_and_convert, run_ensemble

    framing = ens.framing
    if not lab.gz2_framed and framing == "native":
        framing = "measured"  # tight survey cutouts: a native-framed model needs them reframed
    p = replace(params, framing=framing)
    out = {"length_pix": np.full(len(lab.images), np.nan), "maps": [], "framed": [], "threshold": [],
           "map_to_original": []}
    t0 = time.perf_counter()
    for s in range(0, len(lab.images), 16):
        sl = slice(s, s + 16)
        kw = dict(objid=list(lab.objid[sl]), pixel_scale_arcsec=list(lab.pixel_scale[sl]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the FramingWarning of a reframed native model
            inf = run_ensemble(ens, image=lab.images[sl], params=p, **kw)
        cols = measure_and_convert(inf, redshift=list(lab.redshift[sl]), params=p, **kw)
        out["length_pix"][sl] = cols[C.BAR_LENGTH_PIX]
        out["maps"].append(ensemble_mean_maps(inf))  # the map Algorithm 1 measured (the panels' threshold is its)
        out["framed"].append(inf.framed.x.numpy())
        out["threshold"].append(cols[C.BAR_THRESHOLD])
        out["map_to_original"].append(inf.map_to_original)
    out["seconds"] = time.perf_counter() - t0
    out["framing"] = framing
    for k in ("maps", "framed", "threshold", "map_to_original"):
        out[k] = np.concatenate(out[k])
    return out


def figures_for(lab: LabSet, measured: np.ndarray) -> dict:
    from catalog_xai.core.evaluation import length_agreement

    angle = lab.angle_deg if np.isfinite(lab.angle_deg).any() else None
    pix = length_agreement(measured, lab.true_pix, angle_deg=angle)
    arcsec = length_agreement(measured * lab.pixel_scale, lab.true_pix * lab.pixel_scale)
    row = {k: pix.get(k) for k in ("n", "n_measured", "pearson", "pearson_ci95", "spearman", "spearman_ci95",
                                   "rmse", "median_ratio", "median_rel_error", "worst_angle_over_median",
                                   "rel_error_by_angle")}
    row["rmse_pix"] = row.pop("rmse")
    for k in ("pearson_ci95", "spearman_ci95", "rel_error_by_angle"):
        if row.get(k) is not None:
            row[k] = [round(float(v), 3) for v in row[k]]
    row["pearson_arcsec"] = arcsec.get("pearson")
    row["pearson_arcsec_ci95"] = [round(float(v), 3) for v in arcsec.get("pearson_ci95", (np.nan, np.nan))]
    return row


def panel_figure(lab: LabSet, res: dict, path: Path, title: str, params) -> None:
    """Best, median and worst galaxies of a set: image, map, isolated bar with its length."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = res["length_pix"]
    err = np.abs(np.log(m / lab.true_pix))
    order = np.argsort(np.where(np.isfinite(err), err, np.inf))
    finite = order[np.isfinite(err[order])]
    if finite.size == 0:
        return
    picks = {"best": finite[0], "median": finite[finite.size // 2], "worst": finite[-1]}
    fig, axes = plt.subplots(3, 3, figsize=(7.5, 7.8))
    for row, (label, i) in enumerate(picks.items()):
        img = res["framed"][i].transpose(1, 2, 0)
        sal = res["maps"][i]
        mask, ends = isolated_bar(sal, params)
        axes[row, 0].imshow(img, origin="upper")
        axes[row, 1].imshow(sal, cmap="inferno", origin="upper")
        axes[row, 2].imshow(img.mean(2), cmap="gray", origin="upper")
        axes[row, 2].imshow(np.ma.masked_where(~mask, mask), cmap="autumn", alpha=0.6, origin="upper")
        if ends is not None:
            (r0, c0), (r1, c1) = ends
            axes[row, 2].plot([c0, c1], [r0, r1], "c-", lw=1.5)
        axes[row, 0].set_ylabel(f"{label}\nmeasured {m[i]:.0f} px\ntrue {lab.true_pix[i]:.0f} px", fontsize=8)
        for ax in axes[row]:
            ax.set_xticks([])
            ax.set_yticks([])
    for ax, t in zip(axes[0], ("galaxy (model input)", "SmoothGrad map", "isolated bar, measured length")):
        ax.set_title(t, fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def bench_bar_lab(args) -> None:
    from catalog_xai import storage
    from catalog_xai.core.catalogue import isophote_lengths
    from catalog_xai.core.params import MethodParams

    from .__main__ import _save

    t_start = time.perf_counter()
    sets = [generated_set(s, args.per_cell) for s in ("generated", "generated-alt", "generated-long") if s in args.sets]
    real = Path(args.real)
    if "real" in args.sets and (real / "hoyle_tuning.csv").exists():
        sets.append(real_set(real))
    elif "real" in args.sets:
        print(f"no real tuning set at {real}: skipping it")
    overrides = {k: v for k, v in (("n_samples", args.n_samples), ("tc", args.tc), ("tl", args.tl),
                                   ("linearity", args.linearity), ("score", args.score),
                                   ("gradients", args.gradients), ("symmetry", args.symmetry),
                                   ("readout", args.readout), ("profile_fraction", args.profile_fraction),
                                   ("profile_width", args.profile_width), ("profile_symmetric", args.profile_symmetric),
                                   ("zoom_steps", args.zoom_steps))
                 if v is not None}
    ensembles = {name: storage.load_ensemble(name) for name in args.checkpoints}
    # each ensemble's own defaults (its manifest's method section) under the lab's overrides
    params = {name: MethodParams.from_dict({"n_samples": 64, **ens.manifest.get("method", {}), **overrides})
              for name, ens in ensembles.items()}
    rows = []
    for lab in sets:
        if not args.no_isophote:
            t0 = time.perf_counter()
            iso, _ = isophote_lengths(lab.images, range(len(lab.images)))
            rows.append({"set": lab.name, "method": "isophote (Erwin 2005)", **figures_for(lab, iso),
                         "seconds": time.perf_counter() - t0})
        for name, ens in ensembles.items():
            res = run_lab_ensemble(ens, lab, params[name])
            rows.append({"set": lab.name, "method": f"saliency: {name}", **figures_for(lab, res["length_pix"]),
                         "seconds": res["seconds"], "framing": res["framing"]})
            panel_figure(lab, res, ROOT / "docs" / "figures" / f"bar_lab_{name.replace('/', '_')}_{lab.name}.png",
                         f"{name} on {lab.name}: best, median, worst", params[name])
            print(_short(rows[-1]), flush=True)
    _save(args.output, rows, {"n_per_cell": args.per_cell, "overrides": overrides,
                            "total_seconds": time.perf_counter() - t_start})


def _short(row: dict) -> str:
    return (f"{row['set']:>14} | {row['method']:<32} | n {row['n_measured']}/{row['n']} | "
            f"Pearson {row['pearson']:.3f} {np.round(row.get('pearson_ci95', (np.nan, np.nan)), 2)} | "
            f"Spearman {row['spearman']:.3f} | median ratio {row.get('median_ratio', np.nan):.2f} | "
            f"angle worst/median {row.get('worst_angle_over_median') or float('nan'):.2f}")


def add_parser(sub) -> None:
    p = sub.add_parser("bar_lab", help="the saliency lab: bar lengths against the truth (issue 12)")
    p.add_argument("--checkpoints", nargs="+", default=["saliency-evidence", "sdss-finetuned"])
    p.add_argument("--per-cell", type=int, default=N_PER_CELL)
    p.add_argument("--n-samples", type=int,
                   help="SmoothGrad N (default: the ensemble's own, from its manifest; else 64, not the paper's 256)")
    p.add_argument("--tc", type=float)
    p.add_argument("--tl", type=int)
    p.add_argument("--linearity")
    p.add_argument("--score", choices=SCORES, help="the logit SmoothGrad explains")
    p.add_argument("--gradients", choices=GRADIENTS, help="SmoothGrad, SmoothGrad^2 or VarGrad")
    p.add_argument("--symmetry", choices=SYMMETRIES, help="SmoothGrad over the frame's rotations/flips")
    p.add_argument("--readout", choices=READOUTS, help="Algorithm 1 or the axis profile")
    p.add_argument("--profile-fraction", type=float, help="the axis profile's end level, a fraction of its peak")
    p.add_argument("--profile-width", type=int, help="the axis profile's strip width, map pixels")
    p.add_argument("--profile-symmetric", action=argparse.BooleanOptionalAction, default=None,
                   help="read the axis profile as point-symmetric (or not), whatever the manifest says")
    p.add_argument("--zoom-steps", type=int, help="zooms of the framing the bar is measured at (1: the framing "
                                                  "alone; default: the manifest's)")
    p.add_argument("--real", default=str(DEFAULT_REAL))
    p.add_argument("--no-isophote", action="store_true")
    p.add_argument("--sets", nargs="+", default=["generated", "generated-alt", "generated-long", "real"],
                   choices=["generated", "generated-alt", "generated-long", "real"])
    p.add_argument("--output", default="bar_lab", help="results name (benchmarks/results/<output>.json)")
