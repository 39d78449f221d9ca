"""Reframing cutouts of any pixel scale to the models' GZ2 framing, reversibly in the units."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from catalog_xai.core import synth
from catalog_xai.core.catalogue import run_ensemble
from catalog_xai.core.params import MethodParams
from catalog_xai.core.preprocess import (
    FramingWarning,
    frame_image,
    gz2_crop_pixels,
    measure_r90_pixels,
    resolve_framing,
)


def _galaxy(seed=2):
    rng = np.random.default_rng(seed)
    t = synth.sample_truth(rng)
    t.update(n_stars=0, n_neighbours=0)
    return t, synth.render_galaxy(t, rng)


def _png(rgb):
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


def test_measured_r90_is_close_to_the_gz2_framing():
    sizes = [measure_r90_pixels(_galaxy(s)[1]) for s in range(12)]
    assert np.all(np.isfinite(sizes))
    assert 35 < np.median(sizes) < 70  # R90 is 50 px in a 424-px GZ2 cutout
    assert np.isnan(measure_r90_pixels(np.zeros((64, 64, 3), np.uint8)))


def test_fixed_scale_cutout_reframed_from_petrosian_matches_the_native_view():
    t, rgb = _galaxy()
    native = frame_image(rgb, input_size=64, crop_fraction=0.5)
    # The same sky on a survey grid: 2.5x coarser pixels, a 170-px cutout.
    small = np.asarray(Image.fromarray(rgb).resize((170, 170), Image.LANCZOS))
    r90_pix = 50 / 2.5
    crop = gz2_crop_pixels(r90_pix, 0.5)
    assert crop == 85
    reframed = frame_image(small, input_size=64, crop_fraction=0.5, crop_px=crop)
    corr = np.corrcoef(native.numpy().ravel(), reframed.numpy().ravel())[0, 1]
    assert corr > 0.97
    # A crop larger than the cutout is padded with the sky level of its border, not stretched.
    cut = small[60:110, 60:110]
    padded = frame_image(cut, input_size=64, crop_fraction=0.5, crop_px=crop)
    sky = np.median(np.concatenate([cut[0], cut[-1], cut[:, 0], cut[:, -1]]), axis=0) / 255
    assert padded.shape == (3, 64, 64)
    assert np.allclose(padded[:, 0, 0].numpy(), sky, atol=1 / 255)


def test_run_ensemble_lengths_come_back_in_original_pixels(tiny_ensemble):
    t, rgb = _galaxy()
    small = np.asarray(Image.fromarray(rgb).resize((170, 170), Image.LANCZOS))
    scale = t["pixel_scale_arcsec"] * 2.5
    params = MethodParams(n_samples=2, framing="petrosian")
    with pytest.warns(FramingWarning, match="'petrosian' was asked for.*trained on 'native'"):
        out = run_ensemble(tiny_ensemble, objid=[1, 2], image=[_png(small), _png(small)], params=params,
                           pixel_scale_arcsec=[scale, None], petro_r90=[t["petroR90_r"], None])
    spec = tiny_ensemble.spec
    assert np.isclose(out.map_to_original[0], gz2_crop_pixels(20, spec.crop_fraction) / spec.input_size, rtol=0.02)
    assert np.isfinite(out.map_to_original[1])  # no photometry: framed from the measured size
    native = run_ensemble(tiny_ensemble, objid=[1], image=[_png(small)], params=MethodParams(n_samples=2))
    assert np.isclose(native.map_to_original[0], round(170 * spec.crop_fraction) / spec.input_size)
    # The cutout fills the centred 170 / crop of a padded frame, and all of a native one.
    crop0 = out.map_to_original[0] * spec.input_size
    assert np.isclose(out.data_side[0], min(170 / crop0, 1.0) * spec.input_size)
    assert native.data_side[0] == spec.input_size
    cut = small[60:110, 60:110]  # a tight 50-px cutout of the same galaxy: padded to its 85-px frame
    with pytest.warns(FramingWarning):
        tight = run_ensemble(tiny_ensemble, objid=[3], image=[_png(cut)], params=params,
                             pixel_scale_arcsec=[scale], petro_r90=[t["petroR90_r"]])
    assert np.isclose(tight.data_side[0], 50 / (tight.map_to_original[0] * spec.input_size) * spec.input_size)
    assert tight.data_side[0] < 0.7 * spec.input_size


def test_absurd_petrosian_radius_is_a_row_status(tiny_ensemble):
    """petroR90_r = 1e4 arcsec would pad a 64-px cutout to a frame ~10^5 px across: refused per row."""
    _, rgb = _galaxy()
    small = np.asarray(Image.fromarray(rgb).resize((64, 64), Image.LANCZOS))
    with pytest.warns(FramingWarning):
        out = run_ensemble(tiny_ensemble, objid=[1, 2], image=[_png(small), _png(small)],
                           params=MethodParams(n_samples=2, framing="petrosian"),
                           pixel_scale_arcsec=[0.4, 0.4], petro_r90=[1e4, None])
    assert out.ok_rows == [1]  # the second falls back to a measured size
    assert "petroR90_r of 2.5e+04 px asks for a frame" in out.reasons[0][0]


def _sample_rows(n: int):
    """The first n real SDSS cutouts shipped with the package (tight 128-px cutouts, 0.2 arcsec/px)."""
    import pyarrow.parquet as pq

    shard = sorted((Path(__file__).resolve().parent.parent / "catalog_xai" / "data" / "sdss_sample")
                   .glob("*.parquet"))[0]
    t = pq.read_table(shard).slice(0, n)
    return t.column("objid").to_pylist(), t.column("image").to_pylist()


def test_default_ensemble_frames_real_tight_cutouts_as_it_was_trained():
    """sdss-finetuned was trained on tight SDSS cutouts reframed from a measured size: with no framing
    given, inference reads that from the manifest and frames the same way (issue: it used to default to native)."""
    import warnings

    from catalog_xai import storage
    from catalog_xai.core.preprocess import decode_image, framing_crop

    ens = storage.load_ensemble(storage.DEFAULT_CHECKPOINT)
    assert ens.framing == "measured"
    objid, image = _sample_rows(4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FramingWarning)  # the default must not need an override
        default = run_ensemble(ens, objid=objid, image=image, params=MethodParams(n_samples=2))
        explicit = run_ensemble(ens, objid=objid, image=image, params=MethodParams(n_samples=2, framing="measured"))
    assert default.framing == "measured" and default.ok_rows == [0, 1, 2, 3]
    spec = ens.spec
    for i, data in enumerate(image):  # the crop of every row is the measured-size GZ2 frame, not the native crop
        expected = framing_crop(decode_image(data), spec.crop_fraction, "measured")
        assert np.isclose(default.map_to_original[i] * spec.input_size, expected)
        assert expected > 128 * spec.crop_fraction + 2
    np.testing.assert_array_equal(default.fractions, explicit.fractions)
    with pytest.warns(FramingWarning, match="'native' was asked for.*trained on 'measured'"):
        native = run_ensemble(ens, objid=objid, image=image, params=MethodParams(n_samples=2, framing="native"))
    assert native.framing == "native" and not np.allclose(native.fractions, default.fractions)


def test_resolve_framing():
    assert resolve_framing("measured", None) == "measured"
    assert resolve_framing("measured", "measured") == "measured"
    with pytest.warns(FramingWarning, match="'petrosian' was asked for.*'native'"):
        assert resolve_framing("native", "petrosian") == "petrosian"
    with pytest.raises(ValueError, match="framing must be one of"):
        resolve_framing("native", "tight")
