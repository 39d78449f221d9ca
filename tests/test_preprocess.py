import io

import numpy as np
import pytest
import torch
from PIL import Image

from catalog_xai.core.preprocess import ImageError, decode_image, frame_image


def _encode(arr, fmt="PNG", mode=None):
    buf = io.BytesIO()
    Image.fromarray(arr, mode=mode).save(buf, format=fmt)
    return buf.getvalue()


def test_decodes_rgb_greyscale_and_rgba_to_rgb():
    rgb = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    assert np.array_equal(decode_image(_encode(rgb)), rgb)
    grey = decode_image(_encode(rgb[..., 0]))
    assert grey.shape == (32, 32, 3) and np.array_equal(grey[..., 0], grey[..., 2])
    rgba = np.dstack([rgb, np.full((32, 32), 128, np.uint8)])
    assert np.array_equal(decode_image(_encode(rgba)), rgb)
    assert decode_image(_encode(rgb, "JPEG")).shape == (32, 32, 3)


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"definitely not an image", "could not be decoded"),
        (None, "no image bytes"),
        (b"", "no image bytes"),
        (_encode(np.zeros((20, 30, 3), np.uint8)), "not square"),
        (_encode(np.zeros((8, 8, 3), np.uint8)), "too small"),
        (_encode(np.zeros((4100, 4100), np.uint8)), "too large"),  # refused from the header
    ],
)
def test_bad_images_raise_with_reason(data, reason):
    with pytest.raises(ImageError, match=reason):
        decode_image(data)


def test_truncated_jpeg_is_refused():
    data = _encode(np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8), "JPEG")
    with pytest.raises(ImageError, match="could not be decoded"):
        decode_image(data[: len(data) // 2])


def test_frame_crops_centre_and_resizes():
    img = np.zeros((100, 100, 3), np.uint8)
    img[25:75, 25:75] = 255  # the central half is white
    x = frame_image(img, input_size=20, crop_fraction=0.5)
    assert x.shape == (3, 20, 20)
    assert float(x.min()) == pytest.approx(1.0)
    full = frame_image(img, input_size=20, crop_fraction=1.0)
    assert float(full[:, 0, 0].max()) == 0.0 and float(full[:, 10, 10].min()) == pytest.approx(1.0)


def test_decompression_bomb_is_a_row_status(monkeypatch):
    """PIL refuses images past its pixel limit with an error of its own; it must not escape."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(ImageError, match="could not be decoded"):
        decode_image(_encode(np.zeros((32, 32, 3), np.uint8)))


def test_zoomed_frame_mirrors_the_field_beyond_the_cutout():
    """zoom > 1 widens the framing's crop; "mirror" fills the frame beyond the cutout with the cutout
    reflected at its edges (a galaxy that overfills it continues), "sky" with the border's median."""
    from catalog_xai.core.preprocess import frame_galaxy

    rgb = np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)
    x1, crop1 = frame_galaxy(rgb, input_size=40, crop_fraction=1.0)
    x2, crop2 = frame_galaxy(rgb, input_size=80, crop_fraction=1.0, zoom=2.0, padding="mirror")
    assert (crop1, crop2) == (40, 80)
    inner = x2[:, 20:60, 20:60]
    torch.testing.assert_close(inner, x1)  # the cutout itself, unchanged, at the centre
    torch.testing.assert_close(x2[:, 20:60, 19], x1[:, :, 0])  # the first padded column mirrors the edge
    torch.testing.assert_close(x2[:, 20:60, 0], x1[:, :, 19])
    sky = frame_image(rgb, input_size=80, crop_fraction=1.0, crop_px=80, padding="sky")
    assert torch.all(sky[:, :, 0] == sky[:, 0, 0][:, None])  # flat
    with pytest.raises(ValueError, match="padding must be one of"):
        frame_image(rgb, input_size=40, crop_fraction=1.0, padding="zeros")
    with pytest.raises(ImageError, match="zoom 9"):
        frame_galaxy(rgb, input_size=40, crop_fraction=1.0, zoom=9.0)
