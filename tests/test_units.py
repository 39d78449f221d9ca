import numpy as np
import pytest
from astropy import units as u
from astropy.cosmology import WMAP9, Planck18

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


def _kpc_per_arcsec(cosmo, z):
    """Proper kpc per arcsec from the angular-diameter distance: D_A x (1 arcsec in radians)."""
    return cosmo.angular_diameter_distance(z).to_value(u.kpc) * np.pi / (180 * 3600)


def test_physical_lengths_against_independent_numbers():
    """arcsec = pixels x scale; kpc from D_A of the default cosmology (Planck18) at each z; kpc_h = kpc x h."""
    z = np.array([0.02, 0.05, 0.1, 1.0])
    pix = np.array([12.0, 10.0, 30.0, 5.0])
    scale = np.array([0.396, 0.262, 0.2, 1.5])
    arcsec, kpc, kpc_h = units.physical_lengths(pix, scale, z)  # no cosmology given: Planck18
    np.testing.assert_allclose(arcsec, [4.752, 2.62, 6.0, 7.5], rtol=1e-12)
    expect = np.array([4.752, 2.62, 6.0, 7.5]) * np.array([_kpc_per_arcsec(Planck18, zi) for zi in z])
    np.testing.assert_allclose(kpc, expect, rtol=1e-9)
    assert kpc[1] == pytest.approx(2.62 * 1.01088, rel=1e-4)  # Planck18: 1.011 kpc/arcsec at z = 0.05
    np.testing.assert_allclose(kpc_h, expect * 0.6766, rtol=1e-9)  # Planck18 h
    _, kpc_w, kpc_h_w = units.physical_lengths(pix, scale, z, WMAP9)
    expect_w = np.array([4.752, 2.62, 6.0, 7.5]) * np.array([_kpc_per_arcsec(WMAP9, zi) for zi in z])
    np.testing.assert_allclose(kpc_w, expect_w, rtol=1e-9)
    np.testing.assert_allclose(kpc_h_w, expect_w * WMAP9.h, rtol=1e-9)


def test_physical_lengths_are_nan_where_an_input_is_missing():
    """No scale: no arcsec and no kpc; no usable redshift (NaN, 0, negative): arcsec but no kpc."""
    pix = np.array([10.0, 10.0, 10.0, 10.0, 10.0, np.nan])
    scale = np.array([np.nan, 0.396, 0.396, 0.396, 0.396, 0.396])
    z = np.array([0.05, np.nan, 0.0, -0.1, 0.05, 0.05])
    arcsec, kpc, kpc_h = units.physical_lengths(pix, scale, z, Planck18)
    assert np.isnan(arcsec[0]) and np.isnan(kpc[0]) and np.isnan(kpc_h[0])
    np.testing.assert_allclose(arcsec[1:5], 3.96)
    assert np.isnan(kpc[1:4]).all() and np.isnan(kpc_h[1:4]).all()
    assert kpc[4] == pytest.approx(3.96 * _kpc_per_arcsec(Planck18, 0.05), rel=1e-9)
    assert np.isnan(arcsec[5]) and np.isnan(kpc[5]) and np.isnan(kpc_h[5])


def test_pixel_scale_explicit_wins_and_unusable_scales_are_nan():
    """The explicit scale wins over 0.02 x petroR90_r; an unusable one (<= 0, NaN, inf, coarser than
    MAX_PIXEL_SCALE_ARCSEC) falls back to the GZ2 rule, and an unusable result is NaN."""
    top = units.MAX_PIXEL_SCALE_ARCSEC
    explicit = [0.262, 0.0, -1.0, np.nan, np.inf, top, top * 1.001, np.nan, np.nan, np.nan, 0.0]
    petro = [10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, -5.0, 0.0, top / 0.02 * 1.001, np.nan]
    s = units.pixel_scale(explicit, petro)
    np.testing.assert_allclose(s[[0, 5]], [0.262, top])  # explicit wins, up to and including the coarsest
    np.testing.assert_allclose(s[1:5], 0.2)  # 0.02 x 10
    assert s[6] == pytest.approx(0.2)  # too coarse to be a cutout: the GZ2 rule instead
    assert np.isnan(s[7:]).all()  # no usable scale either way
    assert units.pixel_scale(None, 25.0) == pytest.approx(0.5)  # no explicit scale at all


def test_r90_pixels_in_the_cutouts_own_pixels():
    """petroR90_r / pixel scale: with an explicit scale; else GZ2 framing, where R90 is always 50 pixels."""
    r = units.r90_pixels([9.9, 10.0, 3.0, np.nan, 10.0, 4.0], [0.396, np.nan, np.nan, 0.396, -1.0, 5000.0])
    np.testing.assert_allclose(r[:3], [25.0, 50.0, 50.0])
    assert np.isnan(r[3])  # no petroR90_r
    np.testing.assert_allclose(r[4:], 50.0)  # unusable explicit scales fall back to the GZ2 rule
