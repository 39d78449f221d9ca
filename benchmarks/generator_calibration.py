"""The generator against real SDSS barred galaxies, measured the same way on both (issue 12, part 3).

    python -m benchmarks calibrate_generator

The 36 Hoyle et al. (2011) barred galaxies (25.6" cutouts at 0.2"/px) against 36 generated
barred galaxies rendered at the same scale (``synth.render_galaxy(pixel_scale_arcsec=0.2)``),
both styles.  Measured on each image: the radial profile of the brightest channel in units
of the bar's half-length, the share of pixels at full scale (>= 0.97) inside the bar radius,
the colour (channel ratios) at the centre, half the bar and twice the bar, the pixel noise
(rms of the image minus its 3x3 median, outer region), and the ellipticity and position-angle
profiles from the isophote fits across the bar.  Writes benchmarks/results/generator_calibration.json
and docs/figures/generator_vs_sdss.png.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .bar_lab import DEFAULT_REAL, ROOT

RADII = np.array([0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5])  # in units of the bar's half-length
N_GALAXIES = 36


def image_stats(rgb: np.ndarray, bar_pix: float) -> dict:
    from scipy.ndimage import median_filter

    a = rgb.astype(float) / 255
    mx = a.max(axis=2)
    c = (a.shape[0] - 1) / 2
    yy, xx = np.indices(mx.shape)
    rr = np.hypot(yy - c, xx - c) / (bar_pix / 2)

    def ring(q: float, width: float) -> np.ndarray:  # pixels at radius q (a disc at q = 0)
        return (rr < width) if q == 0 else (np.abs(rr - q) < width)

    prof = [float(mx[ring(q, 0.12)].mean()) if ring(q, 0.12).any() else float("nan") for q in RADII]
    colour = {}
    for q in (0.0, 0.5, 2.0):
        sel = ring(q, 0.15)
        rgbm = a[sel].mean(axis=0) if sel.any() else np.full(3, np.nan)
        colour[f"g_over_r_at_{q:g}"] = float(rgbm[1] / rgbm[0])
        colour[f"b_over_r_at_{q:g}"] = float(rgbm[2] / rgbm[0])
    grey = a.mean(axis=2)
    resid = (grey - median_filter(grey, 3))[np.hypot(yy - c, xx - c) > 0.4 * a.shape[0]]
    return {"profile": prof, "clipped_in_bar": float((mx[rr < 1] >= 0.97).mean()), **colour,
            "noise_rms": float(np.sqrt(np.mean(resid**2)))}


def _profiles_in_bar_units(images, bar_pix) -> tuple[np.ndarray, np.ndarray]:
    """Median ellipticity and |PA - PA at the ellipticity peak| on the RADII grid."""
    from catalog_xai.core.isophotes import fit_isophotes

    eps_rows, pa_rows = [], []
    for rgb, b in zip(images, bar_pix):
        fit = fit_isophotes(rgb.astype(float).mean(axis=2))
        if fit is None:
            continue
        sma, eps, pa, factor = fit
        r = sma * factor / (b / 2)
        k = int(np.argmax(np.where(r < 1.5, eps, -1)))
        dpa = np.degrees(np.abs(np.angle(np.exp(2j * (pa - pa[k]))))) / 2
        eps_rows.append(np.interp(RADII, r, eps, left=np.nan, right=np.nan))
        pa_rows.append(np.interp(RADII, r, dpa, left=np.nan, right=np.nan))
    return np.nanmedian(eps_rows, axis=0), np.nanmedian(pa_rows, axis=0)


def bench_calibrate_generator(args) -> None:
    import pandas as pd
    from PIL import Image

    from catalog_xai.core import synth

    from .__main__ import _save

    folder = Path(args.real)
    table = pd.read_csv(folder / "hoyle_tuning.csv")
    sets = {"SDSS (Hoyle et al. 2011)": ([np.asarray(Image.open(folder / p).convert("RGB")) for p in table["image"]],
                                         table["bar_length_arcsec"].to_numpy(float) / 0.2)}
    for style in synth.RENDER_STYLES:
        imgs, bars, k = [], [], 0
        while len(imgs) < N_GALAXIES:
            rng = np.random.default_rng([11, k])
            k += 1
            t = synth.sample_truth(rng)
            if not t["has_bar"] or t["bar_length_arcsec"] < 8:  # bars the Hoyle volunteers could draw
                continue
            imgs.append(synth.render_galaxy(t, rng, 128, pixel_scale_arcsec=0.2, style=style))
            bars.append(t["bar_length_arcsec"] / 0.2)
        sets[f"generated ({style})"] = (imgs, np.array(bars))
    rows, curves = [], {}
    for name, (imgs, bars) in sets.items():
        stats = [image_stats(im, b) for im, b in zip(imgs, bars)]
        eps, dpa = _profiles_in_bar_units(imgs, bars)
        prof = np.nanmedian([s["profile"] for s in stats], axis=0)
        curves[name] = (prof, eps, dpa)
        row = {"set": name, "n": len(imgs), "bar_length_pix_median": float(np.median(bars))}
        for key in stats[0]:
            if key != "profile":
                row[key] = float(np.median([s[key] for s in stats]))
        row["profile_at_bar_end"] = float(prof[RADII == 1.0][0])
        row["profile_at_2_bar"] = float(prof[RADII == 2.0][0])
        row["peak_ellipticity"] = float(np.nanmax(eps))
        rows.append(row)
    _figure(sets, curves, ROOT / "docs" / "figures" / "generator_vs_sdss.png")
    _save("generator_calibration", rows, {"radii_in_bar_half_lengths": RADII.tolist(),
                                          "profiles": {k: [v.tolist() for v in c] for k, c in curves.items()}})


def _figure(sets, curves, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(11, 6.2))
    names = list(sets)
    for r, name in enumerate(names):
        for j in range(5):
            ax = fig.add_axes([0.01 + j * 0.1, 0.68 - r * 0.31, 0.095, 0.29])
            ax.imshow(sets[name][0][j])
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(name, fontsize=7)
    for k, (label, idx) in enumerate((("brightest channel", 0), ("ellipticity", 1), ("|PA - PA(eps max)| deg", 2))):
        ax = fig.add_axes([0.56 + (k % 2) * 0.23, 0.56 - (k // 2) * 0.46, 0.19, 0.36])
        for name in names:
            ax.plot(RADII, curves[name][idx], marker="o", ms=3, label=name)
        ax.set_xlabel("radius / bar half-length", fontsize=8)
        ax.set_title(label, fontsize=8)
        ax.tick_params(labelsize=7)
        if k == 0:
            ax.legend(fontsize=6)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def add_parser(sub) -> None:
    p = sub.add_parser("calibrate_generator", help="the generator against real SDSS barred galaxies (issue 12)")
    p.add_argument("--real", default=str(DEFAULT_REAL))
