import numpy as np
import pytest

from catalog_xai.evaluation import compare_lengths


def test_compare_lengths_recovers_scale_and_correlation():
    rng = np.random.default_rng(0)
    ref = rng.uniform(10, 50, 200)
    meas = 0.7 * ref + rng.normal(0, 1, 200)
    meas[3] = np.nan
    res = compare_lengths(meas, ref)
    assert res["n"] == 199 and res["n_skipped"] == 1
    assert res["scale"] == pytest.approx(1 / 0.7, rel=0.02)
    assert res["pearson_rho"] > 0.98
    assert res["rmse_after_scale"] < res["rmse"]
    with pytest.raises(ValueError, match="at least 3"):
        compare_lengths([1.0], [1.0])
