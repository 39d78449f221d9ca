"""Disagreement ranking and control galaxies (seed 002 §3)."""

import numpy as np

from catalog_xai import columns as C
from catalog_xai.core import disagreement as D


def _agreeing(n, rng):
    """Per-question fractions where the model and the volunteers agree up to small scatter."""
    obs = np.full((n, C.N_OUTPUTS), np.nan)
    p = np.full((n, C.N_OUTPUTS), np.nan)
    for sl in C.question_slices().values():
        width = sl.stop - sl.start
        base = rng.dirichlet(np.ones(width) * 3, size=n)
        p[:, sl] = base
        obs[:, sl] = np.clip(base + rng.normal(0, 0.02, base.shape), 0, 1)
    return obs, p


def test_weights_follow_the_seed_balanced_answers():
    w = np.asarray(C.DISAGREEMENT_WEIGHTS)
    assert w[C.ANSWER_NAMES.index("smooth_or_featured_smooth")] == 5
    assert w[C.ANSWER_NAMES.index("odd_feature_ring")] == 1
    assert (w == 5).sum() == len({g for _, g in C.BALANCED_ANSWERS}) == 13


def test_score_is_the_maximum_weighted_cross_entropy_and_names_its_answer():
    obs = np.full((2, C.N_OUTPUTS), np.nan)
    pred = np.full((2, C.N_OUTPUTS), 0.5)
    j = C.ANSWER_NAMES.index("odd_feature_merger")
    obs[0, j], pred[0, j] = 1.0, 0.0  # clipped: -log(0.01)
    obs[1, j], pred[1, j] = 0.5, 0.5
    votes = np.full((2, C.N_OUTPUTS), 3)
    s = D.scores(obs, pred, votes)
    assert s["answer"][0] == j and np.isclose(s["score"][0], -np.log(D.CLIP))
    assert np.isclose(s["score"][1], np.log(2)) and s["votes"][0] == 3
    none = D.scores(np.full((1, C.N_OUTPUTS), np.nan), pred[:1], votes[:1])
    assert np.isnan(none["score"][0]) and none["answer"][0] == -1 and none["votes"][0] == 0


def test_planted_contradictions_rank_first():
    rng = np.random.default_rng(0)
    obs, pred = _agreeing(400, rng)
    planted = rng.choice(400, 10, replace=False)
    j = C.ANSWER_NAMES.index("bulge_shape_boxy")  # a deep, weight-1 answer
    pred[planted, j] = 0.02
    obs[planted, j] = 1.0  # the one or two volunteers who got there said the opposite
    s = D.scores(obs, pred, np.full(obs.shape, 2))
    top = np.argsort(-s["score"])[:10]
    assert set(top) == set(planted) and set(s["answer"][planted]) == {j}


def test_controls_find_the_planted_look_alikes_and_never_the_galaxy_itself():
    rng = np.random.default_rng(1)
    obs, pred = _agreeing(300, rng)
    g, j = 7, C.ANSWER_NAMES.index("bar_yes")
    obs[g, j], pred[g, j] = 0.9, 0.1
    # a galaxy whose volunteers say what the model says of g, and one the model sees as it sees g
    model_like, volunteer_like = 100, 200
    obs[model_like] = obs[g]
    obs[model_like, j] = pred[g, j]
    pred[volunteer_like] = pred[g]
    pred[volunteer_like, j] = obs[g, j]
    out = D.controls(obs, pred, np.array([g]), np.array([j]))
    assert out["model_like"][0] == model_like and out["volunteer_like"][0] == volunteer_like
    # blocks smaller than the catalogue give the same answer (the search is blockwise)
    i, _ = D.nearest_by_votes(obs[[g]], obs, np.ones((1, C.N_OUTPUTS)), exclude=np.array([g]), block=7)
    i_all, _ = D.nearest_by_votes(obs[[g]], obs, np.ones((1, C.N_OUTPUTS)), exclude=np.array([g]))
    assert i[0] == i_all[0] != g


def test_observed_fractions_from_counts():
    k = np.zeros((1, C.N_OUTPUTS))
    sl = C.question_slices()["smooth_or_featured"]
    k[0, sl] = [3, 1, 0]
    frac, n_q = D.observed_from_counts(k)
    np.testing.assert_allclose(frac[0, sl], [0.75, 0.25, 0])
    assert n_q[0, sl.start] == 4 and np.isnan(frac[0, C.question_slices()["bar"]]).all()
