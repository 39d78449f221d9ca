"""Bar length from a saliency map: Algorithm 1 of Bhambra et al. (2022), method.md §4, and the
axis-profile read-out (``measure_bar_profile``; issue 12 notebook, round K).

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

from .params import LINEARITY_CRITERIA, PAPER, READOUTS

#: The 5,000 thresholds of Algorithm 1 (float64, shared with the reference).
THRESHOLDS = 0.5 + np.arange(5000) / 10000.0


@dataclass(frozen=True)
class BarMeasurement:
    length_pix: float  # in map pixels; 1.0 for a mask of one pixel, NaN for an empty mask
    threshold: float  # T at which the loop stopped
    n_pixels: int  # pixels in the final mask
    linearity: float  # the linearity statistic at that T (NaN if undefined)
    ends: tuple[np.ndarray, np.ndarray] | None = None  # the bar's two ends, (row, col) in map pixels


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
        if n_mask == 0:
            return BarMeasurement(float("nan"), float(THRESHOLDS[k]), 0, float(self.linearity(linearity)[k]))
        p, q = ends = _farthest_pair(self.idx[:n_mask], self.shape[1])
        length = float(max(np.sqrt(float(((p - q) ** 2).sum())), 1.0))  # the mask's diameter, at least 1 pixel
        return BarMeasurement(length, float(THRESHOLDS[k]), n_mask, float(self.linearity(linearity)[k]), ends)


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


def bar_axis(saliency: np.ndarray, level: float = THRESHOLDS[0], radius_fraction: float = 0.3) -> float:
    """Direction of the map's central bright part, radians from the column axis towards rows
    (modulo pi): the major axis of the saliency-weighted second moments of the pixels above
    ``level`` within ``radius_fraction`` x the side of the centre (of all pixels above it if fewer
    than 3 lie there; 0 for a map with fewer than 3).  NaN pixels weigh nothing."""
    m = np.nan_to_num(np.asarray(saliency, dtype=np.float64), nan=0.0)
    h, w = m.shape
    rows, cols = np.mgrid[:h, :w]
    rows, cols = rows - (h - 1) / 2, cols - (w - 1) / 2
    sel = (m > level) & (np.hypot(rows, cols) < radius_fraction * max(h, w))
    if sel.sum() < 3:
        sel = m > level
    if sel.sum() < 3:
        return 0.0
    wt, r, c = m[sel], rows[sel], cols[sel]
    r, c = r - np.average(r, weights=wt), c - np.average(c, weights=wt)
    crr, ccc, crc = (np.average(v, weights=wt) for v in (r * r, c * c, r * c))
    return float(0.5 * np.arctan2(2 * crc, ccc - crr))


#: Gaps (profile samples) below the level that still join two runs of an axis profile into one.
PROFILE_JOIN_PX = 2


def measure_bar_profile(saliency: np.ndarray, *, fraction: float = PAPER.profile_fraction,
                        width: int = PAPER.profile_width, near_centre: float = 0.0,
                        symmetric: bool = PAPER.profile_symmetric) -> BarMeasurement:
    """Measure the bar along its axis: the map's profile through the frame's centre along
    ``bar_axis``, each sample the maximum across a strip ``width`` px wide.  The bar is the
    profile's runs at or above ``fraction`` x its peak (runs ``PROFILE_JOIN_PX`` or fewer samples
    apart joined) that come within ``near_centre`` x the map's side of the centre (the nearest run
    if none does; 0: every run), and its length the distance between their outermost samples.

    Why: Algorithm 1's farthest pair spans every pixel above its threshold, so ripples beside the
    bar and speckle off its axis lengthen it, and its 0.5 start cuts bars whose ends fade below
    half the peak.  The strip ignores what is off the axis, a lower level reaches the ends, and
    runs (not single pixels) let the two halves of a bar with a dark nucleus count while a
    neighbour further along the axis does not (round K of docs/bar-lab-notebook.md).

    ``symmetric``: a bar is point-symmetric about the galaxy's centre (the frame's), so each
    sample becomes the smaller of itself and its mirror; what lights only one side of the axis (an
    arm leaving the bar's end, a piece of ring, a star) no longer extends the bar (round L).  ``ends`` are
    the two ends as (row, col) in map pixels; ``threshold`` the map level that defined them.

    Raises
    ------
    ValueError
        If the map is not 2-D, ``fraction`` is not in (0, 1] or ``width`` < 0.
    """
    from scipy import ndimage

    m = np.nan_to_num(np.asarray(saliency, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if m.ndim != 2:
        raise ValueError(f"saliency map must be 2-D (H, W), got shape {m.shape}")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if width < 0:
        raise ValueError(f"width must be >= 0, got {width}")
    h, w = m.shape
    theta = bar_axis(m)
    reach = int(np.ceil(np.hypot(h, w) / 2))
    t = np.arange(-reach, reach + 1, dtype=np.float64)
    s = np.linspace(-width / 2, width / 2, int(width) + 1)
    tt, ss = np.meshgrid(t, s, indexing="ij")
    cy, cx = (h - 1) / 2, (w - 1) / 2
    rows = cy + tt * np.sin(theta) + ss * np.cos(theta)
    cols = cx + tt * np.cos(theta) - ss * np.sin(theta)
    profile = ndimage.map_coordinates(m, [rows, cols], order=1, cval=0.0).max(axis=1)
    if symmetric:  # t runs from -reach to reach, so the reversed profile is the mirror through the centre
        profile = np.minimum(profile, profile[::-1])
    peak = float(profile.max())
    if not peak > 0:
        return BarMeasurement(float("nan"), float("nan"), 0, float("nan"))
    above = profile >= fraction * peak
    g = PROFILE_JOIN_PX
    joined = ndimage.binary_closing(np.pad(above, g), iterations=g)[g:-g] | above if g else above
    runs, n = ndimage.label(joined)
    if near_centre > 0 and n > 1:
        nearest = ndimage.minimum(np.abs(t), runs, index=np.arange(1, n + 1))
        keep = np.flatnonzero(nearest <= max(near_centre * max(h, w), nearest.min())) + 1
        above &= np.isin(runs, keep)
    kept = np.flatnonzero(above)
    t0, t1 = t[kept[0]], t[kept[-1]]
    ends = (np.array([cy + t0 * np.sin(theta), cx + t0 * np.cos(theta)]),
            np.array([cy + t1 * np.sin(theta), cx + t1 * np.cos(theta)]))
    return BarMeasurement(float(max(t1 - t0, 1.0)), fraction * peak, int(kept.size), float("nan"), ends)


def readout_keywords(params) -> dict:
    """``measure_bars``' keywords from a ``MethodParams``: the read-out and its settings."""
    return dict(tc=params.tc, tl=params.tl, linearity=params.linearity, readout=params.readout,
                profile_fraction=params.profile_fraction, profile_width=params.profile_width,
                profile_symmetric=params.profile_symmetric, near_centre=params.near_centre)


def isolated_bar(saliency: np.ndarray, params=PAPER) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """The pixels of the bar the catalogue measured on one (H, W) map under ``params`` (a
    ``MethodParams``), and its two ends ((row, col) each, or None): for figures.

    Algorithm 1's bar is its final mask; the axis profile's, the pixels at or above its level
    within half the strip's width of the segment between the ends."""
    m = keep_near_centre(np.asarray(saliency, dtype=np.float64)[None], params.near_centre)[0]
    res = measure_bars(m[None], **readout_keywords(params))
    thr, ends = res["threshold"][0], res["ends"][0]
    if not np.isfinite(thr):
        return np.zeros(m.shape, bool), None
    with np.errstate(invalid="ignore"):
        mask = m > thr if params.readout == "algorithm1" else m >= thr
    if params.readout == "axis_profile":
        rows, cols = np.mgrid[: m.shape[0], : m.shape[1]]
        p = np.stack([rows, cols], -1).astype(np.float64)
        a, b = ends
        ab = b - a
        u = np.clip(((p - a) @ ab) / max(float(ab @ ab), 1e-12), 0, 1)
        mask &= np.linalg.norm(p - (a + u[..., None] * ab), axis=-1) <= max(params.profile_width / 2, 0.5)
    return mask, (ends[0], ends[1])


def measure_bars(maps: np.ndarray, *, tc: float = PAPER.tc, tl: int = PAPER.tl,
                 linearity: str = PAPER.linearity, readout: str = PAPER.readout,
                 profile_fraction: float = PAPER.profile_fraction,
                 profile_width: int = PAPER.profile_width, profile_symmetric: bool = PAPER.profile_symmetric,
                 near_centre: float = 0.0) -> dict[str, np.ndarray]:
    """The bar in each map of a stack (B, H, W) by ``readout``: "algorithm1" (``measure_bar``,
    Tc, Tl, linearity; give it maps through ``keep_near_centre``) or "axis_profile"
    (``measure_bar_profile``, fraction, width, symmetric, near_centre).  Returns
    arrays length_pix, threshold, n_pixels and ends (B, 2, 2): the bar's two ends as (row, col),
    NaN where no bar was measured.

    Raises
    ------
    ValueError
        If a map is not 2-D, the read-out or the linearity criterion is unknown.
    """
    if readout == "algorithm1":
        res = [measure_bar(m, tc=tc, tl=tl, linearity=linearity) for m in np.asarray(maps)]
    elif readout == "axis_profile":
        res = [measure_bar_profile(m, fraction=profile_fraction, width=profile_width, near_centre=near_centre,
                                   symmetric=profile_symmetric) for m in np.asarray(maps)]
    else:
        raise ValueError(f"Unknown bar read-out {readout!r}; use one of {READOUTS}")
    return {
        "length_pix": np.array([r.length_pix for r in res], dtype=np.float64),
        "threshold": np.array([r.threshold for r in res], dtype=np.float64),
        "n_pixels": np.array([r.n_pixels for r in res], dtype=np.int64),
        "ends": np.array([np.stack(r.ends) if r.ends is not None else np.full((2, 2), np.nan) for r in res],
                         dtype=np.float64).reshape(len(res), 2, 2),
    }


def zoom_weights(length_frame: np.ndarray, *, target: float, width: float) -> np.ndarray:
    """(K, B) weight of each zoom's measurement: a log-Gaussian in the bar's length as a fraction
    of the frame's side (``length_frame``), peaked at ``target``, of natural-log width ``width``;
    0 where no length was measured.

    The models read bars best at the sizes they learnt (docs/bar-lab-notebook.md, round O): a bar
    that fills the frame is measured short (the map's central spike sets its level) and one of a few
    pixels long, so each zoom counts by how near its bar's size in the frame is to ``target``."""
    f = np.asarray(length_frame, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        log_w = np.where(np.isfinite(f) & (f > 0), -0.5 * (np.log(f / target) / width) ** 2, -np.inf)
    top = log_w.max(axis=0, initial=-np.inf)
    with np.errstate(invalid="ignore"):  # relative to each galaxy's best zoom: no underflow to all zeros
        return np.where(np.isfinite(top), np.exp(log_w - np.where(np.isfinite(top), top, 0.0)), 0.0)


def combine_zoom_lengths(length_pix: np.ndarray, length_frame: np.ndarray, *, target: float,
                         width: float) -> tuple[np.ndarray, np.ndarray]:
    """One bar length per galaxy from its measurements at K zooms of the framing.

    ``length_pix`` (K, B): each zoom's length in the cutout's pixels; ``length_frame`` (K, B): the
    same as a fraction of that zoom's frame side.  Returns the weighted geometric mean of the
    lengths (``zoom_weights``, 1 for each galaxy's best zoom; NaN where no zoom measured one) and
    the index of the zoom that weighs most (-1 where none), whose map is the one to show.
    """
    w = zoom_weights(length_frame, target=target, width=width)
    total = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        logs = np.where(w > 0, np.log(np.where(w > 0, length_pix, 1.0)), 0.0)
        length = np.exp((w * logs).sum(axis=0) / total)
    length[~(total > 0)] = np.nan
    best = np.where(total > 0, np.argmax(w, axis=0), -1)
    return length, best
