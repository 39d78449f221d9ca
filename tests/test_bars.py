"""The fast Algorithm 1 must agree exactly with the literal reference loop."""

import numpy as np
import pytest
from reference_bars import reference_bar

from catalog_xai.core.bars import measure_bar, measure_bars


def _bar_map(h, angle, length, width, rng, noise=0.05):
    yy, xx = np.mgrid[:h, :h].astype(float)
    c = (h - 1) / 2 + rng.uniform(-2, 2, 2)
    u = (xx - c[1]) * np.cos(angle) + (yy - c[0]) * np.sin(angle)
    v = -(xx - c[1]) * np.sin(angle) + (yy - c[0]) * np.cos(angle)
    m = np.exp(-((u / (length / 2)) ** 4) - (v / width) ** 2) + noise * rng.random((h, h))
    return (m - m.min()) / (m.max() - m.min())


def _maps():
    rng = np.random.default_rng(42)
    out = []
    for _ in range(30):  # random maps of varied contrast and size
        h = int(rng.integers(6, 48))
        out.append(rng.random((h, h)) ** rng.uniform(0.5, 8))
    for ang in np.linspace(0, np.pi, 19):  # synthetic bars every 10 deg, incl. along rows/columns
        out.append(_bar_map(48, ang, rng.uniform(10, 40), rng.uniform(1, 4), rng))
    flat = np.zeros((20, 20))
    single = np.zeros((20, 20))
    single[5, 7] = 1.0
    nan_map = rng.random((24, 24))
    nan_map[rng.random((24, 24)) < 0.2] = np.nan
    line = np.zeros((30, 30))
    line[15, 3:27] = np.linspace(0.6, 1, 24)
    plateau = np.full((16, 16), 0.7)
    out += [flat, single, nan_map, line, plateau, np.ones((1, 1)), np.full((8, 8), np.nan)]
    return out


@pytest.mark.parametrize("linearity", ["pearson", "eigen"])
def test_fast_equals_reference_on_many_maps(linearity):
    rng = np.random.default_rng(7)
    mismatches = []
    maps = _maps()
    for k, m in enumerate(maps):
        tc, tl = float(rng.choice([0.7, 0.75, 0.8, 0.85, 0.9])), int(rng.choice([1, 2, 10, 30, 50]))
        fast = measure_bar(m, tc=tc, tl=tl, linearity=linearity)
        ref = reference_bar(m, tc, tl, linearity)
        same_len = (np.isnan(ref[0]) and np.isnan(fast.length_pix)) or ref[0] == fast.length_pix
        if not (same_len and ref[1] == fast.threshold and ref[2] == fast.n_pixels):
            mismatches.append((k, fast, ref))
    assert not mismatches, mismatches[:3]
    assert len(maps) > 50


def test_paper_size_maps_agree():
    rng = np.random.default_rng(1)
    for ang in (0.0, 0.4, np.pi / 2):
        m = _bar_map(112, ang, 50, 3, rng)
        fast = measure_bar(m)
        assert (fast.length_pix, fast.threshold, fast.n_pixels) == reference_bar(m)


def test_straight_bar_length_is_recovered():
    rng = np.random.default_rng(0)
    m = _bar_map(64, np.pi / 4, 40, 2, rng, noise=0.0)
    res = measure_bar(m, tc=0.85, tl=5)
    assert 20 < res.length_pix < 45


def test_batched_matches_single_and_rejects_bad_shape():
    maps = np.random.default_rng(3).random((4, 20, 20))
    batch = measure_bars(maps, tl=5)
    assert [measure_bar(m, tl=5).length_pix for m in maps] == list(batch["length_pix"])
    with pytest.raises(ValueError, match="2-D"):
        measure_bar(np.zeros(5))
    with pytest.raises(ValueError, match="linearity"):
        measure_bar(np.zeros((4, 4)), linearity="spearman")


def test_grid_equals_single_measurements():
    from catalog_xai.core.bars import measure_bar_grid

    rng = np.random.default_rng(5)
    m = _bar_map(64, 0.7, 30, 2, rng)
    tcs, tls = [0.7, 0.85, 0.9], [10, 30, 50]
    for crit in ("pearson", "eigen"):
        grid = measure_bar_grid(m, tcs, tls, crit)
        for i, tc in enumerate(tcs):
            for j, tl in enumerate(tls):
                assert grid[i, j] == measure_bar(m, tc=tc, tl=tl, linearity=crit).length_pix


def test_near_centre_drops_a_bright_neighbour_and_keeps_a_bar_split_by_its_nucleus():
    """A neighbour above half the peak joins the mask (the paper's Algorithm 1 spans to it);
    ``keep_near_centre`` blanks it, keeps both halves of a bar with a dark centre, leaves NaN."""
    from catalog_xai.core.bars import keep_near_centre

    m = np.zeros((112, 112))
    m[54:58, 36:76] = 1.0  # a 40-px bar along the rows, centred
    m[54:58, 54:58] = 0.3  # its dark nucleus splits it in two above 0.5
    m[10:16, 95:101] = 0.9  # a bright neighbour near the corner
    m[0, 0] = np.nan
    paper = measure_bar(m, tc=0.1, tl=10, linearity="eigen").length_pix
    assert paper > 75  # the farthest pair reaches the neighbour
    kept = keep_near_centre(m[None], 0.18)[0]
    assert kept[10:16, 95:101].max() == 0 and np.isnan(kept[0, 0])
    np.testing.assert_array_equal(kept[54:58, 30:82], m[54:58, 30:82])  # both halves, untouched
    assert 38 <= measure_bar(kept, tc=0.1, tl=10, linearity="eigen").length_pix <= 41
    assert np.array_equal(keep_near_centre(m[None], 0.0), m[None], equal_nan=True)  # 0: the paper's, untouched
    # nothing close to the centre: the nearest piece is kept rather than blanking the map
    off = np.zeros((112, 112))
    off[5:9, 5:30] = 1.0
    assert keep_near_centre(off[None], 0.05)[0].max() == 1.0


def _segment_map(size, angle_deg, half_length, *, thickness=2.0, fade_to=1.0):
    """A bar through the centre at ``angle_deg`` (from the column axis towards rows): 1 at the centre,
    ``fade_to`` at its ends, Gaussian across it; 0 beyond its ends."""
    r, c = np.mgrid[:size, :size] - (size - 1) / 2
    a = np.radians(angle_deg)
    along, across = c * np.cos(a) + r * np.sin(a), -c * np.sin(a) + r * np.cos(a)
    level = 1 - (1 - fade_to) * np.abs(along) / half_length
    return np.where(np.abs(along) <= half_length, level, 0.0) * np.exp(-0.5 * (across / thickness) ** 2)


@pytest.mark.parametrize("angle", [0.0, 30.0, 90.0, 135.0])
def test_axis_profile_recovers_a_bar_at_any_angle(angle):
    from catalog_xai.core.bars import bar_axis, measure_bar_profile

    m = _segment_map(112, angle, 20.0)
    assert abs(((np.degrees(bar_axis(m)) - angle) + 90) % 180 - 90) < 1.0
    res = measure_bar_profile(m, fraction=0.35, width=8)
    assert abs(res.length_pix - 40) <= 2
    (r0, c0), (r1, c1) = res.ends
    assert abs(np.hypot(r1 - r0, c1 - c0) - res.length_pix) < 1e-9  # the length is the ends' distance
    assert abs((r0 + r1) / 2 - 55.5) <= 1 and abs((c0 + c1) / 2 - 55.5) <= 1  # centred, as the bar is


def test_axis_profile_ignores_speckle_off_the_axis_and_reaches_faded_ends():
    """Algorithm 1's farthest pair spans a bright blob beside the bar and stops at half the peak;
    the profile along the bar's axis does neither (why the read-out exists)."""
    from catalog_xai.core.bars import measure_bar_profile

    m = _segment_map(112, 0.0, 20.0)
    m[30:35, 80:85] = 0.8  # speckle 24 px off the axis, beyond the bar's end (and outside the axis estimate)
    assert measure_bar(m, tc=0.1, tl=10, linearity="eigen").length_pix > 45
    assert abs(measure_bar_profile(m, fraction=0.35, width=8).length_pix - 40) <= 2
    faded = _segment_map(112, 60.0, 20.0, fade_to=0.4)  # ends at 0.4 of the peak
    assert measure_bar(faded, tc=0.1, tl=10, linearity="eigen").length_pix < 36
    assert abs(measure_bar_profile(faded, fraction=0.35, width=8).length_pix - 40) <= 2


def test_axis_profile_edge_cases_and_the_batched_readout():
    from catalog_xai.core.bars import isolated_bar, measure_bar_profile
    from catalog_xai.core.params import MethodParams

    flat = measure_bar_profile(np.zeros((32, 32)))
    assert np.isnan(flat.length_pix) and flat.ends is None
    nan_map = _segment_map(64, 45.0, 10.0)
    nan_map[:5] = np.nan  # outside the data: weighs nothing, never an end
    assert abs(measure_bar_profile(nan_map).length_pix - 20) <= 2
    for bad in (dict(fraction=0.0), dict(fraction=1.5), dict(width=-1)):
        with pytest.raises(ValueError):
            measure_bar_profile(nan_map, **bad)
    with pytest.raises(ValueError, match="read-out"):
        measure_bars(nan_map[None], readout="moments")
    maps = np.stack([_segment_map(64, 45.0, 10.0), np.zeros((64, 64))])
    res = measure_bars(maps, readout="axis_profile", profile_fraction=0.35, profile_width=8)
    assert abs(res["length_pix"][0] - 20) <= 2 and np.isnan(res["length_pix"][1])
    assert res["ends"].shape == (2, 2, 2) and np.isnan(res["ends"][1]).all()
    mask, ends = isolated_bar(maps[0], MethodParams(readout="axis_profile"))
    assert ends is not None and mask.any()
    rr, cc = np.nonzero(mask)  # every pixel of the isolated bar lies on the bar's diagonal strip
    assert np.abs(rr - cc).max() <= 4 * np.sqrt(2)
    assert isolated_bar(maps[1], MethodParams(readout="axis_profile"))[1] is None


def test_ends_reach_edge_of_the_data():
    from catalog_xai.core.saliency import ends_reach_edge

    ends = np.array([[[30.0, 10.0], [30.0, 50.0]],  # inside a 64-px frame of full data
                     [[30.0, 0.5], [30.0, 60.0]],  # reaches the frame's edge
                     [[30.0, 12.0], [30.0, 50.0]],  # the data is the central 40 px: reaches it
                     [[np.nan, np.nan], [np.nan, np.nan]]])
    got = ends_reach_edge(ends, (64, 64), np.array([64.0, 64.0, 40.0, 64.0]))
    assert list(got) == [False, True, True, False]


def test_axis_profile_keeps_a_bar_split_by_its_nucleus_and_drops_a_neighbour_along_its_axis():
    """Real maps light a bar's two ends with a dark nucleus between them; a companion can lie on the
    bar's line.  With ``near_centre`` the runs near the centre count (both halves) and a far one does not."""
    from catalog_xai.core.bars import measure_bar_profile

    m = _segment_map(112, 0.0, 20.0)
    m[:, 50:62] *= 0.1  # a dark nucleus: the profile has two runs, 12 px apart
    m[54:58, 100:106] = 0.9  # a companion on the bar's axis, 45-50 px from the centre
    assert measure_bar_profile(m, fraction=0.3).length_pix > 60  # every run: out to the companion
    near = measure_bar_profile(m, fraction=0.3, near_centre=0.18)
    assert abs(near.length_pix - 40) <= 2
    assert near.ends[1][1] < 80  # the far end is the bar's, not the companion's


def test_symmetric_profile_ignores_an_arm_on_one_side_of_the_bar():
    """An arm or ring piece that leaves one end of the bar along its axis lengthens the bar read on
    one side; a bar is point-symmetric, so the symmetric profile (each sample the smaller of itself
    and its mirror through the centre) stops at the bar's ends and keeps them centred."""
    from catalog_xai.core.bars import keep_near_centre, measure_bar_profile, readout_keywords
    from catalog_xai.core.params import MethodParams

    m = _segment_map(112, 30.0, 18.0)
    r, c = np.mgrid[:112, :112] - 55.5
    a = np.radians(30.0)
    along, across = c * np.cos(a) + r * np.sin(a), -c * np.sin(a) + r * np.cos(a)
    m = np.maximum(m, np.where((along > 18) & (along < 38), 0.5, 0.0) * np.exp(-0.5 * (across / 2) ** 2))
    one_sided = measure_bar_profile(m, fraction=0.3, width=8, near_centre=0.18)
    assert one_sided.length_pix > 50  # runs on through the arm: 18 + 38
    sym = measure_bar_profile(m, fraction=0.3, width=8, near_centre=0.18, symmetric=True)
    assert abs(sym.length_pix - 36) <= 2
    (r0, c0), (r1, c1) = sym.ends
    assert abs((r0 + r1) / 2 - 55.5) <= 1 and abs((c0 + c1) / 2 - 55.5) <= 1
    # a symmetric bar reads the same either way; the option travels through MethodParams
    bar = _segment_map(112, 30.0, 18.0)
    assert measure_bar_profile(bar, fraction=0.3, symmetric=True).length_pix == pytest.approx(
        measure_bar_profile(bar, fraction=0.3).length_pix)
    p = MethodParams(readout="axis_profile", profile_fraction=0.3, profile_symmetric=True, near_centre=0.18)
    got = measure_bars(keep_near_centre(m[None], p.near_centre), **readout_keywords(p))["length_pix"][0]
    assert got == pytest.approx(sym.length_pix)


def test_combine_zoom_lengths_weighs_each_zoom_by_its_bar_size_in_the_frame():
    """The zoom whose bar fills ``target`` of the frame counts most; a zoom without a length counts
    not at all; a galaxy no zoom measured gets NaN; far-off sizes do not underflow to NaN."""
    from catalog_xai.core.bars import combine_zoom_lengths, zoom_weights

    # galaxy 0: zoom 0 sees the bar at 0.6 of the frame (too large), zoom 1 at 0.3 (the target)
    pix = np.array([[50.0, 40.0, 10.0], [60.0, np.nan, 12.0]])
    frac = np.array([[0.6, 0.3, 1e-4], [0.3, np.nan, 2e-4]])
    length, best = combine_zoom_lengths(pix, frac, target=0.3, width=0.05)
    assert length[0] == pytest.approx(60.0, rel=1e-6) and best[0] == 1  # the narrow weight picks zoom 1
    assert length[1] == pytest.approx(40.0, rel=1e-6) and best[1] == 0  # the NaN zoom is ignored
    assert np.isfinite(length[2]) and 10.0 <= length[2] <= 12.0  # both far off: still a length
    wide, _ = combine_zoom_lengths(pix, frac, target=0.3, width=10.0)
    assert wide[0] == pytest.approx(np.sqrt(50.0 * 60.0), rel=1e-2)  # a wide weight: the geometric mean
    w = zoom_weights(frac, target=0.3, width=0.35)
    assert w[1, 0] == 1.0 and w[0, 1] == 1.0 and w[1, 1] == 0.0
    nothing, none_best = combine_zoom_lengths(np.full((2, 1), np.nan), np.full((2, 1), np.nan), target=0.3, width=0.3)
    assert np.isnan(nothing[0]) and none_best[0] == -1
