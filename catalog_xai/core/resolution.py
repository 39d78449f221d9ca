"""Resolution bias of morphology labels (seed 003, Medina-Rosales et al.; Cabrera et al. 2014): pure numpy/torch.

Volunteers call small, poorly resolved disks "smooth".  With alpha = (angular size) / (PSF
FWHM), the bias model is p(labelled smooth | truly disk, alpha) = e(alpha) = exp(-alpha^2 /
2 theta^2), and nothing flips the other way, so the observed smooth fraction in a bin of
alpha is f~_s(alpha) = f_s + f_d e(alpha).

- ``fit_theta``: theta (and f_s, f_d) by least squares of the observed smooth fraction per
  alpha bin against that curve (seed 003 §2.3.3), started from the best-resolved bin.
- ``cv14``: the root-mean-square deviation of each class's fraction across alpha bins from
  its value in the best-resolved bin, rms over classes (seed 003 eqs 17-18).
- ``cv18``: the same inside bins of intrinsic properties (size in kpc, absolute magnitude,
  redshift), averaged over those bins (Cabrera-Vives et al. 2018).
- ``ddb_loss``: the de-biasing likelihood of seed 003 eq. 4 with the model above, written
  with logsumexp so that it stays finite where e(alpha) -> 0 or 1.

Bins hold equal numbers of galaxies; a bin with fewer than ``min_count`` galaxies is not
used.  Errors are bootstrap standard deviations (galaxies resampled with replacement).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

#: The two classes of the smooth-or-featured question, in this order in every (n, 2) array.
CLASSES = ("smooth", "disk")


def alpha(size_arcsec: np.ndarray, psf_fwhm_arcsec: np.ndarray) -> np.ndarray:
    """Resolution alpha = size / PSF FWHM; NaN where either is missing or not positive."""
    size, psf = np.asarray(size_arcsec, float), np.asarray(psf_fwhm_arcsec, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((size > 0) & (psf > 0), size / psf, np.nan)


def bias_curve(a: np.ndarray, theta: float) -> np.ndarray:
    """e(alpha) = exp(-alpha^2 / (2 theta^2)): the probability that a disk is labelled smooth."""
    return np.exp(-np.asarray(a, float) ** 2 / (2.0 * theta**2))


def equal_count_edges(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin edges (at most n_bins + 1) holding about equal numbers of the finite ``values``; tied
    values (a quantised size) merge bins rather than leave empty ones."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    return np.unique(np.quantile(v, np.linspace(0, 1, n_bins + 1))) if len(v) else np.array([0.0, 1.0])


def _bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    idx = np.searchsorted(edges, values, side="right") - 1
    idx[values == edges[-1]] = len(edges) - 2  # the maximum belongs to the last bin
    idx[~np.isfinite(values) | (idx < 0) | (idx > len(edges) - 2)] = -1
    return idx


def binned_fractions(labels: np.ndarray, a: np.ndarray, n_bins: int = 10, min_count: int = 20,
                     edges: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Class fractions per equal-count bin of alpha.

    ``labels`` (n, 2): each galaxy's (smooth, disk) probabilities — one-hot for hard labels,
    vote fractions or model probabilities otherwise — NaN rows are not used.  Returns edges,
    mid-points (the mean alpha of each bin), counts and fractions (n_bins, 2), NaN for bins
    under ``min_count``.
    """
    labels, a = np.asarray(labels, float), np.asarray(a, float)
    ok = np.isfinite(a) & np.isfinite(labels).all(axis=1)
    edges = equal_count_edges(a[ok], n_bins) if edges is None else edges
    idx = np.where(ok, _bin_index(np.where(ok, a, np.nan), edges), -1)
    nb = len(edges) - 1
    counts = np.bincount(idx[idx >= 0], minlength=nb).astype(float)
    frac = np.full((nb, labels.shape[1]), np.nan)
    mid = np.full(nb, np.nan)
    for b in range(nb):
        sel = idx == b
        if counts[b] >= max(min_count, 1):
            frac[b] = labels[sel].mean(axis=0)
            mid[b] = a[sel].mean()
    return {"edges": edges, "mid": mid, "counts": counts, "fractions": frac}


def cv14(labels: np.ndarray, a: np.ndarray, n_bins: int = 10, min_count: int = 20,
         edges: np.ndarray | None = None) -> float:
    """CV14: sqrt(mean_k sigma_k^2), sigma_k the rms over alpha bins of (f_{l,k} - f_k), f_k the
    fraction in the best-resolved (largest-alpha) usable bin.  NaN with fewer than 2 usable bins."""
    b = binned_fractions(labels, a, n_bins, min_count, edges)
    frac = b["fractions"][np.isfinite(b["fractions"]).all(axis=1)]
    if len(frac) < 2:
        return float("nan")
    sigma2 = ((frac - frac[-1]) ** 2).mean(axis=0)
    return float(np.sqrt(sigma2.mean()))


def cv18(labels: np.ndarray, a: np.ndarray, intrinsic: np.ndarray, n_bins: int = 5,
         n_intrinsic_bins: int | Sequence[int] = 3, min_count: int = 20) -> float:
    """CV18: CV14's class-fraction deviations across alpha bins, computed inside each cell of an
    equal-count grid of the intrinsic properties (``intrinsic`` (n, P): e.g. size in kpc,
    absolute magnitude, redshift) and averaged over the cells that have >= 2 usable alpha bins:
    sqrt(mean over cells and classes of sigma^2).  NaN where no cell qualifies."""
    labels, a = np.asarray(labels, float), np.asarray(a, float)
    intr = np.asarray(intrinsic, float).reshape(len(a), -1)
    per = np.broadcast_to(np.atleast_1d(n_intrinsic_bins), (intr.shape[1],))
    cell = np.zeros(len(a), np.int64)
    bad = ~np.isfinite(intr).all(axis=1)
    for p in range(intr.shape[1]):
        idx = _bin_index(np.where(bad, np.nan, intr[:, p]), equal_count_edges(intr[~bad, p], int(per[p])))
        bad |= idx < 0
        cell = cell * int(per[p]) + np.maximum(idx, 0)
    sig2 = []
    for c in np.unique(cell[~bad]):
        sel = (cell == c) & ~bad
        b = binned_fractions(labels[sel], a[sel], n_bins, min_count)
        frac = b["fractions"][np.isfinite(b["fractions"]).all(axis=1)]
        if len(frac) >= 2:
            sig2.append(((frac - frac[-1]) ** 2).mean(axis=0))
    return float(np.sqrt(np.mean(sig2))) if sig2 else float("nan")


def bootstrap(statistic: Callable[[np.ndarray], float], n: int, n_boot: int = 200, seed: int = 0) -> float:
    """Bootstrap standard deviation of ``statistic(indices)`` over resamples of n galaxies."""
    rng = np.random.default_rng(seed)
    vals = np.array([statistic(rng.integers(0, n, n)) for _ in range(n_boot)])
    vals = vals[np.isfinite(vals)]
    return float(vals.std(ddof=1)) if len(vals) > 1 else float("nan")


def fit_theta(mid_alpha: np.ndarray, smooth_fraction: np.ndarray) -> dict[str, float]:
    """theta, f_s, f_d minimising sum over bins (f_s + f_d e(alpha) - f~_s)^2 (seed 003 eq. 16).

    Started, as the seed does, from the best-resolved bin's fractions (f_s = its smooth
    fraction, f_d = 1 - f_s) and theta at the median alpha; f_s, f_d bounded to [0, 1].

    Raises
    ------
    ValueError
        With fewer than 3 usable bins (three parameters).
    """
    from scipy.optimize import least_squares

    m, f = np.asarray(mid_alpha, float), np.asarray(smooth_fraction, float)
    ok = np.isfinite(m) & np.isfinite(f)
    m, f = m[ok], f[ok]
    if len(m) < 3:
        raise ValueError(f"fitting theta needs at least 3 alpha bins with enough galaxies, got {len(m)}")
    best = f[np.argmax(m)]
    x0 = [float(np.median(m)), float(np.clip(best, 0, 1)), float(np.clip(1 - best, 0, 1))]
    res = least_squares(lambda p: p[1] + p[2] * bias_curve(m, p[0]) - f, x0,
                        bounds=([1e-3, 0, 0], [np.inf, 1, 1]))
    theta, fs, fd = res.x
    return {"theta": float(theta), "f_s": float(fs), "f_d": float(fd), "rms": float(np.sqrt(np.mean(res.fun**2))),
            "bins": int(len(m))}


def ddb_loss(logits: torch.Tensor, observed: torch.Tensor, a: torch.Tensor, theta: float) -> torch.Tensor:
    """Seed 003's de-biasing loss for the smooth/disk question, averaged over the batch.

    ``logits`` (B, 2): the model's (smooth, disk) logits, whose softmax is the de-biased
    p(y | x); ``observed`` (B, 2): the biased labels as (smooth, disk) weights (one-hot, or
    vote fractions: the loss is then their expectation); ``a`` (B,) each galaxy's alpha.

        L = -[ s~ log(p_s + p_d e) + d~ log(p_d (1 - e)) ],  log e = -alpha^2 / 2 theta^2

    with log(p_s + p_d e) = logsumexp(log p_s, log p_d + log e) and log(1 - e) = log(-expm1(log e)),
    both finite for any alpha >= 0 (1 - e is clamped at float eps where alpha -> 0).
    """
    logp = torch.log_softmax(logits.float(), dim=1)
    log_e = -(a.float() ** 2) / (2.0 * theta**2)
    log_smooth = torch.logsumexp(torch.stack([logp[:, 0], logp[:, 1] + log_e]), dim=0)
    log_one_minus_e = torch.log(torch.clamp(-torch.expm1(log_e), min=torch.finfo(torch.float32).eps))
    log_disk = logp[:, 1] + log_one_minus_e
    w = torch.nan_to_num(observed.float())
    return -(w[:, 0] * log_smooth + w[:, 1] * log_disk).mean()


def radial_profile(image: np.ndarray, n_bins: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean of a (H, W) map in rings about its centre: (ring radius in pixels, mean), seed 003 Fig. 7."""
    h, w = image.shape
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot(yy - (h - 1) / 2, xx - (w - 1) / 2)
    n_bins = n_bins or int(min(h, w) // 2)
    edges = np.linspace(0, min(h, w) / 2, n_bins + 1)
    idx = np.clip(np.digitize(r.ravel(), edges) - 1, 0, None)
    keep = idx < n_bins
    sums = np.bincount(idx[keep], weights=image.ravel()[keep], minlength=n_bins)
    counts = np.bincount(idx[keep], minlength=n_bins)
    with np.errstate(invalid="ignore"):
        return (edges[:-1] + edges[1:]) / 2, sums / counts


def class_average_maps(maps: np.ndarray, classes: np.ndarray, n_classes: int = 2) -> np.ndarray:
    """(n_classes, H, W) mean map of the galaxies predicted in each class (NaN maps where none), seed 003 Figs 5-6."""
    out = np.full((n_classes, *maps.shape[1:]), np.nan)
    for k in range(n_classes):
        sel = classes == k
        if sel.any():
            out[k] = maps[sel].mean(axis=0)
    return out


def hard_labels(smooth: np.ndarray, disk: np.ndarray) -> np.ndarray:
    """(n, 2) one-hot (smooth, disk) labels by the larger of two fractions (majority vote); NaN rows
    where either is missing or both are 0 (e.g. a star or artefact by majority is not a label)."""
    s, d = np.asarray(smooth, float), np.asarray(disk, float)
    out = np.stack([(s >= d), (d > s)], 1).astype(float)
    out[~(np.isfinite(s) & np.isfinite(d)) | ((s == 0) & (d == 0))] = np.nan
    return out


def bias_table(label_sets: dict[str, np.ndarray], a: np.ndarray, intrinsic: np.ndarray | None, *, n_bins: int = 10,
               n_intrinsic_bins: int = 3, min_count: int = 20, n_boot: int = 200, seed: int = 0) -> list[dict]:
    """Seed 003's Table 1 for several label sets: CV14 and CV18 with bootstrap errors.

    CV14 uses equal-count alpha bins fixed on the whole sample (so every label set is binned
    alike); CV18 bins inside each cell of the intrinsic grid.  A bootstrap resample draws the
    same galaxies for every label set.
    """
    a = np.asarray(a, float)
    edges = equal_count_edges(a, n_bins)
    rows = []
    for name, lab in label_sets.items():
        def c14(idx, lab=lab):
            return cv14(lab[idx], a[idx], n_bins, min_count, edges)

        row = {"labels": name, "galaxies": int(np.isfinite(lab).all(axis=1).sum()),
               "cv14": c14(np.arange(len(a))), "cv14_err": bootstrap(c14, len(a), n_boot, seed)}
        if intrinsic is not None:
            def c18(idx, lab=lab):
                return cv18(lab[idx], a[idx], intrinsic[idx], max(2, n_bins // 2), n_intrinsic_bins, min_count)

            row.update(cv18=c18(np.arange(len(a))), cv18_err=bootstrap(c18, len(a), n_boot, seed))
        rows.append(row)
    return rows
