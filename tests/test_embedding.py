"""Embeddings (seed 004): the five-class rules, t-SNE, outlier scores and look-alikes."""

import numpy as np
import pytest

from catalog_xai import columns as C
from catalog_xai.core import embedding as E


def _fractions(**answers):
    f = np.full((1, C.N_OUTPUTS), np.nan)
    for name, v in answers.items():
        f[0, C.ANSWER_NAMES.index(name)] = v
    return f


@pytest.mark.parametrize("answers, expected", [
    (dict(smooth_or_featured_smooth=0.8, smooth_or_featured_features_or_disk=0.2, how_rounded_completely=0.6), 0),
    (dict(smooth_or_featured_smooth=0.5, smooth_or_featured_features_or_disk=0.45, how_rounded_in_between=0.7), 1),
    (dict(smooth_or_featured_smooth=0.47, how_rounded_cigar_shaped=0.5), 2),
    (dict(smooth_or_featured_smooth=0.1, smooth_or_featured_features_or_disk=0.9, edge_on_yes=0.61), 3),
    (dict(smooth_or_featured_features_or_disk=0.43, edge_on_no=0.72, spiral_arms_yes=0.62), 4),
    (dict(smooth_or_featured_features_or_disk=0.9, edge_on_no=0.72, spiral_arms_yes=0.5), E.NO_CLASS),
    (dict(smooth_or_featured_smooth=0.46, how_rounded_completely=0.9), E.NO_CLASS),
    ({}, E.NO_CLASS),
])
def test_five_class_rules_of_seed_004_table_1(answers, expected):
    assert E.five_class(_fractions(**answers))[0] == expected


def test_when_smooth_and_featured_cuts_both_pass_the_larger_first_answer_wins():
    both = dict(smooth_or_featured_smooth=0.52, smooth_or_featured_features_or_disk=0.45, how_rounded_completely=0.8,
                edge_on_yes=0.9)
    assert E.five_class(_fractions(**both))[0] == 0
    both.update(smooth_or_featured_smooth=0.47, smooth_or_featured_features_or_disk=0.5)
    assert E.five_class(_fractions(**both))[0] == 3


def _clusters(n_per, rng, dims=20):
    centres = rng.normal(0, 6, (5, dims))
    labels = np.repeat(np.arange(5), n_per)
    x = centres[labels] + rng.normal(0, 1, (len(labels), dims))
    return x.astype(np.float32), labels


@pytest.mark.parametrize("backend", ["sklearn", "opentsne"])
def test_tsne_keeps_clusters_and_planted_flips_are_outliers(backend):
    pytest.importorskip("openTSNE") if backend == "opentsne" else None
    rng = np.random.default_rng(0)
    x, truth = _clusters(60, rng)
    labels = truth.copy()
    flipped = rng.choice(len(labels), 6, replace=False)
    labels[flipped] = (labels[flipped] + 1 + rng.integers(0, 4, 6)) % 5  # a wrong label
    xy, info = E.tsne(x, perplexity=20, seed=1, backend=backend)
    assert xy.shape == (300, 2) and info["backend"] == backend and info["seconds"] >= 0
    again, _ = E.tsne(x, perplexity=20, seed=1, backend=backend)
    np.testing.assert_allclose(xy, again, atol=1e-4)  # fixed seed: the same map
    score = E.outlier_scores(xy, labels, k=10)
    top = np.argsort(-score)[:6]
    assert set(top) == set(flipped)
    unlabelled = labels.copy()
    unlabelled[0] = E.NO_CLASS
    assert np.isnan(E.outlier_scores(xy, unlabelled)[0])


def test_members_count_alike_and_similar_finds_look_alikes():
    rng = np.random.default_rng(2)
    a, b = rng.normal(0, 1, (50, 4)), rng.normal(0, 100, (50, 64))
    z = E.combine_members([a, b])
    assert z.shape == (50, 68)
    assert np.isclose((z[:, :4] ** 2).sum() / 50, 1, rtol=1e-3) and np.isclose((z[:, 4:] ** 2).sum() / 50, 1, rtol=1e-3)
    x, labels = _clusters(30, rng)
    idx, dist = E.similar(x, 3, k=5)
    assert 3 not in idx and (labels[idx] == labels[3]).all() and np.all(np.diff(dist) >= 0)
    idx_vec, _ = E.similar(x, x[3], k=1)
    assert idx_vec[0] == 3
    assert E.reduce(x, 5).shape == (150, 5)


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="unknown t-SNE backend"):
        E.tsne(np.zeros((10, 3)), backend="umap")
