"""Agreement of measured bar lengths with reference lengths (paper §5.1), arrays in."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.linear_model import LinearRegression


def compare_lengths(measured: ArrayLike, reference: ArrayLike, weights: ArrayLike | None = None) -> dict:
    """Pearson rho, RMSE and the (weighted) linear fit through the origin.

    Rows where either length is not finite are left out and counted in ``n_skipped``.
    ``scale`` is the factor s of reference ~ s * measured, the calibration the
    paper applies because SmoothGrad underestimates lengths (bar ends are not salient).

    Raises
    ------
    ValueError
        If fewer than 3 galaxies have both lengths finite.
    """
    m = np.asarray(measured, dtype=float)
    r = np.asarray(reference, dtype=float)
    good = np.isfinite(m) & np.isfinite(r)
    m, r = m[good], r[good]
    if m.size < 3:
        raise ValueError(f"need at least 3 galaxies with both lengths, got {m.size}")
    w = None if weights is None else np.asarray(weights, dtype=float)[good]
    fit = LinearRegression(fit_intercept=False).fit(m[:, None], r, sample_weight=w)
    scale = float(fit.coef_[0])
    return {
        "n": int(m.size),
        "n_skipped": int((~good).sum()),
        "pearson_rho": float(np.corrcoef(m, r)[0, 1]),
        "rmse": float(np.sqrt(np.mean((m - r) ** 2))),
        "scale": scale,
        "rmse_after_scale": float(np.sqrt(np.mean((scale * m - r) ** 2))),
        "median_ratio": float(np.median(m / r)),
    }


def conditional_bar_fraction(fractions: np.ndarray) -> np.ndarray:
    """Class3.1 / (Class3.1 + Class3.2): the share of 'bar' among those asked (NaN if nobody was)."""
    from .. import columns as C

    yes = fractions[:, C.KAGGLE_IDS.index("3.1")]
    no = fractions[:, C.KAGGLE_IDS.index("3.2")]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(yes + no > 0, yes / (yes + no), np.nan)


def morphology_metrics(pred: np.ndarray, labels: np.ndarray, bar_votes: np.ndarray | None = None, *,
                       min_bar_votes: int = 10, bar_threshold: float = 0.5) -> dict:
    """Agreement of predicted with volunteer vote fractions (both (N, 37) cumulative).

    - ``rmse_per_question``: RMSE over each question's answers, labels that exist only;
    - ``rmse_all``: the same over all 37;
    - ``bar_spearman``: Spearman rho of the conditional bar fraction, galaxies whose bar
      question got at least ``min_bar_votes`` answers (all with a defined fraction if
      ``bar_votes`` is None);
    - ``bar_auc``: ROC AUC of the predicted conditional bar fraction for
      "volunteers' conditional bar fraction >= bar_threshold", same galaxies.
    """
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    from .. import columns as C

    pred, labels = np.asarray(pred, float), np.asarray(labels, float)
    have = np.isfinite(labels)
    out: dict = {"n": int(len(labels)), "rmse_per_question": {}}
    for q, sl in C.question_slices().items():
        h = have[:, sl]
        if h.any():
            out["rmse_per_question"][q] = float(np.sqrt(np.mean((pred[:, sl][h] - labels[:, sl][h]) ** 2)))
    out["rmse_all"] = float(np.sqrt(np.mean((pred[have] - labels[have]) ** 2)))
    pc, lc = conditional_bar_fraction(pred), conditional_bar_fraction(labels)
    sel = np.isfinite(pc) & np.isfinite(lc)
    if bar_votes is not None:
        sel &= np.asarray(bar_votes, float) >= min_bar_votes
    out["bar_n"] = int(sel.sum())
    out["bar_spearman"] = float(spearmanr(pc[sel], lc[sel]).statistic) if sel.sum() > 2 else float("nan")
    positive = lc[sel] >= bar_threshold
    out["bar_positives"] = int(positive.sum())
    out["bar_auc"] = float(roc_auc_score(positive, pc[sel])) if 0 < positive.sum() < sel.sum() else float("nan")
    return out


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1]) if a.size > 2 and a.std() > 0 and b.std() > 0 else float("nan")


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import rankdata

    return _pearson(rankdata(a), rankdata(b))


def bootstrap_interval(stat, a: np.ndarray, b: np.ndarray, n_boot: int = 2000, seed: int = 0,
                       level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of ``stat(a, b)`` over galaxies resampled with replacement."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, a.size, (n_boot, a.size))
    vals = np.array([stat(a[i], b[i]) for i in idx])
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.quantile(vals, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def length_agreement(measured: ArrayLike, reference: ArrayLike, *, angle_deg: ArrayLike | None = None,
                     angle_bins: int = 6, n_boot: int = 2000, seed: int = 0) -> dict:
    """How well measured bar lengths follow reference ones: the saliency lab's figures.

    Pearson and Spearman rho with 95 % bootstrap intervals, RMSE, the median of
    measured / reference, and (with ``angle_deg``, the bar's position angle) the median
    relative error |m - r| / r in each of ``angle_bins`` equal slices of [0, 180) and the
    worst slice's over the overall median (the issue's target: at most 1.5).  Galaxies
    without a finite measurement are counted, not silently dropped: ``n_missing``.
    """
    m = np.asarray(measured, dtype=float)
    r = np.asarray(reference, dtype=float)
    good = np.isfinite(m) & np.isfinite(r) & (r > 0)
    out: dict = {"n": int(np.isfinite(r).sum()), "n_measured": int(good.sum()),
                 "n_missing": int((np.isfinite(r) & ~np.isfinite(m)).sum())}
    m, r = m[good], r[good]
    if m.size < 3:
        return {**out, "pearson": float("nan"), "spearman": float("nan")}
    out["pearson"] = _pearson(m, r)
    out["pearson_ci95"] = bootstrap_interval(_pearson, m, r, n_boot, seed)
    out["spearman"] = _spearman(m, r)
    out["spearman_ci95"] = bootstrap_interval(_spearman, m, r, n_boot, seed)
    out["rmse"] = float(np.sqrt(np.mean((m - r) ** 2)))
    out["median_ratio"] = float(np.median(m / r))
    rel = np.abs(m - r) / r
    out["median_rel_error"] = float(np.median(rel))
    if angle_deg is not None:
        ang = np.asarray(angle_deg, dtype=float)[good] % 180.0
        which = np.minimum((ang // (180.0 / angle_bins)).astype(int), angle_bins - 1)
        per_bin = [float(np.median(rel[which == k])) if (which == k).any() else float("nan")
                   for k in range(angle_bins)]
        out["rel_error_by_angle"] = per_bin
        out["worst_angle_over_median"] = float(np.nanmax(per_bin) / out["median_rel_error"])
    return out
