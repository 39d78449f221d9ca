"""Tuning and evaluating the bar measurement (paper §4.5, §5.1): arrays in, tables out.

Saliency maps are computed once per S_noise; X_input is a post-processing of the same
maps (map x greyscale image, renormalised), and every (Tc, Tl) reuses one sort of each
map (``bars.measure_bar_grid``).  The methods are those of the paper: (i)-(iii) each
ensemble member's own map, (iv) the averaged map, (v) the average of the members'
lengths.
"""

from __future__ import annotations

import numpy as np
import torch

from . import bars
from .saliency import normalise_maps

PAPER_TC = (0.7, 0.75, 0.8, 0.85, 0.9)
PAPER_TL = (10, 20, 30, 40, 50)
PAPER_S_NOISE = (0.1, 0.15, 0.2, 0.25)


def with_input(maps: np.ndarray, grey: np.ndarray) -> np.ndarray:
    """X_input: (M, B, H, W) maps times the (B, H, W) greyscale images, renormalised."""
    return normalise_maps(torch.from_numpy(maps) * torch.from_numpy(grey)[None]).numpy()


def method_lengths(maps: np.ndarray, member_names, tcs, tls, criterion: str = "pearson") -> dict[str, np.ndarray]:
    """Lengths in map pixels, (B, len(tcs), len(tls)) per method, from (M, B, H, W) maps."""
    per_member = np.stack([
        np.stack([bars.measure_bar_grid(m, tcs, tls, criterion) for m in member]) for member in maps
    ])  # (M, B, T, L)
    mean_map = maps.mean(axis=0)
    out = {f"member:{name}": per_member[k] for k, name in enumerate(member_names)}
    out["maps (iv)"] = np.stack([bars.measure_bar_grid(m, tcs, tls, criterion) for m in mean_map])
    out["lengths (v)"] = per_member.mean(axis=0)
    return out


def correlation_grid(lengths: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pearson rho and RMSE over galaxies for every grid cell of (B, T, L) lengths."""
    ref = np.asarray(reference, dtype=float)
    good = np.isfinite(ref) & np.all(np.isfinite(lengths), axis=(1, 2))
    x, y = lengths[good], ref[good][:, None, None]
    xm, ym = x - x.mean(0), y - y.mean(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (xm * ym).sum(0) / np.sqrt((xm**2).sum(0) * (ym**2).sum(0))
    rmse = np.sqrt(((x - y) ** 2).mean(0))
    return rho, rmse


def decile_errors(length_a: np.ndarray, length_b: np.ndarray) -> np.ndarray:
    """Per-galaxy error from two independent runs (paper §5.1).

    delta = |l1 - l2|; galaxies are binned into deciles of the mean measured length and
    each galaxy gets the mean delta of its decile.
    """
    a, b = np.asarray(length_a, float), np.asarray(length_b, float)
    delta = np.abs(a - b)
    mean = (a + b) / 2
    out = np.full(a.shape, np.nan)
    good = np.isfinite(delta)
    if good.sum() == 0:
        return out
    edges = np.nanquantile(mean[good], np.linspace(0, 1, 11))
    which = np.clip(np.searchsorted(edges, mean, side="right") - 1, 0, 9)
    for d in range(10):
        sel = good & (which == d)
        if sel.any():
            out[sel & good] = delta[sel].mean()
    return out
