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
                  map_pixel_pix: float = 1.0, threshold: float = float("nan"),
                  pixel_scale_arcsec: float = float("nan"), length_label: str = "") -> Figure:
    """One galaxy for the gallery: the cutout with a scale bar, the map placed on it, and the
    isolated bar (map > threshold) with the measured length drawn between its two farthest pixels.

    image : (S, S, 3) uint8 or [0, 1] float, the user's cutout; saliency_map : (m, m) in [0, 1]
    on the frame whose top-left corner is at ``map_origin_pix`` image pixels, ``map_pixel_pix``
    image pixels per map pixel (the catalogue's side dataset), or None where no map was kept.
    """
    from .bars import bar_endpoints

    plt = _plt()
    img = np.asarray(image, float) / (255.0 if np.asarray(image).dtype == np.uint8 else 1.0)
    side = img.shape[0]
    fig, axes = plt.subplots(1, 3, figsize=(6.6, 2.5))
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
        if np.isfinite(threshold):
            mask = m > threshold
            axes[2].imshow(np.ma.masked_where(~mask, mask.astype(float)), cmap="autumn", alpha=0.6, extent=extent,
                           interpolation="nearest")
            ends = bar_endpoints(mask)
            if ends is not None:
                (r0, c0), (r1, c1) = (map_origin_pix + (np.asarray(e) + 0.5) * map_pixel_pix - 0.5 for e in ends)
                axes[2].plot([c0, c1], [r0, r1], color="cyan", lw=1.5)
    axes[1].set_title("SmoothGrad map (bar: yes)", fontsize=8)
    axes[2].set_title(f"isolated bar {length_label}".strip(), fontsize=8)
    fig.tight_layout(pad=0.5)
    return fig
