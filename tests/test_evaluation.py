import numpy as np
import pytest

from catalog_xai.core.evaluation import compare_lengths


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


def test_morphology_metrics():
    from catalog_xai import columns as C
    from catalog_xai.core.evaluation import conditional_bar_fraction, morphology_metrics

    rng = np.random.default_rng(1)
    labels = rng.uniform(0, 1, (60, 37))
    labels[:5, 30:] = np.nan  # questions nobody reached
    bar = C.KAGGLE_IDS.index("3.1")
    pred = labels.copy()
    pred[np.isnan(pred)] = 0.3
    perfect = morphology_metrics(pred, labels, bar_votes=np.full(60, 20))
    assert perfect["rmse_all"] == 0 and perfect["bar_spearman"] == pytest.approx(1.0) and perfect["bar_auc"] == 1.0
    noisy = np.clip(pred + rng.normal(0, 0.2, pred.shape), 0.01, 1)  # like sigmoid outputs
    m = morphology_metrics(noisy, labels, bar_votes=np.r_[np.full(30, 2), np.full(30, 20)])
    assert m["bar_n"] == 30 and 0 < m["rmse_all"] < 0.3 and set(m["rmse_per_question"]) == {q.name for q in C.GZ2_TREE}
    assert np.allclose(conditional_bar_fraction(labels), labels[:, bar] / (labels[:, bar] + labels[:, bar + 1]))
