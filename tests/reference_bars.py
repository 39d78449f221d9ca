"""Algorithm 1 written out literally (method.md §4), the yardstick for catalog_xai.bars."""

import numpy as np

from catalog_xai.core.bars import THRESHOLDS


def reference_bar(saliency, tc=0.85, tl=30, linearity="pearson"):
    m = np.asarray(saliency, dtype=np.float64)
    T = THRESHOLDS[-1]
    for T in THRESHOLDS:
        rows, cols = np.nonzero(m > T)
        if rows.size < tl:
            break
        with np.errstate(invalid="ignore", divide="ignore"):
            if linearity == "pearson":
                r = abs(np.corrcoef(rows, cols)[0, 1]) if rows.size > 1 else np.nan
            else:
                lam = np.linalg.eigvalsh(np.cov(np.stack([rows, cols]).astype(float)))
                r = (lam[1] - lam[0]) / (lam[1] + lam[0])
        if r > tc:
            break
    rows, cols = np.nonzero(m > T)
    if rows.size == 0:
        return float("nan"), float(T), 0
    best = 0
    for i in range(rows.size):  # the O(n^2) double loop of the authors' code
        d2 = (rows[i] - rows) ** 2 + (cols[i] - cols) ** 2
        best = max(best, int(d2.max()))
    return max(float(np.sqrt(float(best))), 1.0), float(T), int(rows.size)
