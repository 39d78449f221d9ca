"""Property test: whatever a row holds, classify_batch returns one row for it, with a status."""

import io

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from catalog_xai import columns as C
from catalog_xai.core.catalogue import classify_batch
from catalog_xai.core.params import MethodParams


@st.composite
def images(draw):
    kind = draw(st.sampled_from(["random_bytes", "png", "jpeg", "truncated", "none"]))
    if kind == "random_bytes":
        return draw(st.binary(max_size=64))
    if kind == "none":
        return None
    w = draw(st.integers(1, 64))
    h = draw(st.one_of(st.just(w), st.integers(1, 64)))
    mode = draw(st.sampled_from(["RGB", "L", "RGBA", "LA", "P"] if kind == "png" else ["RGB", "L"]))
    arr = np.random.default_rng(draw(st.integers(0, 2**16))).integers(0, 255, (h, w, 4), dtype=np.uint8)
    im = Image.fromarray(arr, "RGBA").convert(mode)
    buf = io.BytesIO()
    im.save(buf, "PNG" if kind != "jpeg" else "JPEG")
    data = buf.getvalue()
    return data[: len(data) // 2] if kind == "truncated" else data


# Numbers as a catalogue may hold them: missing, any float, sensible, or text (a column stored as strings).
floats = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.floats(0.001, 2.0),
                   st.floats(0.001, 2.0).map(str), st.text(max_size=5))


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=st.lists(st.tuples(images(), floats, floats, floats, st.booleans()), min_size=1, max_size=4))
def test_every_row_comes_back_with_a_status(tiny_ensemble, rows):
    imgs, z, scale, petro, has_id = map(list, zip(*rows))
    ids = [i if keep else None for i, keep in enumerate(has_id)]
    out = classify_batch(tiny_ensemble, objid=ids, image=imgs, redshift=z, pixel_scale_arcsec=scale, petro_r90=petro,
                         params=MethodParams(n_samples=1, tl=2))
    assert list(out[C.OBJID]) == ids
    for col in C.result_column_names():
        assert len(out[col]) == len(rows)
    for i, status in enumerate(out[C.STATUS]):
        assert isinstance(status, str) and status
        values = [out[c][i] for c in (*C.FRACTION_COLUMNS, C.BAR_LENGTH_PIX, C.BAR_LENGTH_ARCSEC, C.BAR_LENGTH_KPC)]
        if status == "ok":
            assert np.all(np.isfinite(values)), (status, values)
        else:
            assert not np.all(np.isfinite(values)), status  # a non-ok status always explains a null
