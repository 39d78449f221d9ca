"""Bar length from a saliency map: Algorithm 1 of Bhambra et al. (2022), method.md §4.

Reference semantics (the authors' code): for T = 0.5, 0.5001, ..., 0.9999 keep the
pixels with map > T, compute r = |Pearson corr(row, col)| over them, and stop at the
first T with r > Tc or fewer than Tl pixels; the bar is the mask map > T at that T and
its length the largest distance between two of its pixels (at least 1).

This implementation gives the same answers in O(n log n): the map is sorted once, so
the pixels above every threshold are a prefix of the sorted order, and prefix sums of
the coordinates give the count and correlation at all 5,000 thresholds at once.  The
mask's diameter is taken over its convex hull, whose candidates are the first and last
pixel of each row.  The literal loop lives in ``tests/reference_bars.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The 5,000 thresholds of Algorithm 1 (float64, shared with the reference).
THRESHOLDS = 0.5 + np.arange(5000) / 10000.0
LINEARITY_CRITERIA = ("pearson", "eigen")


@dataclass(frozen=True)
class BarMeasurement:
    length_pix: float  # in map pixels; 1.0 for a mask of one pixel, NaN for an empty mask
    threshold: float  # T at which the loop stopped
    n_pixels: int  # pixels in the final mask
    linearity: float  # the linearity statistic at that T (NaN if undefined)


def _linearity(n, sr, sc, srr, scc, src, criterion):
    """|Pearson r| or the eigenvalue contrast of the coordinates' covariance, from sums."""
    with np.errstate(invalid="ignore", divide="ignore"):
        a = n * srr - sr * sr  # n^2 var(row), exact in int64 arithmetic
        c = n * scc - sc * sc
        b = n * src - sr * sc
        a, b, c = a.astype(np.float64), b.astype(np.float64), c.astype(np.float64)
        if criterion == "pearson":
            return np.abs(b / np.sqrt(a * c))
        return np.sqrt((a - c) ** 2 + 4 * b * b) / (a + c)


def _hull_diameter(rows: np.ndarray, cols: np.ndarray) -> float:
    """Largest distance between two pixels of a set, via its convex hull."""
    if rows.size == 0:
        return float("nan")
    order = np.lexsort((cols, rows))
    r, c = rows[order], cols[order]
    first = np.r_[True, r[1:] != r[:-1]]
    last = np.r_[r[1:] != r[:-1], True]
    cand = np.unique(np.concatenate([np.stack([r[first], c[first]], 1), np.stack([r[last], c[last]], 1)]), axis=0)
    hull = _monotone_chain(cand) if len(cand) > 2 else cand
    d = hull[:, None, :] - hull[None, :, :]
    d2 = (d * d).sum(-1).max()
    return float(max(np.sqrt(float(d2)), 1.0))


def _monotone_chain(pts: np.ndarray) -> np.ndarray:
    """Convex hull vertices of integer points sorted by (row, col) (Andrew's algorithm)."""
    pts = [tuple(p) for p in pts.tolist()]

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower, upper = [], []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.asarray(lower[:-1] + upper[:-1], dtype=np.int64)


class _SortedMap:
    """A map sorted once: pixel coordinates in descending value order and prefix sums."""

    def __init__(self, saliency: np.ndarray):
        m = np.asarray(saliency, dtype=np.float64)
        if m.ndim != 2:
            raise ValueError(f"saliency map must be 2-D (H, W), got shape {m.shape}")
        flat = m.ravel()
        finite = np.flatnonzero(np.isfinite(flat))
        vals = flat[finite]
        order = np.argsort(-vals, kind="stable")
        idx = finite[order]
        self.rows = (idx // m.shape[1]).astype(np.int64)
        self.cols = (idx % m.shape[1]).astype(np.int64)
        asc = vals[order][::-1]
        # Number of pixels strictly above each threshold = a prefix of the sorted order.
        self.n = asc.size - np.searchsorted(asc, THRESHOLDS, side="right")
        self._lin: dict[str, np.ndarray] = {}

    def linearity(self, criterion: str) -> np.ndarray:
        if criterion not in LINEARITY_CRITERIA:
            raise ValueError(f"Unknown linearity criterion {criterion!r}; use one of {LINEARITY_CRITERIA}")
        if criterion not in self._lin:
            zero = np.zeros(1, np.int64)
            csum = lambda a: np.concatenate([zero, np.cumsum(a)])  # noqa: E731
            r, c, n = self.rows, self.cols, self.n
            sums = [csum(a)[n] for a in (r, c, r * r, c * c, r * c)]
            self._lin[criterion] = _linearity(n, *sums, criterion)
        return self._lin[criterion]

    def stop_index(self, tc: float, tl: int, criterion: str) -> int:
        stop = (self.n < tl) | (self.linearity(criterion) > tc)  # NaN linearity never stops the loop
        return int(np.argmax(stop)) if stop.any() else len(THRESHOLDS) - 1

    def measurement(self, k: int, criterion: str) -> BarMeasurement:
        n_mask = int(self.n[k])
        length = _hull_diameter(self.rows[:n_mask], self.cols[:n_mask])
        return BarMeasurement(length, float(THRESHOLDS[k]), n_mask, float(self.linearity(criterion)[k]))


def measure_bar(saliency: np.ndarray, *, tc: float = 0.85, tl: int = 30, criterion: str = "pearson") -> BarMeasurement:
    """Measure the bar in one H x W saliency map normalised to [0, 1].

    Parameters
    ----------
    saliency : (H, W) array; NaN pixels never enter the mask.
    tc : stop when the linearity of the surviving pixels exceeds this.
    tl : stop when fewer than this many pixels survive.
    criterion : "pearson" (the paper's |r|) or "eigen", the rotation-invariant
        (l1 - l2) / (l1 + l2) of the coordinates' covariance (method.md §4).

    Raises
    ------
    ValueError : if the map is not 2-D or the criterion is unknown.
    """
    sm = _SortedMap(saliency)
    return sm.measurement(sm.stop_index(tc, tl, criterion), criterion)


def measure_bar_grid(saliency: np.ndarray, tcs, tls, criterion: str = "pearson") -> np.ndarray:
    """Lengths (len(tcs), len(tls)) for a grid of (Tc, Tl) on one map, sorting it once."""
    sm = _SortedMap(saliency)
    out = np.empty((len(tcs), len(tls)))
    cache: dict[int, float] = {}
    for i, tc in enumerate(tcs):
        for j, tl in enumerate(tls):
            k = sm.stop_index(tc, tl, criterion)
            if k not in cache:
                cache[k] = sm.measurement(k, criterion).length_pix
            out[i, j] = cache[k]
    return out


def measure_bars(maps: np.ndarray, *, tc: float = 0.85, tl: int = 30, criterion: str = "pearson") -> dict[str, np.ndarray]:
    """``measure_bar`` over a stack (B, H, W); returns arrays length_pix, threshold, n_pixels."""
    res = [measure_bar(m, tc=tc, tl=tl, criterion=criterion) for m in np.asarray(maps)]
    return {
        "length_pix": np.array([r.length_pix for r in res], dtype=np.float64),
        "threshold": np.array([r.threshold for r in res], dtype=np.float64),
        "n_pixels": np.array([r.n_pixels for r in res], dtype=np.int64),
    }
