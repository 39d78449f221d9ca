"""classify_batch: the whole method on one batch, bad rows included."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from catalog_xai import columns as C
from catalog_xai.core import bars, saliency
from catalog_xai.core.catalogue import EnsembleOutput, classify_batch, measure_and_convert
from catalog_xai.core.labels import conditional_from_cumulative
from catalog_xai.core.params import MethodParams
from catalog_xai.core.preprocess import FramedBatch

FAST = MethodParams(n_samples=4, tl=5)


def _png(size):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(size).integers(0, 255, (size, size, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def test_good_and_bad_rows_each_get_a_row(tiny_ensemble, synthetic_table):
    t = synthetic_table
    images = t.column(C.IMAGE).to_pylist()[:5]
    images[1] = b"\xff\xd8\xff\xe0 corrupt"  # undecodable
    images[3] = _png(256)  # another size: fine, lengths come back in its own pixels
    z = t.column(C.REDSHIFT).to_pylist()[:5]
    z[2] = None  # missing redshift
    petro = t.column(C.PETRO_R90).to_pylist()[:5]
    petro[4] = None  # no pixel scale at all
    out = classify_batch(tiny_ensemble, objid=[1, 2, 3, 4, 5], image=images, redshift=z, petro_r90=petro, params=FAST)
    assert list(out[C.OBJID]) == [1, 2, 3, 4, 5]
    assert set(C.result_column_names()) == set(out) - {C.OBJID}
    st = list(out[C.STATUS])
    assert st[0] == "ok" and st[3] == "ok"
    assert st[1] == "image could not be decoded"
    assert np.isnan(out["bar_yes_fraction"][1]) and np.isnan(out[C.BAR_LENGTH_PIX][1])
    assert "no redshift" in st[2] and np.isnan(out[C.BAR_LENGTH_KPC][2]) and np.isfinite(out[C.BAR_LENGTH_ARCSEC][2])
    assert "no pixel scale" in st[4] and np.isnan(out[C.BAR_LENGTH_ARCSEC][4]) and np.isfinite(out[C.BAR_LENGTH_PIX][4])
    for i in (0, 3):
        assert np.isfinite(out[C.BAR_LENGTH_KPC][i]) and 0 <= out["bar_yes_fraction"][i] <= 1
        # per question: yes + no = 1 (the cumulative pair sums to the share of volunteers asked instead)
        assert abs(out["bar_yes_fraction"][i] + out["bar_no_fraction"][i] - 1) < 1e-5
        assert 0 < out["bar_yes_cumulative_fraction"][i] < 1
    # the flags say the same as the statuses, as bits
    names = [C.flag_names(int(f)) for f in out[C.FLAGS]]
    assert names[1] == ["image_unusable"] and names[2] == ["no_redshift"] and names[4] == ["no_pixel_scale"]
    assert not set(names[0]) - {"bar_reaches_edge"} and not set(names[3]) - {"bar_reaches_edge"}
    # a 256-px cutout has 256/424 as many pixels per galaxy, so its map pixels are smaller
    assert out[C.BAR_LENGTH_PIX][3] <= 128 * np.sqrt(2) + 1e-3


def test_absurd_pixel_scale_is_a_status_not_an_overflow(tiny_ensemble, synthetic_table):
    """Found by the property test: petroR90_r = 1.7e38 gave an 'ok' row with an infinite kpc length."""
    img = synthetic_table.column(C.IMAGE).to_pylist()[0]
    out = classify_batch(tiny_ensemble, objid=[1, 2], image=[img, img], redshift=[1.0, 1.0],
                         pixel_scale_arcsec=[None, 1e30], petro_r90=[1.7142959607156614e38, None], params=FAST)
    for i in range(2):
        assert "pixel scale unusable" in out[C.STATUS][i]
        assert np.isnan(out[C.BAR_LENGTH_ARCSEC][i]) and np.isnan(out[C.BAR_LENGTH_KPC][i])
        assert np.isfinite(out[C.BAR_LENGTH_PIX][i])


def test_results_do_not_depend_on_batch_composition(tiny_ensemble, synthetic_table):
    t = synthetic_table
    kw = dict(redshift=t.column(C.REDSHIFT).to_pylist(), petro_r90=t.column(C.PETRO_R90).to_pylist(), params=FAST)
    ids, imgs = t.column(C.OBJID).to_pylist(), t.column(C.IMAGE).to_pylist()
    full = classify_batch(tiny_ensemble, objid=ids, image=imgs, **kw)
    kw = {k: (v[5:7] if isinstance(v, list) else v) for k, v in kw.items()}
    part = classify_batch(tiny_ensemble, objid=ids[5:7], image=imgs[5:7], **kw)
    np.testing.assert_allclose(full[C.BAR_LENGTH_PIX][5:7], part[C.BAR_LENGTH_PIX], rtol=1e-6)
    np.testing.assert_allclose(full["bar_yes_fraction"][5:7], part["bar_yes_fraction"], rtol=1e-5)


def test_lengths_method_and_kpc_h(tiny_ensemble, synthetic_table):
    t = synthetic_table
    out = classify_batch(tiny_ensemble, objid=[1, 2], image=t.column(C.IMAGE).to_pylist()[:2], redshift=[0.05, 0.05],
                         pixel_scale_arcsec=[0.2, 0.2],
                         params=MethodParams(n_samples=2, tl=5, ensemble_method="lengths", kpc_h=True))
    assert np.allclose(out[C.BAR_LENGTH_KPC_H] / out[C.BAR_LENGTH_KPC], 0.6766, rtol=1e-3)  # Planck18 h


def _bar_map(size, half_len, angle_deg, seed, width=1.2, floor=0.1):
    """A normalised map: a bright line through the centre at ``angle_deg`` on a weak noisy floor."""
    yy, xx = np.mgrid[0:size, 0:size] - (size - 1) / 2
    a = np.radians(angle_deg)
    along, across = xx * np.cos(a) + yy * np.sin(a), -xx * np.sin(a) + yy * np.cos(a)
    m = np.exp(-((across / width) ** 2) / 2) * np.clip(1 - (np.abs(along) / half_len) ** 4, 0, 1)
    m = m + floor * np.random.default_rng(seed).random((size, size))
    return ((m - m.min()) / (m.max() - m.min())).astype(np.float32)


def test_ensemble_method_maps_measures_the_mean_map_and_lengths_averages_the_members():
    """ensemble_method="maps" (paper iv) measures the bar on the members' mean map; "lengths" (paper v)
    averages each member's own measurement. The members disagree, so the two give different lengths."""
    size, tc, tl = 32, 0.85, 5
    bars_per_member = [((11, 0), (6, 60)), ((5, 90), (12, 100)), ((8, 30), (9, 170))]  # (half length, angle) per row
    maps = np.stack([np.stack([_bar_map(size, h, a, seed=10 * m + r) for r, (h, a) in enumerate(rows)])
                     for m, rows in enumerate(bars_per_member)])  # (3 members, 2 good rows, H, W)
    ok_rows = [0, 2]  # row 1 could not be decoded
    crop = np.array([64.0, np.nan, 64.0])  # 2 original pixels per map pixel; the cutout fills the frame
    framed = FramedBatch(torch.zeros(2, 3, size, size), ok_rows, [[], ["image could not be decoded"], []], crop,
                         crop.copy(), size)
    assert np.all(framed.data_side[ok_rows] >= size)  # unpadded: restrict_to_data leaves the maps as they are
    for m in maps:
        np.testing.assert_array_equal(saliency.restrict_to_data(m, framed.data_side[ok_rows]), m)
    fractions = np.full((3, C.N_OUTPUTS), 0.5, np.float32)
    inferred = EnsembleOutput(framed, fractions, np.zeros_like(fractions), conditional_from_cumulative(fractions),
                              np.zeros_like(fractions), maps, "native")
    out = {method: measure_and_convert(inferred, objid=[1, 2, 3], redshift=[0.05] * 3, pixel_scale_arcsec=[0.4] * 3,
                                       params=MethodParams(tc=tc, tl=tl, ensemble_method=method))
           for method in ("maps", "lengths")}

    per_member = [bars.measure_bars(m, tc=tc, tl=tl) for m in maps]
    of_lengths = 2.0 * np.mean([r["length_pix"] for r in per_member], axis=0)
    of_mean_map = bars.measure_bars(maps.mean(axis=0), tc=tc, tl=tl)
    np.testing.assert_allclose(out["lengths"][C.BAR_LENGTH_PIX][ok_rows], of_lengths, rtol=1e-6)
    np.testing.assert_allclose(out["lengths"][C.BAR_THRESHOLD][ok_rows],
                               np.mean([r["threshold"] for r in per_member], axis=0), rtol=1e-6)
    np.testing.assert_allclose(out["maps"][C.BAR_LENGTH_PIX][ok_rows], 2.0 * of_mean_map["length_pix"], rtol=1e-6)
    np.testing.assert_allclose(out["maps"][C.BAR_THRESHOLD][ok_rows], of_mean_map["threshold"], rtol=1e-6)
    assert np.all(np.abs(of_lengths - 2.0 * of_mean_map["length_pix"]) > 2)  # the two methods really differ here
    for o in out.values():
        assert list(o[C.STATUS]) == ["ok", "image could not be decoded", "ok"]
        assert np.isnan(o[C.BAR_LENGTH_PIX][1]) and np.isnan(o[C.BAR_THRESHOLD][1])
        np.testing.assert_allclose(o[C.BAR_LENGTH_ARCSEC][ok_rows], 0.4 * o[C.BAR_LENGTH_PIX][ok_rows], rtol=1e-6)


def test_invalid_parameters_are_named():
    with pytest.raises(ValueError, match="tc must be in"):
        MethodParams(tc=1.5)
    with pytest.raises(ValueError, match="linearity"):
        MethodParams(linearity="spearman")
    with pytest.raises(ValueError, match="Unknown method parameter"):
        MethodParams.from_dict({"n_smaples": 3})


def test_numbers_given_as_text_are_read_or_named(tiny_ensemble, synthetic_table):
    """A catalogue whose redshift or pixel scale came in as text: numbers are read, the rest named per row."""
    img = synthetic_table.column(C.IMAGE).to_pylist()[0]
    out = classify_batch(tiny_ensemble, objid=[1, 2, 3], image=[img] * 3, redshift=["0.05", "n/a", 0.05],
                         pixel_scale_arcsec=["0.396", "0.396", "about 0.4"], params=FAST)
    assert out[C.STATUS][0] == C.STATUS_OK and np.isfinite(out[C.BAR_LENGTH_KPC][0])
    assert out[C.STATUS][1] == "redshift 'n/a' unusable: kpc not computed"
    assert np.isfinite(out[C.BAR_LENGTH_ARCSEC][1]) and np.isnan(out[C.BAR_LENGTH_KPC][1])
    assert "pixel scale unusable (pixel_scale 'about 0.4'" in out[C.STATUS][2]
    assert np.isnan(out[C.BAR_LENGTH_ARCSEC][2]) and np.isfinite(out[C.BAR_LENGTH_PIX][2])


def test_row_without_objid_is_kept_with_a_status(tiny_ensemble, synthetic_table):
    img = synthetic_table.column(C.IMAGE).to_pylist()[0]
    out = classify_batch(tiny_ensemble, objid=[7, None], image=[img, img], redshift=[0.05, 0.05],
                         petro_r90=[10.0, 10.0], params=FAST)
    assert list(out[C.OBJID]) == [7, None]
    assert out[C.STATUS][0] == C.STATUS_OK
    assert out[C.STATUS][1] == "objid missing: row not processed"
    assert C.flag_names(int(out[C.FLAGS][1])) == ["objid_missing"]
    assert np.isnan(out["bar_yes_fraction"][1]) and np.isnan(out[C.BAR_LENGTH_PIX][1])


@pytest.mark.parametrize("readout", ["algorithm1", "axis_profile"])
def test_a_bar_that_reaches_the_edge_of_the_data_is_flagged(readout):
    """A bar inside the data is not flagged; one that runs into the edge of a padded (tight) cutout is, and
    its length stays a measurement (a lower limit), not a silent cap: with either read-out."""
    size = 48
    inside = _bar_map(size, 8, 30, seed=1)
    long_bar = _bar_map(size, 30, 20, seed=2)
    maps = np.stack([inside, long_bar])[None]  # one member, two rows
    crop = np.array([96.0, 96.0])
    cutout = np.array([96.0, 64.0])  # row 1: the cutout fills 2/3 of the frame (padded)
    framed = FramedBatch(torch.zeros(2, 3, size, size), [0, 1], [[], []], crop, cutout, size)
    fractions = np.full((2, C.N_OUTPUTS), 0.5, np.float32)
    inferred = EnsembleOutput(framed, fractions, np.zeros_like(fractions), conditional_from_cumulative(fractions),
                              np.zeros_like(fractions), maps, "native")
    out = measure_and_convert(inferred, objid=[1, 2], redshift=[0.05] * 2, pixel_scale_arcsec=[0.4] * 2,
                              params=MethodParams(tc=0.85, tl=5, linearity="eigen", readout=readout))
    assert list(out[C.BAR_REACHES_EDGE]) == [False, True]
    assert [C.flag_names(int(f)) for f in out[C.FLAGS]] == [[], ["bar_reaches_edge"]]
    assert np.all(np.isfinite(out[C.BAR_LENGTH_PIX]))
    assert list(out[C.ISOPHOTE_STATUS]) == ["not requested (--isophote)"] * 2


def test_isophote_baseline_and_contrastive_score_in_the_catalogue(tiny_ensemble, synthetic_table):
    rows = synthetic_table.slice(0, 3).to_pydict()
    kw = dict(objid=rows[C.OBJID], image=rows[C.IMAGE], redshift=rows[C.REDSHIFT], petro_r90=rows[C.PETRO_R90])
    base = classify_batch(tiny_ensemble, params=MethodParams(n_samples=4), **kw)
    iso = classify_batch(tiny_ensemble, params=MethodParams(n_samples=4, isophote=True), **kw)
    contrast = classify_batch(tiny_ensemble, params=MethodParams(n_samples=4, score="contrastive"), **kw)
    assert all(s != "not requested (--isophote)" for s in iso[C.ISOPHOTE_STATUS])
    ok = np.array([s == "ok" for s in iso[C.ISOPHOTE_STATUS]])
    assert np.array_equal((iso[C.FLAGS] & C.FLAG["isophote_failed"]) > 0, ~ok)
    assert not np.any(base[C.FLAGS] & C.FLAG["isophote_failed"])  # not requested is not a failure
    assert np.all(np.isfinite(iso[C.BAR_LENGTH_ISOPHOTE_PIX][ok])) and np.all(np.isnan(base[C.BAR_LENGTH_ISOPHOTE_PIX]))
    np.testing.assert_array_equal(iso[C.BAR_LENGTH_PIX], base[C.BAR_LENGTH_PIX])  # the saliency length is untouched
    # another score, other maps
    assert not np.allclose(contrast[C.BAR_THRESHOLD], base[C.BAR_THRESHOLD], equal_nan=True)


def test_fractions_from_one_ensemble_and_bar_lengths_from_another(tiny_ensemble, synthetic_table):
    """``bar_ensemble``: each ensemble sees the cutouts framed as it was trained (here another input
    size and crop); the fractions are the morphology ensemble's, the lengths exactly the bar ensemble's."""
    from catalog_xai.core.ensemble import Ensemble
    from catalog_xai.core.models import create_model, default_spec

    torch.manual_seed(1)
    bar_ens = Ensemble([create_model(default_spec("small_vgg", input_size=32, crop_fraction=0.3))], {"name": "b"})
    t = synthetic_table
    images = t.column(C.IMAGE).to_pylist()[:4]
    images[2] = b"not an image"
    kw = dict(objid=[1, 2, 3, 4], image=images, redshift=t.column(C.REDSHIFT).to_pylist()[:4],
              petro_r90=t.column(C.PETRO_R90).to_pylist()[:4], params=FAST)
    both = classify_batch(tiny_ensemble, bar_ensemble=bar_ens, **kw)
    morph, bars_only = classify_batch(tiny_ensemble, **kw), classify_batch(bar_ens, **kw)
    for name in ("bar_yes_fraction", "smooth_or_featured_smooth_cumulative_fraction", "bar_yes_fraction_std"):
        np.testing.assert_array_equal(both[name], morph[name])
    for name in (C.BAR_LENGTH_PIX, C.BAR_LENGTH_KPC, C.BAR_THRESHOLD):
        np.testing.assert_array_equal(both[name], bars_only[name])
    assert not np.allclose(morph[C.BAR_LENGTH_PIX][[0, 1, 3]], both[C.BAR_LENGTH_PIX][[0, 1, 3]])
    assert list(both[C.STATUS]) == list(morph[C.STATUS]) and both[C.STATUS][2] == "image could not be decoded"


def test_zoom_scan_combines_the_zooms_it_measured(tiny_ensemble, synthetic_table):
    """zoom_steps > 1: the bar is measured at each zoom of the framing (the field beyond a tight
    cutout mirrored), each zoom's length weighted by how near its size in the frame is to
    zoom_target; the row keeps the map and crop of the zoom that weighs most, and its length
    is the weighted geometric mean of the zooms' own, computed here from separate runs."""
    from dataclasses import replace

    from catalog_xai.core.catalogue import _frame, _measure_maps, _smoothgrad_within_memory, run_ensemble

    t = synthetic_table
    images = t.column(C.IMAGE).to_pylist()[:3]
    images[1] = b"not an image"
    kw = dict(objid=[1, 2, 3], image=images, pixel_scale_arcsec=[0.2] * 3)
    scan = replace(FAST, readout="axis_profile", zoom_steps=3, zoom_max=2.0, zoom_target=0.3,
                   zoom_width=0.4, precision="fp32", chunk_size=64)
    out = run_ensemble(tiny_ensemble, params=scan, **kw)
    assert out.ok_rows == [0, 2] and np.isnan(out.zoom_length_pix[1])
    lengths, fractions = [], []
    for z in (1.0, 1.5, 2.0):  # each zoom alone, as the scan frames it
        fb, _ = _frame(tiny_ensemble, kw["objid"], images, scan, None, None, zoom=z, padding="mirror")
        maps = _smoothgrad_within_memory(tiny_ensemble, fb.x, scan, "fp32", 64,
                                         saliency.galaxy_seeds([1, 3], scan.seed))
        length = _measure_maps(maps, fb.data_side[fb.ok_rows], scan)[0]
        lengths.append(length * fb.map_to_original[fb.ok_rows])
        fractions.append(length / fb.input_size)
    want, best = bars.combine_zoom_lengths(np.array(lengths), np.array(fractions), target=0.3, width=0.4)
    np.testing.assert_allclose(out.zoom_length_pix[[0, 2]], want, rtol=1e-4)
    base, _ = _frame(tiny_ensemble, kw["objid"], images, scan, None, None)
    for row, k in zip((0, 2), best):  # the crop shown is the best zoom's
        assert out.framed.crop_px[row] == round(base.crop_px[row] * (1.0, 1.5, 2.0)[k])
    cols = measure_and_convert(out, redshift=[0.05] * 3, params=scan, **kw)
    np.testing.assert_allclose(cols[C.BAR_LENGTH_PIX][[0, 2]], want, rtol=1e-4)
    assert cols[C.STATUS][0] == "ok" and cols[C.STATUS][1] == "image could not be decoded"


def test_zoom_scan_keeps_a_row_that_only_its_wider_zooms_cannot_frame(tiny_ensemble, synthetic_table):
    """A galaxy whose framing is already 6x its cutout cannot be zoomed out 2x (the frame would
    exceed 8x): its wider zooms are skipped, and the row keeps its zoom-1 length (mirrored field)."""
    from dataclasses import replace

    from catalog_xai.core.catalogue import _frame, _measure_maps, _smoothgrad_within_memory, run_ensemble
    from catalog_xai.core.preprocess import decode_image

    images = synthetic_table.column(C.IMAGE).to_pylist()[:2]
    size = decode_image(images[0]).shape[0]
    r90_pix = 6 * size / (tiny_ensemble.spec.crop_fraction * 8.48)
    kw = dict(objid=[1, 2], image=images, pixel_scale_arcsec=[0.2, 0.2], petro_r90=[r90_pix * 0.2, None])
    scan = replace(FAST, readout="axis_profile", framing="petrosian", zoom_steps=3, zoom_max=2.0,
                   precision="fp32", chunk_size=64)
    with pytest.warns(UserWarning):  # the tiny ensemble was trained natively framed
        out = run_ensemble(tiny_ensemble, params=scan, **kw)
        wide, _ = _frame(tiny_ensemble, [1, 2], images, scan, kw["pixel_scale_arcsec"], kw["petro_r90"], zoom=2.0)
        fb, _ = _frame(tiny_ensemble, [1, 2], images, scan, kw["pixel_scale_arcsec"], kw["petro_r90"],
                       padding="mirror")
    assert wide.ok_rows == [1] and "8x" in wide.reasons[0][0]  # zoom 2 cannot frame row 0 ...
    assert out.ok_rows == [0, 1] and out.framed.crop_px[0] == round(6 * size)  # ... which is kept, at zoom 1
    maps = _smoothgrad_within_memory(tiny_ensemble, fb.x, scan, "fp32", 64, saliency.galaxy_seeds([1, 2], scan.seed))
    zoom1 = _measure_maps(maps, fb.data_side, scan)[0][0] * fb.map_to_original[0]
    assert np.isfinite(zoom1) and out.zoom_length_pix[0] == pytest.approx(zoom1, rel=1e-5)
