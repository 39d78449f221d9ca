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
