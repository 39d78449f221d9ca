"""Agreement of measured bar lengths with reference lengths (paper §5.1), arrays in."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LinearRegression


def compare_lengths(measured, reference, weights=None) -> dict:
    """Pearson rho, RMSE and the (weighted) linear fit through the origin.

    Rows where either length is not finite are left out and counted in ``n_skipped``.
    ``scale`` is the factor s of reference ~ s * measured, the calibration the
    paper applies because SmoothGrad underestimates lengths (bar ends are not salient).
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
