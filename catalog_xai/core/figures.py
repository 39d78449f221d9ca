"""Publication figures (matplotlib): arrays in, a Figure out; saving is the caller's job."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def saliency_panels(images: np.ndarray | Sequence[np.ndarray], maps: np.ndarray | Sequence[np.ndarray],
                    thresholds: np.ndarray | Sequence[float],
                    titles: Sequence[str] | None = None) -> Figure:
    """Paper Figs 1 and 3: each galaxy, its (ensemble) SmoothGrad map, and the isolated bar.

    images : (B, H, W, 3) in [0, 1]; maps : (B, H, W) in [0, 1]; thresholds : (B,) where
    Algorithm 1 stopped (the bar is map > T).
    """
    plt = _plt()
    n = len(images)
    fig, axes = plt.subplots(n, 3, figsize=(7.5, 2.5 * n), squeeze=False)
    for i in range(n):
        axes[i, 0].imshow(np.clip(images[i], 0, 1))
        axes[i, 1].imshow(maps[i], cmap="inferno", vmin=0, vmax=1)
        axes[i, 2].imshow(np.where(maps[i] > thresholds[i], maps[i], 0), cmap="inferno", vmin=0, vmax=1)
        if titles is not None:
            axes[i, 0].set_ylabel(titles[i], fontsize=8)
    for ax, t in zip(axes[0], ("galaxy", "SmoothGrad (bar: yes)", "isolated bar")):
        ax.set_title(t, fontsize=9)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def measured_vs_reference(measured: ArrayLike, reference: ArrayLike, scale: float, *, unit: str = "pix",
                          label: str = "averaged maps (iv)") -> Figure:
    """Paper Fig 4: measured against reference length, the fit through the origin and 1:1."""
    plt = _plt()
    m, r = np.asarray(measured, float), np.asarray(reference, float)
    good = np.isfinite(m) & np.isfinite(r)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.scatter(r[good], m[good], s=6, alpha=0.5, label=label)
    hi = float(np.nanmax(np.r_[m[good], r[good]])) * 1.05
    ax.plot([0, hi], [0, hi], "k--", lw=1, label="1:1")
    ax.plot([0, hi], [0, hi / scale], "r-", lw=1, label=f"fit: reference = {scale:.2f} x measured")
    rho = np.corrcoef(m[good], r[good])[0, 1]
    ax.set_xlabel(f"reference bar length [{unit}]")
    ax.set_ylabel(f"measured bar length [{unit}]")
    ax.set_title(f"Pearson rho = {rho:.3f} (n = {good.sum()})", fontsize=10)
    ax.set_xlim(0, hi)
    ax.set_ylim(0, hi)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def error_vs_angle(angle_deg: ArrayLike, errors: dict[str, np.ndarray], bins: int = 18) -> Figure:
    """Relative length error against the bar's position angle, one line per linearity."""
    plt = _plt()
    a = np.mod(np.asarray(angle_deg, float), 180.0)
    edges = np.linspace(0, 180, bins + 1)
    mid = (edges[1:] + edges[:-1]) / 2
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, e in errors.items():
        e = np.asarray(e, float)
        med = [np.nanmedian(np.abs(e[(a >= lo) & (a < hi)])) if np.any((a >= lo) & (a < hi)) else np.nan
               for lo, hi in zip(edges[:-1], edges[1:])]
        ax.plot(mid, med, marker="o", label=name)
    for x in (0, 90, 180):
        ax.axvline(x, color="grey", lw=0.5, ls=":")
    ax.set_xlabel("bar position angle [deg] (0/90: along a pixel row/column)")
    ax.set_ylabel("median |relative length error|")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def learning_curves(histories: dict[str, dict]) -> Figure:
    """Training and validation RMSE per epoch for each model of an ensemble."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, h in histories.items():
        line = ax.plot(h["epoch"], h["train_rmse"], ls="--", lw=1)[0]
        ax.plot(h["epoch"], h["val_rmse"], color=line.get_color(), label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("RMSE (dashed: training, solid: validation)")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _scale_bar_arcsec(field_arcsec: float) -> float:
    """A round scale-bar length near a quarter of the field."""
    nice = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)
    return min(nice, key=lambda v: abs(np.log(v / max(field_arcsec / 4, 1e-6))))


def gallery_panel(image: np.ndarray, saliency_map: np.ndarray | None, *, map_origin_pix: float = 0.0,
                  map_pixel_pix: float = 1.0, threshold: float = float("nan"), params=None,
                  pixel_scale_arcsec: float = float("nan"), length_label: str = "",
                  cam: tuple[np.ndarray, np.ndarray] | None = None, cam_origin_pix: float = 0.0,
                  cam_pixel_pix: float = 1.0, cam_label: str = "") -> Figure:
    """One galaxy for the gallery: the cutout with a scale bar, the map placed on it, and the
    isolated bar with the measured length drawn between its ends: the bar ``params`` (the job's
    ``MethodParams``) reads from the map (``bars.isolated_bar``), or without them map > threshold.

    image : (S, S, 3) uint8 or [0, 1] float, the user's cutout; saliency_map : (m, m) in [0, 1]
    on the frame whose top-left corner is at ``map_origin_pix`` image pixels, ``map_pixel_pix``
    image pixels per map pixel (the catalogue's side dataset), or None where no map was kept.
    ``cam``: the (+score, -score) class-activation maps on their own frame (``cam_origin_pix``,
    ``cam_pixel_pix``), drawn as a fourth panel: red raises the answer's score, blue lowers it.
    """
    from .bars import bar_endpoints, isolated_bar

    plt = _plt()
    img = np.asarray(image, float) / (255.0 if np.asarray(image).dtype == np.uint8 else 1.0)
    side = img.shape[0]
    fig, axes = plt.subplots(1, 3 if cam is None else 4, figsize=(6.6 if cam is None else 8.8, 2.5))
    for ax in axes:
        ax.imshow(img, origin="upper", interpolation="nearest")
        ax.set_xlim(-0.5, side - 0.5)
        ax.set_ylim(side - 0.5, -0.5)
        ax.set_xticks([])
        ax.set_yticks([])
    if np.isfinite(pixel_scale_arcsec) and pixel_scale_arcsec > 0:
        bar = _scale_bar_arcsec(side * pixel_scale_arcsec)
        n = bar / pixel_scale_arcsec
        x0, y0 = 0.06 * side, 0.92 * side
        axes[0].plot([x0, x0 + n], [y0, y0], color="white", lw=2.5)
        axes[0].text(x0 + n / 2, y0 - 0.03 * side, f'{bar:g}"', color="white", ha="center", va="bottom", fontsize=8)
    axes[0].set_title("galaxy", fontsize=8)
    if saliency_map is None:
        for ax in axes[1:]:
            ax.text(0.5, 0.5, "map not saved\n(--save-maps)", transform=ax.transAxes, ha="center", va="center",
                    color="white", fontsize=8)
    else:
        m = np.asarray(saliency_map, float)
        lo, hi = map_origin_pix - 0.5, map_origin_pix + m.shape[0] * map_pixel_pix - 0.5
        extent = (lo, hi, hi, lo)  # map pixels onto image pixels (edges at -0.5, as imshow draws them)
        axes[1].imshow(m, cmap="inferno", alpha=0.75, extent=extent, vmin=0, vmax=1, interpolation="nearest")
        axes[2].imshow(img.mean(axis=2), cmap="gray", origin="upper", interpolation="nearest")
        if params is not None or np.isfinite(threshold):
            if params is not None:
                mask, ends = isolated_bar(m, params)
            else:
                mask = m > threshold
                ends = bar_endpoints(mask)
            axes[2].imshow(np.ma.masked_where(~mask, mask.astype(float)), cmap="autumn", alpha=0.6, extent=extent,
                           interpolation="nearest")
            if ends is not None:
                (r0, c0), (r1, c1) = (map_origin_pix + (np.asarray(e) + 0.5) * map_pixel_pix - 0.5 for e in ends)
                axes[2].plot([c0, c1], [r0, r1], color="cyan", lw=1.5)
    if cam is not None:
        signed = np.asarray(cam[0], float) - np.asarray(cam[1], float)
        lo, hi = cam_origin_pix - 0.5, cam_origin_pix + signed.shape[0] * cam_pixel_pix - 0.5
        v = max(float(np.abs(signed).max()), 1e-12)
        axes[3].imshow(signed, cmap="bwr", vmin=-v, vmax=v, alpha=0.7, extent=(lo, hi, hi, lo),
                       interpolation="nearest")
        axes[3].set_title(cam_label or "class-activation map", fontsize=8)
    axes[1].set_title("SmoothGrad map (bar: yes)", fontsize=8)
    axes[2].set_title(f"isolated bar {length_label}".strip(), fontsize=8)
    fig.tight_layout(pad=0.5)
    return fig


def disagreement_panels(rows: Sequence[dict], method: str = "hirescam") -> Figure:
    """Seed 002 Figs 1-3 in one: per disputed galaxy, its image, the +score and -score class-activation
    maps of the disputed answer, and its two controls (``rank_disagreements.top_figure`` builds ``rows``)."""
    plt = _plt()
    n = max(len(rows), 1)
    fig, axes = plt.subplots(n, 5, figsize=(11, 2.3 * n), squeeze=False)
    heads = ("galaxy (as the model sees it)", f"+score {method}", f"-score {method}",
             "control: votes like the\nmodel's view of it", "control: model's view like\nthe votes on it")
    for j, h in enumerate(heads):
        axes[0, j].set_title(h, fontsize=7)
    for i, r in enumerate(rows):
        img, ctl_model, ctl_vol = r["images"]
        for j, (arr, cmap) in enumerate(((img, None), (r["cam_plus"], "inferno"), (r["cam_minus"], "viridis"),
                                         (ctl_model, None), (ctl_vol, None))):
            ax = axes[i, j]
            if arr is not None:
                shown = arr if cmap else np.clip(arr / (255.0 if arr.dtype == np.uint8 else 1.0), 0, 1)
                ax.imshow(shown, cmap=cmap)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[i, 0].set_ylabel(f"#{r['rank']} {r['objid']}\n{r['answer']}\nobs {r['observed']:.2f} ({r['votes']} votes)"
                              f"\npred {r['predicted']:.2f}", fontsize=6)
        axes[i, 3].set_xlabel(str(r["model_like_objid"]), fontsize=6)
        axes[i, 4].set_xlabel(str(r["volunteer_like_objid"]), fontsize=6)
    fig.tight_layout()
    return fig


def embedding_map(xy: np.ndarray, labels: np.ndarray, class_names: Sequence[str], flagged: np.ndarray,
                  title: str = "") -> Figure:
    """Seed 004 Figs 2-4: the 2-D embedding coloured by class, unlabelled galaxies grey, flagged outliers ringed."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    none = labels < 0
    ax.scatter(xy[none, 0], xy[none, 1], s=3, c="0.8", label="no class", rasterized=True)
    for k, name in enumerate(class_names):
        sel = labels == k
        ax.scatter(xy[sel, 0], xy[sel, 1], s=4, label=f"{name} ({int(sel.sum())})", rasterized=True)
    ax.scatter(xy[flagged, 0], xy[flagged, 1], s=40, facecolors="none", edgecolors="k", linewidths=0.7,
               label=f"outlier ({int(flagged.sum())})")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=6, markerscale=2, loc="best")
    fig.tight_layout()
    return fig
