"""Pixel scales, and bar lengths from original pixels to arcsec and kpc (method.md §5)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from .. import columns as C

if TYPE_CHECKING:
    from astropy.cosmology import Cosmology

DEFAULT_COSMOLOGY = "Planck18"


def get_cosmology(name: str = DEFAULT_COSMOLOGY) -> Cosmology:
    """An astropy cosmology by its registered name (Planck18, WMAP9, ...).

    Raises
    ------
    ValueError
        If astropy has no realization of that name (the known ones are listed).
    """
    from astropy import cosmology

    try:
        return getattr(cosmology.realizations, name)
    except AttributeError:
        known = sorted(cosmology.realizations.available)
        raise ValueError(f"Unknown cosmology {name!r}; astropy knows {known}") from None


def kpc_per_arcsec(redshift: ArrayLike, cosmology: Cosmology | None = None) -> np.ndarray:
    """Proper kpc per arcsec at ``redshift`` (NaN where the redshift is not usable)."""
    cosmo = get_cosmology() if cosmology is None else cosmology
    z = np.asarray(redshift, dtype=np.float64)
    good = np.isfinite(z) & (z > 0)
    out = np.full(z.shape, np.nan)
    if good.any():
        with np.errstate(all="ignore"):
            out[good] = cosmo.kpc_proper_per_arcmin(z[good]).value / 60.0
    return np.where(np.isfinite(out) & (out > 0), out, np.nan)


#: Coarsest usable pixel scale: a degree per pixel. Anything coarser is not a galaxy cutout
#: (and would overflow the float32 catalogue columns for absurd inputs such as 1e38).
MAX_PIXEL_SCALE_ARCSEC = 3600.0


def _usable_scale(scale: np.ndarray) -> np.ndarray:
    return np.isfinite(scale) & (scale > 0) & (scale <= MAX_PIXEL_SCALE_ARCSEC)


def pixel_scale(pixel_scale_arcsec: ArrayLike | None, petro_r90: ArrayLike | None) -> np.ndarray:
    """Arcsec per original pixel: the explicit scale, else the GZ2 0.02 x petroR90_r rule
    (NaN where neither gives a scale in (0, MAX_PIXEL_SCALE_ARCSEC])."""
    explicit = np.asarray(pixel_scale_arcsec, dtype=np.float64)
    from_petro = C.GZ2_PIXEL_SCALE_PER_PETRO * np.asarray(petro_r90, dtype=np.float64)
    out = np.where(_usable_scale(explicit), explicit, from_petro)
    return np.where(_usable_scale(out), out, np.nan)


def r90_pixels(petro_r90: ArrayLike | None, pixel_scale_arcsec: ArrayLike | None) -> np.ndarray:
    """petroR90_r in the cutout's own pixels (NaN where it or the pixel scale is unknown)."""
    petro = np.asarray(petro_r90, dtype=np.float64)
    return petro / pixel_scale(pixel_scale_arcsec, petro)


def physical_lengths(length_pix: ArrayLike, scale_arcsec: ArrayLike, redshift: ArrayLike,
                     cosmology: Cosmology | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(arcsec, kpc, h^-1 kpc) from original-pixel lengths; NaN where an input is missing."""
    cosmo = get_cosmology() if cosmology is None else cosmology
    arcsec = np.asarray(length_pix, dtype=np.float64) * scale_arcsec
    kpc = arcsec * kpc_per_arcsec(redshift, cosmo)
    kpc_h = kpc * (cosmo.H0.value / 100.0)
    return arcsec, kpc, kpc_h
