import numpy as np

from catalog_xai import columns as C
from catalog_xai.core import synth
from catalog_xai.core.preprocess import decode_image


def test_votes_are_cumulative_down_the_tree():
    rng = np.random.default_rng(0)
    for _ in range(50):
        t = synth.sample_truth(rng)
        v = synth.simulate_votes(t, rng)
        assert v.shape == (37,)
        sl = C.question_slices()
        for q in C.GZ2_TREE:
            total = v[sl[q.name]].sum()
            parent = 1.0 if q.parent is None else v[C.KAGGLE_IDS.index(q.parent)]
            assert abs(total - parent) < 1e-5


def test_vote_counts_follow_the_tree_and_give_the_fractions():
    """Counts are non-negative integers; a root question is answered by every volunteer and any other by exactly
    those who gave the answer leading to it; the fractions are counts / volunteers (cumulative down the tree)."""
    rng = np.random.default_rng(1)
    sl = C.question_slices()
    partly_reached = 0
    for k in range(100):
        t = synth.sample_truth(rng)
        seed = int(rng.integers(2**32))
        given = 40 if k % 2 else None  # a given number of volunteers, or the drawn 30-59
        frac, counts = synth.simulate_votes(t, np.random.default_rng(seed), n_volunteers=given, return_counts=True)
        assert frac.shape == counts.shape == (37,)
        assert np.issubdtype(counts.dtype, np.integer) and counts.min() >= 0
        n = int(counts[sl["smooth_or_featured"]].sum())  # the first question: every volunteer
        assert (n == given) if given else (30 <= n < 60)
        for q in C.GZ2_TREE:
            reached = n if q.parent is None else counts[C.KAGGLE_IDS.index(q.parent)]
            assert counts[sl[q.name]].sum() == reached, q.name
        partly_reached += 0 < counts[sl["bar"]].sum() < n
        np.testing.assert_allclose(frac, counts / n, rtol=1e-6)
        np.testing.assert_array_equal(frac, synth.simulate_votes(t, np.random.default_rng(seed), n_volunteers=given))
    assert partly_reached > 10  # the tree checks are not all trivially 0 == 0 or n == n


def test_catalogue_is_reproducible_and_has_truth():
    a = synth.make_catalogue(6, seed=9, first_objid=50)
    b = synth.make_catalogue(3, seed=9, first_objid=53)
    assert a[C.IMAGE][3:] == b[C.IMAGE]
    assert list(a[C.OBJID]) == list(range(50, 56))
    img = decode_image(a[C.IMAGE][0])
    assert img.shape == (424, 424, 3)
    barred = a["true_has_bar"]
    assert np.all(a["true_bar_length_pix"][barred] > 0) and np.all(a["true_bar_length_pix"][~barred] == 0)
    assert a["vote_bar_yes_fraction"].shape == (6,)


def test_bars_are_brighter_along_their_angle():
    rng = np.random.default_rng(4)
    while True:
        t = synth.sample_truth(rng)
        if t["has_bar"] and t["bar_length_pix"] > 60:
            break
    t.update(n_stars=0, n_neighbours=0, has_arms=False, arm_amplitude=0.0)
    img = synth.render_galaxy(t, rng).astype(float).mean(2)
    c, r = 211.5, t["bar_length_pix"] * 0.35
    ang = np.radians(t["bar_angle_deg"])
    along = img[int(round(c + r * np.sin(ang))), int(round(c + r * np.cos(ang)))]
    across = img[int(round(c + r * np.cos(ang))), int(round(c - r * np.sin(ang)))]
    assert along > across
