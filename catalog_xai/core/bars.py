"""Bar length from a saliency map: Algorithm 1 of Bhambra et al. (2022), method.md §4.

Reference semantics (the authors' code): for T = 0.5, 0.5001, ..., 0.9999 keep the
pixels with map > T, compute r = |Pearson corr(row, col)| over them, and stop at the
first T with r > Tc or fewer than Tl pixels; the bar is the mask map > T at that T and
its length the largest distance between two of its pixels (at least 1).

This implementation gives the same answers in O(n log n): the map is sorted once, so
the pixels above every threshold are a prefix of the sorted order, and prefix sums of
the coordinates give the count and correlation at all 5,000 thresholds at once.  The
mask's diameter is taken over its convex hull, whose candidates are the first and last
pixel of each row; only pixels above the lowest threshold are sorted.  The literal loop
lives in ``tests/reference_bars.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .params import LINEARITY_CRITERIA, PAPER

#: The 5,000 thresholds of Algorithm 1 (float64, shared with the reference).
THRESHOLDS = 0.5 + np.arange(5000) / 10000.0


@dataclass(frozen=True)
class BarMeasurement:
    length_pix: float  # in map pixels; 1.0 for a mask of one pixel, NaN for an empty mask
    threshold: float  # T at which the loop stopped
    n_pixels: int  # pixels in the final mask
    linearity: float  # the linearity statistic at that T (NaN if undefined)


def _linearity(n: np.ndarray, sr: np.ndarray, sc: np.ndarray, srr: np.ndarray, scc: np.ndarray, src: np.ndarray,
               linearity: str) -> np.ndarray:
    """|Pearson r| or the eigenvalue contrast of the coordinates' covariance, from sums."""
    with np.errstate(invalid="ignore", divide="ignore"):
        a = n * srr - sr * sr  # n^2 var(row), exact in int64 arithmetic
        c = n * scc - sc * sc
        b = n * src - sr * sc
        a, b, c = a.astype(np.float64), b.astype(np.float64), c.astype(np.float64)
        if linearity == "pearson":
            return np.abs(b / np.sqrt(a * c))
        return np.sqrt((a - c) ** 2 + 4 * b * b) / (a + c)


def _farthest_pair(flat_idx: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The two pixels of a set farthest apart, (row, col) each, given flat indices row * width + col.

    Every convex-hull vertex of a pixel set is the first or last pixel of its row, and
    sorting the flat indices sorts the pixels by (row, col).
    """
    if flat_idx.size > 64:  # reduce to the row ends; for fewer pixels all pairs are cheaper
        idx = np.sort(flat_idx)
        r = idx // width
        ends = np.flatnonzero(r[1:] != r[:-1])
        flat_idx = idx[np.sort(np.concatenate([[0], ends, ends + 1, [idx.size - 1]]))]
    pts = np.stack([flat_idx // width, flat_idx % width], 1)
    if len(pts) > 256:  # all pairs of a few hundred points cost less than the hull's Python loop
        pts = _monotone_chain(pts)
    d = pts[:, None, :] - pts[None, :, :]
    a, b = np.unravel_index(int(np.argmax((d * d).sum(-1))), (len(pts), len(pts)))
    return pts[a], pts[b]


def _hull_diameter(flat_idx: np.ndarray, width: int) -> float:
    """Largest distance between two pixels of a set (at least 1 pixel), NaN for an empty set."""
    if flat_idx.size == 0:
        return float("nan")
    p, q = _farthest_pair(flat_idx, width)
    return float(max(np.sqrt(float(((p - q) ** 2).sum())), 1.0))


def bar_endpoints(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The two ends of the measured bar: the farthest pair of a (H, W) mask of isolated-bar
    pixels, as (row, col) arrays; None for an empty mask.  Algorithm 1's length is their distance."""
    flat = np.flatnonzero(np.asarray(mask, bool))
    return None if flat.size == 0 else _farthest_pair(flat, mask.shape[1])


def _monotone_chain(pts: np.ndarray) -> np.ndarray:
    """Convex hull vertices of integer points sorted by (row, col) (Andrew's algorithm)."""
    pts = [tuple(p) for p in pts.tolist()]

    def cross(o: tuple[int, ...], a: tuple[int, ...], b: tuple[int, ...]) -> int:
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
        self.shape = m.shape
        flat = m.ravel()
        # Pixels at or below the lowest threshold (and NaN, inf) never enter a mask:
        # sorting only the rest is most of the speed on real maps.
        cand = np.flatnonzero((flat > THRESHOLDS[0]) & np.isfinite(flat))
        vals = flat[cand]
        # Ties need no stable order: tied pixels cross every threshold together.
        order = np.argsort(-vals)
        self.idx = cand[order]
        self.rows = self.idx // m.shape[1]
        self.cols = self.idx % m.shape[1]
        # Number of pixels strictly above each threshold = a prefix of the sorted order.
        # For few pixels: a value v is above thresholds [0, searchsorted(THRESHOLDS, v)),
        # so the counts are a reversed cumulative histogram of those indices.
        if vals.size < THRESHOLDS.size:
            above = np.bincount(np.searchsorted(THRESHOLDS, vals, side="left"), minlength=THRESHOLDS.size + 1)
            self.n = vals.size - np.cumsum(above)[:-1]
        else:
            self.n = vals.size - np.searchsorted(vals[order][::-1], THRESHOLDS, side="right")
        self._lin: dict[str, np.ndarray] = {}

    def linearity(self, linearity: str) -> np.ndarray:
        if linearity not in LINEARITY_CRITERIA:
            raise ValueError(f"Unknown linearity criterion {linearity!r}; use one of {LINEARITY_CRITERIA}")
        if linearity not in self._lin:
            r, c, n = self.rows, self.cols, self.n
            terms = np.zeros((5, r.size + 1), np.int64)  # a leading 0: the empty prefix
            np.cumsum(np.stack([r, c, r * r, c * c, r * c]), axis=1, out=terms[:, 1:])
            if r.size + 1 < n.size:  # fewer prefixes than thresholds: each prefix once
                lin = _linearity(np.arange(r.size + 1), *terms, linearity)[n]
            else:
                lin = _linearity(n, *terms[:, n], linearity)
            self._lin[linearity] = lin
        return self._lin[linearity]

    def stop_index(self, tc: float, tl: int, linearity: str) -> int:
        stop = (self.n < tl) | (self.linearity(linearity) > tc)  # NaN linearity never stops the loop
        return int(np.argmax(stop)) if stop.any() else len(THRESHOLDS) - 1

    def measurement(self, k: int, linearity: str) -> BarMeasurement:
        n_mask = int(self.n[k])
        length = _hull_diameter(self.idx[:n_mask], self.shape[1])
        return BarMeasurement(length, float(THRESHOLDS[k]), n_mask, float(self.linearity(linearity)[k]))


def measure_bar(saliency: np.ndarray, *, tc: float = PAPER.tc, tl: int = PAPER.tl,
                linearity: str = PAPER.linearity) -> BarMeasurement:
    """Measure the bar in one H x W saliency map normalised to [0, 1].

    Parameters
    ----------
    saliency : (H, W) array; NaN pixels never enter the mask.
    tc : stop when the linearity of the surviving pixels exceeds this.
    tl : stop when fewer than this many pixels survive.
    linearity : "pearson" (the paper's |r|) or "eigen", the rotation-invariant
        (l1 - l2) / (l1 + l2) of the coordinates' covariance (method.md §4).

    Raises
    ------
    ValueError
        If the map is not 2-D or the linearity criterion is unknown.
    """
    sm = _SortedMap(saliency)
    return sm.measurement(sm.stop_index(tc, tl, linearity), linearity)


def measure_bar_grid(saliency: np.ndarray, tcs: Sequence[float], tls: Sequence[int],
                     linearity: str = PAPER.linearity) -> np.ndarray:
    """Lengths (len(tcs), len(tls)) for a grid of (Tc, Tl) on one map, sorting it once.

    Raises
    ------
    ValueError
        If the map is not 2-D or the linearity criterion is unknown.
    """
    sm = _SortedMap(saliency)
    out = np.empty((len(tcs), len(tls)))
    cache: dict[int, float] = {}
    for i, tc in enumerate(tcs):
        for j, tl in enumerate(tls):
            k = sm.stop_index(tc, tl, linearity)
            if k not in cache:
                cache[k] = sm.measurement(k, linearity).length_pix
            out[i, j] = cache[k]
    return out


def keep_near_centre(maps: np.ndarray, fraction: float, join_px: int = 2) -> np.ndarray:
    """(B, H, W) maps with every region above Algorithm 1's first threshold (0.5) blanked (set to 0)
    unless it comes within ``fraction`` x the side of the map's centre; NaN stays NaN.

    Regions are the connected pieces (8-neighbour) of map > 0.5 after growing each by ``join_px``,
    so the two halves of a bar split by a dark nucleus stay one piece.  Every later threshold's
    mask is a subset of the first one's, so Algorithm 1 on the result measures the central
    pieces only: a bright neighbour, star or artefact at the frame's edge is not a bar.  Where no
    piece comes that close, the one nearest the centre is kept.  ``fraction`` 0 returns the maps.
    """
    from scipy import ndimage

    if fraction <= 0:
        return maps
    maps = np.asarray(maps, dtype=np.float64)
    out = maps.copy()
    h, w = maps.shape[-2:]
    dist = np.hypot(*np.meshgrid(np.arange(h) - (h - 1) / 2, np.arange(w) - (w - 1) / 2, indexing="ij"))
    for m, o in zip(maps, out):
        with np.errstate(invalid="ignore"):
            above = m > THRESHOLDS[0]
        if not above.any():
            continue
        grown = ndimage.binary_dilation(above, iterations=join_px) if join_px else above
        labels, n = ndimage.label(grown, structure=np.ones((3, 3)))
        nearest = ndimage.minimum(dist, labels, index=np.arange(1, n + 1))
        keep = np.flatnonzero(nearest <= max(fraction * max(h, w), nearest.min())) + 1
        o[above & ~np.isin(labels, keep)] = 0.0
    return out


def measure_bars(maps: np.ndarray, *, tc: float = PAPER.tc, tl: int = PAPER.tl,
                 linearity: str = PAPER.linearity) -> dict[str, np.ndarray]:
    """``measure_bar`` over a stack (B, H, W); returns arrays length_pix, threshold, n_pixels.

    Raises
    ------
    ValueError
        If a map is not 2-D or the linearity criterion is unknown.
    """
    res = [measure_bar(m, tc=tc, tl=tl, linearity=linearity) for m in np.asarray(maps)]
    return {
        "length_pix": np.array([r.length_pix for r in res], dtype=np.float64),
        "threshold": np.array([r.threshold for r in res], dtype=np.float64),
        "n_pixels": np.array([r.n_pixels for r in res], dtype=np.int64),
    }
