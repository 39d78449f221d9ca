import numpy as np

from catalog_xai import tuning
from catalog_xai.bars import measure_bar


def test_correlation_grid_matches_numpy():
    rng = np.random.default_rng(0)
    ref = rng.uniform(10, 50, 40)
    L = ref[:, None, None] * rng.uniform(0.5, 1.5, (1, 2, 3)) + rng.normal(0, 2, (40, 2, 3))
    rho, rmse = tuning.correlation_grid(L, ref)
    assert rho.shape == (2, 3)
    assert np.isclose(rho[1, 2], np.corrcoef(L[:, 1, 2], ref)[0, 1])
    assert np.isclose(rmse[0, 0], np.sqrt(np.mean((L[:, 0, 0] - ref) ** 2)))


def test_decile_errors_give_each_galaxy_its_decile_mean():
    a = np.arange(100, dtype=float)
    b = a + np.where(a < 50, 1.0, 3.0)
    err = tuning.decile_errors(a, b)
    assert np.allclose(err[:40], 1.0) and np.allclose(err[-40:], 3.0)


def test_method_lengths_cover_members_average_map_and_average_length():
    rng = np.random.default_rng(1)
    maps = rng.random((3, 4, 24, 24))
    out = tuning.method_lengths(maps, ["a", "b", "c"], [0.8, 0.9], [5, 10])
    assert set(out) == {"member:a", "member:b", "member:c", "maps (iv)", "lengths (v)"}
    assert out["maps (iv)"].shape == (4, 2, 2)
    assert out["member:b"][2, 0, 1] == measure_bar(maps[1, 2], tc=0.8, tl=10).length_pix
    assert np.allclose(out["lengths (v)"], (out["member:a"] + out["member:b"] + out["member:c"]) / 3)
    xin = tuning.with_input(maps, rng.random((4, 24, 24)).astype(np.float32))
    assert xin.shape == maps.shape and np.isclose(xin.max(), 1.0)
