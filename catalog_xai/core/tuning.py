"""Tuning and evaluating the bar measurement (paper §4.5, §5.1): arrays in, tables out.

Saliency maps are computed once per S_noise; X_input is a post-processing of the same
maps (map x greyscale image, renormalised), and every (Tc, Tl) reuses one sort of each
map (``bars.measure_bar_grid``).  The methods are those of the paper: (i)-(iii) each
ensemble member's own map, (iv) the averaged map, (v) the average of the members'
lengths.  Each read-out has a two-axis grid: Algorithm 1 (Tc, Tl), the axis profile
(profile fraction, strip width).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch

from . import bars
from .params import READOUTS
from .saliency import normalise_maps

PAPER_TC = (0.7, 0.75, 0.8, 0.85, 0.9)
PAPER_TL = (10, 20, 30, 40, 50)
PAPER_S_NOISE = (0.1, 0.15, 0.2, 0.25)
PROFILE_FRACTIONS = (0.25, 0.3, 0.35, 0.4)
PROFILE_WIDTHS = (4, 8, 12)


def grid_setting(readout: str, linearity: str | None, a: float, b: float, symmetric: bool = False) -> dict:
    """The ``MethodParams`` fields of one grid cell."""
    if readout == "axis_profile":
        return {"readout": readout, "profile_fraction": float(a), "profile_width": int(b),
                "profile_symmetric": bool(symmetric)}
    return {"readout": readout, "linearity": linearity, "tc": float(a), "tl": int(b)}


def with_input(maps: np.ndarray, grey: np.ndarray) -> np.ndarray:
    """X_input: (M, B, H, W) maps times the (B, H, W) greyscale images, renormalised."""
    return normalise_maps(torch.from_numpy(maps) * torch.from_numpy(grey)[None]).numpy()


def method_lengths(maps: np.ndarray, member_names: Sequence[str], tcs: Sequence[float], tls: Sequence[int],
                   linearity: str = "pearson", near_centre: float = 0.0,
                   readout: str = "algorithm1", profile_symmetric: bool = False) -> dict[str, np.ndarray]:
    """Lengths in map pixels, (B, len(tcs), len(tls)) per method, from (M, B, H, W) maps, each map
    measured on its central pieces as the catalogue does (``bars.keep_near_centre``).  For the
    axis profile the grid's axes are the profile fraction and the strip width, not (Tc, Tl).

    Raises
    ------
    ValueError
        If the linearity criterion or the read-out is unknown.
    """
    if readout not in READOUTS:
        raise ValueError(f"Unknown bar read-out {readout!r}; use one of {READOUTS}")

    def measure(m: np.ndarray) -> np.ndarray:
        if readout == "axis_profile":  # its runs near the centre too, as the catalogue measures
            return np.array([[bars.measure_bar_profile(m, fraction=f, width=w, near_centre=near_centre,
                                                       symmetric=profile_symmetric).length_pix
                              for w in tls] for f in tcs])
        return bars.measure_bar_grid(m, tcs, tls, linearity)

    per_member = np.stack([
        np.stack([measure(m) for m in bars.keep_near_centre(member, near_centre)]) for member in maps
    ])  # (M, B, T, L)
    mean_map = bars.keep_near_centre(maps.mean(axis=0), near_centre)
    out = {f"member:{name}": per_member[k] for k, name in enumerate(member_names)}
    out["maps (iv)"] = np.stack([measure(m) for m in mean_map])
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


#: Grid rows of the two ensemble methods, by their ``MethodParams.ensemble_method`` value.
ENSEMBLE_METHOD_OF = {"maps (iv)": "maps", "lengths (v)": "lengths"}


def search_grid(maps_by_s_noise: dict[float, np.ndarray], grey: np.ndarray, to_original: np.ndarray,
                reference: np.ndarray, tune: np.ndarray, member_names: Sequence[str], *, tcs: Sequence[float],
                tls: Sequence[int], linearities: Iterable[str],
                x_inputs: Iterable[bool] = (False, True), near_centre: float = 0.0,
                readouts: Iterable[str] = ("algorithm1",), fractions: Sequence[float] = PROFILE_FRACTIONS,
                widths: Sequence[int] = PROFILE_WIDTHS, profile_symmetric: bool = False) -> tuple[list[dict], dict]:
    """The paper's grid search (§4.5): every S_noise x X_input x linearity x method x (Tc, Tl), and
    with "axis_profile" in ``readouts`` every S_noise x X_input x method x (fraction, width) too.

    Parameters
    ----------
    maps_by_s_noise : S_noise -> (M, B, H, W) normalised SmoothGrad maps.
    grey : (B, H, W) greyscale images (for X_input).
    to_original : (B,) original pixels per map pixel; ``reference`` is in original pixels.
    tune : (B,) bool, the galaxies the choice is made on; the rest are the test set.
    near_centre : Algorithm 1 on the maps' central pieces (``MethodParams.near_centre``; 0: all).
    readouts : "algorithm1" (over ``linearities``, ``tcs``, ``tls``) and/or "axis_profile" (over
        ``fractions``, ``widths``; point-symmetric with ``profile_symmetric``, as the ensemble reads).

    Returns
    -------
    One row per (S_noise, X_input, read-out and linearity, method) with its best grid cell on the
    tuning set (its ``MethodParams`` fields: readout, tc/tl/linearity or profile_fraction/
    profile_width) and its test figures, and the best row among the ensemble methods (iv, v) by
    tuning rho.

    Raises
    ------
    ValueError
        If a linearity criterion is unknown, or fewer than 3 test galaxies have finite lengths.
    """
    from .evaluation import compare_lengths

    grids = [("algorithm1", lin, tcs, tls) for lin in linearities if "algorithm1" in readouts]
    if "axis_profile" in readouts:
        grids.append(("axis_profile", None, fractions, widths))
    rows, best = [], None
    for s, maps in maps_by_s_noise.items():
        for x_input in x_inputs:
            mm = with_input(maps, grey) if x_input else maps
            for readout, linearity, axis_a, axis_b in grids:
                for method, lengths in method_lengths(mm, member_names, axis_a, axis_b, linearity or "pearson",
                                                      near_centre, readout, profile_symmetric).items():
                    lengths = lengths * to_original[:, None, None]
                    rho_t, _ = correlation_grid(lengths[tune], reference[tune])
                    i, j = np.unravel_index(np.nanargmax(rho_t), rho_t.shape)
                    rho_e, rmse_e = correlation_grid(lengths[~tune], reference[~tune])
                    fit = compare_lengths(lengths[~tune][:, i, j], reference[~tune])
                    row = {"method": method, "ensemble_method": ENSEMBLE_METHOD_OF.get(method), "linearity": linearity,
                           "s_noise": s, "x_input": x_input, "near_centre": near_centre, "tc": None, "tl": None,
                           **grid_setting(readout, linearity, axis_a[i], axis_b[j], profile_symmetric),
                           "rho_tune": float(rho_t[i, j]), "rho_test": float(rho_e[i, j]),
                           "rmse_test_pix": float(rmse_e[i, j]), "scale": fit["scale"],
                           "rmse_test_after_scale": fit["rmse_after_scale"]}
                    rows.append(row)
                    if row["ensemble_method"] and (best is None or row["rho_tune"] > best["rho_tune"]):
                        best = row
    return rows, best


def row_setting(row: dict) -> dict:
    """The ``MethodParams`` fields a grid row chose (its read-out's)."""
    readout = row.get("readout", "algorithm1")
    if readout == "axis_profile":
        return grid_setting(readout, None, row["profile_fraction"], row["profile_width"],
                            row.get("profile_symmetric", False))
    return grid_setting(readout, row["linearity"], row["tc"], row["tl"])


def row_lengths(maps: np.ndarray, grey: np.ndarray, member_names: Sequence[str], row: dict) -> np.ndarray:
    """(B,) lengths in map pixels of one grid row's setting on (M, B, H, W) maps.

    Raises
    ------
    ValueError
        If the row's linearity criterion is unknown.
    """
    mm = with_input(maps, grey) if row["x_input"] else maps
    cell = row_setting(row)
    a, b = (("profile_fraction", "profile_width") if cell["readout"] == "axis_profile" else ("tc", "tl"))
    return method_lengths(mm, member_names, [cell[a]], [cell[b]], row.get("linearity") or "pearson",
                          row["near_centre"], cell["readout"],
                          cell.get("profile_symmetric", False))[row["method"]][:, 0, 0]
