import numpy as np
import pytest
from astropy import units as u
from astropy.cosmology import Planck18, WMAP9

from catalog_xai.core import units


def test_pixel_scale_prefers_explicit_then_gz2_rule():
    s = units.pixel_scale([0.262, np.nan, np.nan, -1.0], [10.0, 10.0, np.nan, np.nan])
    assert s[0] == pytest.approx(0.262)
    assert s[1] == pytest.approx(0.2)  # 0.02 x petroR90_r
    assert np.isnan(s[2]) and np.isnan(s[3])


def test_kpc_uses_angular_diameter_distance():
    arcsec, kpc, kpc_h = units.physical_lengths(np.array([10.0]), np.array([0.396]), np.array([0.05]), Planck18)
    expect = (3.96 * u.arcsec * Planck18.angular_diameter_distance(0.05)).to(u.kpc, u.dimensionless_angles()).value
    assert arcsec[0] == pytest.approx(3.96)
    assert kpc[0] == pytest.approx(expect, rel=1e-9)
    assert kpc_h[0] == pytest.approx(expect * Planck18.H0.value / 100)


def test_bad_redshift_gives_nan_and_cosmology_is_configurable():
    assert np.isnan(units.kpc_per_arcsec([np.nan, -0.1, 0.0])).all()
    assert units.kpc_per_arcsec([0.1], WMAP9)[0] != units.kpc_per_arcsec([0.1], Planck18)[0]
    with pytest.raises(ValueError, match="Planck18"):
        units.get_cosmology("Planck2099")


def test_map_to_original_pixels():
    assert units.map_to_original_pixels(10, original_size=424, crop_fraction=0.5, map_size=112) == pytest.approx(10 * 212 / 112)
