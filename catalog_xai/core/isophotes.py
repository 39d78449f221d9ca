"""A classical bar length from ellipse fits of the image: the baseline beside the saliency length.

Isophotes are fitted with photutils (Jedrzejewski 1987 ellipse fitting, centre starting at
the cutout's centre) and the bar is read from the ellipticity and position-angle profiles as
Erwin (2005) and Michel-Dansac & Wozniak (2006) do: the bar's semi-major axis lies between
a_eps, where the ellipticity peaks (a lower limit), and L_bar = min(a_min, a_10), the first
radius beyond the peak where the ellipticity has fallen by ``eps_drop`` or the position
angle has turned by ``pa_turn_deg`` (an upper limit); the estimate is their mean, and the
full length twice that.  Arrays in, a length and a status out.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

#: The ellipticity peak must reach this to count as a bar (Erwin 2005: bars have eps >~ 0.2).
MIN_PEAK_ELLIPTICITY = 0.2
#: Images larger than this are block-averaged before fitting (speed; bars span >> 1 px).
MAX_FIT_SIZE = 256


@dataclass(frozen=True)
class IsophoteBar:
    length_pix: float  # full bar length in the image's pixels, NaN when none was found
    status: str  # "ok" or why there is no length
    peak_ellipticity: float
    reaches_edge: bool  # the upper limit was not reached inside the fitted radius


def isophote_bar_length(grey: np.ndarray, *, eps_drop: float = 0.1, pa_turn_deg: float = 10.0,
                        min_peak: float = MIN_PEAK_ELLIPTICITY) -> IsophoteBar:
    """Bar length (pixels) of a galaxy centred in a square greyscale image.

    Raises
    ------
    ValueError
        If ``grey`` is not a 2-D square array.
    """
    img = np.asarray(grey, dtype=np.float64)
    if img.ndim != 2 or img.shape[0] != img.shape[1]:
        raise ValueError(f"need a square 2-D image, got shape {img.shape}")
    fit = fit_isophotes(img)
    if fit is None:
        return IsophoteBar(float("nan"), "isophote fit failed", float("nan"), False)
    sma, eps, pa, factor = fit
    k = int(np.argmax(eps[:-1])) if len(eps) > 1 else 0  # the outermost isophote is no peak
    if eps[k] < min_peak:
        return IsophoteBar(float("nan"), f"no bar in the isophotes (peak ellipticity {eps[k]:.2f} < {min_peak})",
                           float(eps[k]), False)
    dpa = np.degrees(np.abs(np.angle(np.exp(2j * (pa - pa[k]))))) / 2  # PA difference modulo 180 deg
    beyond = np.arange(len(sma)) > k
    ends = np.flatnonzero(beyond & ((eps <= eps[k] - eps_drop) | (dpa > pa_turn_deg)))
    reaches_edge = ends.size == 0
    upper = sma[-1] if reaches_edge else sma[ends[0]]
    semi = 0.5 * (sma[k] + upper)
    return IsophoteBar(float(2 * semi * factor), "ok" if not reaches_edge else "bar reaches the edge of the fit",
                       float(eps[k]), reaches_edge)


def fit_isophotes(img: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int] | None:
    """Converged isophotes (sma, ellipticity, PA in radians) of a galaxy centred in a square image, and the
    block-averaging factor applied first (sma is in the averaged pixels); None when no fit converges."""
    from photutils.isophote import Ellipse, EllipseGeometry

    factor = int(np.ceil(img.shape[0] / MAX_FIT_SIZE))
    if factor > 1:
        s = img.shape[0] // factor * factor
        img = img[:s, :s].reshape(s // factor, factor, s // factor, factor).mean(axis=(1, 3))
    size = img.shape[0]
    c = (size - 1) / 2.0
    # The centre is fitted (holding it at the pixel grid's centre derails the fit on JPEG
    # cutouts); isophotes whose centre wanders off the galaxy are dropped below.
    geometry = EllipseGeometry(x0=c, y0=c, sma=max(3.0, size / 25), eps=0.2, pa=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            # maxgerr 1: smooth, noise-free bars have a flat radial gradient that the default (0.5)
            # rejects, which ends the fit at the bar's centre
            isolist = Ellipse(img, geometry=geometry).fit_image(maxsma=0.48 * size, step=0.1, maxgerr=1.0)
        except (ValueError, IndexError, RuntimeError, OverflowError, ZeroDivisionError):
            return None
    sma, eps, pa = (np.asarray(v, float) for v in (isolist.sma, isolist.eps, isolist.pa))
    off = np.hypot(np.asarray(isolist.x0, float) - c, np.asarray(isolist.y0, float) - c)
    converged = np.asarray(isolist.stop_code, float) <= 2  # 0 converged, 1 some samples flagged, 2 max iterations
    good = np.isfinite(eps) & np.isfinite(pa) & (sma > 1.5) & (off < 0.05 * size + 2) & converged
    if good.sum() < 5:
        return None
    sma, eps, pa = sma[good], eps[good], pa[good]
    return sma, eps, pa, factor
