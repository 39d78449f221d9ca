import numpy as np
import pytest

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
    assert a["vote_bar_yes_cumulative_fraction"].shape == (6,)


def test_bars_are_brighter_along_their_angle():
    rng = np.random.default_rng(4)
    while True:
        t = synth.sample_truth(rng)
        if t["has_bar"] and t["bar_length_pix"] > 40:
            break
    t.update(n_stars=0, n_neighbours=0, has_arms=False, arm_amplitude=0.0)
    img = synth.render_galaxy(t, rng).astype(float).mean(2)
    c, r = 211.5, t["bar_length_pix"] * 0.35
    ang = np.radians(t["bar_angle_deg"])
    along = img[int(round(c + r * np.sin(ang))), int(round(c + r * np.cos(ang)))]
    across = img[int(round(c + r * np.cos(ang))), int(round(c - r * np.sin(ang)))]
    assert along > across


def _barred(rng, min_length=30.0):
    while True:
        t = synth.sample_truth(rng)
        if t["has_bar"] and t["bar_length_pix"] > min_length:
            return t


def test_nothing_but_the_bar_tells_a_bar_is_there():
    """Arms are as common in barred as in unbarred face-on disks, and where they start does not
    depend on the bar (an arm edge at the bar's end let networks read the length off the arms)."""
    rng = np.random.default_rng(3)
    truths = [synth.sample_truth(rng) for _ in range(3000)]
    face_on = [t for t in truths if t["is_disk"] and t["cos_i"] > 0.45]
    arms_barred = np.mean([t["has_arms"] for t in face_on if t["has_bar"]])
    arms_unbarred = np.mean([t["has_arms"] for t in face_on if not t["has_bar"]])
    assert abs(arms_barred - arms_unbarred) < 0.06
    t = _barred(np.random.default_rng(5))
    t.update(has_arms=True, arm_amplitude=0.8, n_stars=0, n_neighbours=0)
    short, long_ = dict(t, bar_a_pix=12.0), dict(t, bar_a_pix=28.0)
    img = {k: synth.render_galaxy(dict(v, has_bar=False), np.random.default_rng(0)).astype(float)
           for k, v in (("short", short), ("long", long_))}
    np.testing.assert_array_equal(img["short"], img["long"])  # the disk and arms ignore the bar's size


def test_bars_are_not_clipped():
    """Real SDSS cutouts have < 2 % of the pixels inside the bar radius at full scale: so must the generator."""
    rng = np.random.default_rng(8)
    clipped = []
    for _ in range(12):
        t = _barred(rng)
        img = synth.render_galaxy(t, rng).astype(float) / 255
        yy, xx = np.indices(img.shape[:2])
        inside = np.hypot(yy - 211.5, xx - 211.5) < t["bar_length_pix"] / 2
        clipped.append((img.max(2)[inside] >= 0.97).mean())
    assert np.median(clipped) < 0.02


def test_bar_mask_lies_on_the_bar():
    rng = np.random.default_rng(11)
    t = _barred(rng, 40.0)
    t.update(has_arms=False, arm_amplitude=0.0, n_stars=0, n_neighbours=0, bulge_to_total=0.0)
    img = synth.render_galaxy(t, rng).astype(float).mean(2)
    mask = synth.bar_mask(t, 424)
    # length of the mask along its long axis equals the truth's projected length
    pts = np.argwhere(mask > 0)
    d = np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1)).max() if len(pts) < 3000 else None
    if d is not None:
        assert abs(d - t["bar_length_pix"]) < 3
    ring = (mask == 0) & (synth.bar_mask(dict(t, bar_q=1.0), 424) > 0)  # same radius, off the bar
    assert img[mask > 0.5].mean() > img[ring].mean()
    assert not synth.bar_mask(dict(t, has_bar=False), 64).any()


def test_alt_style_renders_the_same_galaxy_differently():
    t = _barred(np.random.default_rng(2))
    a = synth.render_galaxy(t, np.random.default_rng(0), 128)
    b = synth.render_galaxy(t, np.random.default_rng(0), 128, style="alt")
    core = (slice(48, 80), slice(48, 80))
    assert a.shape == b.shape and np.abs(a[core].astype(int) - b[core]).mean() > 3
    sdss = synth.render_galaxy(t, np.random.default_rng(0), 128, pixel_scale_arcsec=0.2)
    assert sdss.shape == (128, 128, 3)


def test_stratified_truths_fill_every_length_and_angle_cell():
    truths = synth.stratified_barred_truths(2, seed=4, length_bins=3, angle_bins=4)
    assert len(truths) == 24 and all(t["has_bar"] for t, _ in truths)
    angles = np.array([t["bar_angle_deg"] for t, _ in truths])
    assert np.all(np.bincount((angles // 45).astype(int), minlength=4) == 6)
    again = synth.stratified_barred_truths(2, seed=4, length_bins=3, angle_bins=4)
    assert [t["bar_length_pix"] for t, _ in truths] == [t["bar_length_pix"] for t, _ in again]


def test_arms_can_start_at_the_bars_ends_without_betraying_a_bar():
    """``set_arm_start``: a barred disk's arms leave its bar's two ends (as in real barred spirals);
    an unbarred disk's start sharply at a radius drawn as bars are, so the start is no bar detector;
    with probability 0 nothing changes and no random number is drawn (older renders stay the same)."""
    rng = np.random.default_rng(11)
    t = _barred(rng)
    state = np.random.default_rng(2)
    untouched = synth.set_arm_start(dict(t), state, 0.0)
    assert untouched == t and state.random() == np.random.default_rng(2).random()

    truths = [synth.set_arm_start(synth.sample_truth(rng), rng, 1.0) for _ in range(3000)]
    armed = [t for t in truths if t["is_disk"] and t["cos_i"] > 0.45 and "arm_start_pix" in t]
    start = {b: np.array([t["arm_start_pix"] for t in armed if t["has_bar"] == b]) / synth.R90_PIX
             for b in (True, False)}
    assert min(len(start[True]), len(start[False])) > 200
    assert abs(np.median(start[True]) - np.median(start[False])) < 0.03
    assert all(t["arm_start_pix"] == t["bar_a_pix"] for t in armed if t["has_bar"])
    moved = synth.set_bar_semi_major(next(t for t in armed if t["has_bar"]), 41.0)  # e.g. by fill_frame
    assert moved["arm_start_pix"] == 41.0
    wind = np.log(41.0) / np.tan(np.radians(moved["arm_pitch_deg"]))
    assert moved["arm_phase"] == pytest.approx(moved["bar_phi"] - wind)

    # face on, the arm light just beyond the bar's end lies along the bar's line, not across it
    t = _barred(np.random.default_rng(5))
    t.update(cos_i=1.0, n_stars=0, n_neighbours=0, bulge_to_total=0.1)
    synth.set_bar_semi_major(t, 30.0)
    synth.set_arm_start(t, np.random.default_rng(0), 1.0)
    t["arm_pitch_deg"] = 20.0
    t["arm_phase"] = t["bar_phi"] - np.log(30.0) / np.tan(np.radians(20.0))

    def light(arm_phase_shift: float, azimuth: float) -> float:
        turned = dict(t, arm_phase=t["arm_phase"] + arm_phase_shift)
        img = synth.render_galaxy(turned, np.random.default_rng(0)).astype(float)
        u, v = 1.25 * 30 * np.cos(azimuth), 1.25 * 30 * np.sin(azimuth)  # disk plane = image plane rotated by pa
        x, y = u * np.cos(t["pa"]) - v * np.sin(t["pa"]), u * np.sin(t["pa"]) + v * np.cos(t["pa"])
        c = (424 - 1) / 2
        return img[int(round(c + y)) - 2:int(round(c + y)) + 3, int(round(c + x)) - 2:int(round(c + x)) + 3].sum()

    along, across = light(0.0, t["bar_phi"]), light(0.0, t["bar_phi"] + np.pi / 2)
    assert along > 1.1 * across
    # and the arms really are what differs: turned a quarter turn, the light there swaps
    assert light(np.pi / 2, t["bar_phi"]) < along


def test_a_bars_length_follows_its_semi_major_axis():
    t = _barred(np.random.default_rng(6))
    before = dict(t)
    synth.set_bar_semi_major(t, 2 * t["bar_a_pix"])
    for key in ("bar_length_pix", "bar_length_arcsec", "bar_length_kpc"):
        assert t[key] == pytest.approx(2 * before[key])
    assert t["bar_angle_deg"] == pytest.approx(before["bar_angle_deg"])


def test_frame_filling_truths_are_in_the_real_cutouts_regime():
    """``fill_frame`` (the lab's generated-long set): R90 50-80 px of a 128-px cutout, bars
    0.35-0.8 R90 in semi-major axis, and the stratification binned on those cutouts' lengths."""
    truths = synth.stratified_barred_truths(2, seed=4, length_bins=3, angle_bins=4, frame_filling=True)
    r90_px = np.array([t["petroR90_r"] / t["render_scale"] for t, _ in truths])
    assert np.all((r90_px >= 50) & (r90_px <= 80))
    a_r90 = np.array([t["bar_a_pix"] / synth.R90_PIX for t, _ in truths])
    assert np.all((a_r90 >= 0.35) & (a_r90 <= 0.8))
    length_px = np.array([t["bar_length_arcsec"] / t["render_scale"] for t, _ in truths])
    assert np.all(length_px <= 2 * 0.8 * 80 + 1e-9) and np.median(length_px) > 40
    thirds = np.array_split(np.sort(length_px), 3)
    assert thirds[0].max() <= thirds[1].min() and thirds[1].max() <= thirds[2].min()  # 8 per length bin
    t, rng = truths[0]
    assert synth.render_galaxy(t, rng, 128, pixel_scale_arcsec=t["render_scale"]).shape == (128, 128, 3)


def test_disk_texture_adds_clumps_and_keeps_the_light():
    """``set_disk_texture``: knots on the disk's scale of 0.05-0.15 h, about the same total light;
    with probability 0 nothing changes and no random number is drawn."""
    t = _barred(np.random.default_rng(12))
    t.update(cos_i=1.0, n_stars=0, n_neighbours=0, has_arms=False, bulge_to_total=0.0, bar_strength=0.0)
    state = np.random.default_rng(2)
    assert synth.set_disk_texture(dict(t), state, 0.0) == t and state.random() == np.random.default_rng(2).random()
    clumpy = synth.set_disk_texture(dict(t), np.random.default_rng(3), 1.0)
    assert 0.2 <= clumpy["disk_texture"] <= 0.6 and 0.05 <= clumpy["texture_scale_h"] <= 0.15
    clumpy["disk_texture"] = 0.6
    scale = synth.fill_frame(t, np.random.default_rng(4))  # a nearby galaxy: seeing does not smooth the knots away
    clumpy.update({k: t[k] for k in ("petroR90_r", "redshift", "pixel_scale_arcsec")})
    smooth_img, clumpy_img = (synth.render_galaxy(g, np.random.default_rng(0), 128, pixel_scale_arcsec=scale)
                              .astype(float).mean(axis=2) for g in (t, clumpy))
    from scipy import ndimage

    def small_scale(img):  # light minus its 5-px median, inside the disk
        return np.abs(img - ndimage.median_filter(img, 5))[24:104, 24:104].mean()

    assert small_scale(clumpy_img) > 1.5 * small_scale(smooth_img)
    assert abs(clumpy_img.sum() / smooth_img.sum() - 1) < 0.15


def test_a_nucleus_is_a_seeing_blurred_point_at_the_centre():
    t = _barred(np.random.default_rng(13))
    t.update(n_stars=0, n_neighbours=0)
    state = np.random.default_rng(2)
    assert synth.set_nucleus(dict(t), state, 0.0) == t and state.random() == np.random.default_rng(2).random()
    with_nucleus = synth.set_nucleus(dict(t), np.random.default_rng(3), 1.0)
    assert 0.005 <= with_nucleus["nucleus_fraction"] <= 0.04
    with_nucleus["nucleus_fraction"] = 0.04
    scale = synth.fill_frame(t, np.random.default_rng(4))
    with_nucleus.update({k: t[k] for k in ("petroR90_r", "redshift", "pixel_scale_arcsec", "bar_a_pix")})
    plain, nucleated = (synth.render_galaxy(g, np.random.default_rng(0), 128, pixel_scale_arcsec=scale)
                        .astype(float).mean(axis=2) for g in (t, with_nucleus))
    excess = nucleated / np.maximum(plain, 1)
    # both stretched to the same peak: the nucleus is the peak, so the light around it is fainter
    assert np.unravel_index(np.argmax(nucleated), nucleated.shape) in {(63, 63), (63, 64), (64, 63), (64, 64)}
    assert excess[63:65, 63:65].mean() > excess[20:40, 20:40].mean()
