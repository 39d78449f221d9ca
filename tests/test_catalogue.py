"""classify_batch: the whole method on one batch, bad rows included."""

import io

import numpy as np
import pytest
from PIL import Image

from catalog_xai import columns as C
from catalog_xai.core.catalogue import classify_batch
from catalog_xai.core.params import MethodParams

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
                         pixel_scale_arcsec=[0.2, 0.2], params=MethodParams(n_samples=2, tl=5, ensemble_method="lengths", kpc_h=True))
    assert np.allclose(out[C.BAR_LENGTH_KPC_H] / out[C.BAR_LENGTH_KPC], 0.6766, rtol=1e-3)  # Planck18 h


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
    assert np.isnan(out["bar_yes_fraction"][1]) and np.isnan(out[C.BAR_LENGTH_PIX][1])
