"""Decode cutouts and frame them for a model: bytes in, float tensors in [0, 1] out."""

from __future__ import annotations

import io

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

MIN_IMAGE_SIZE = 16  # pixels; smaller cutouts cannot hold a measurable galaxy


class ImageError(ValueError):
    """An image that cannot be used; the message is the row's status."""


def decode_image(data: bytes | None) -> np.ndarray:
    """Encoded JPEG/PNG bytes -> (S, S, 3) uint8 RGB.

    Greyscale is replicated to three channels and an alpha channel is dropped (both
    are common in survey cutouts and carry no ambiguity); anything not square or
    smaller than ``MIN_IMAGE_SIZE`` is refused.

    Raises
    ------
    ImageError : with a short reason, used as the row's status.
    """
    if data is None or len(data) == 0:
        raise ImageError("no image bytes")
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            if im.mode not in ("RGB", "L", "RGBA", "LA", "P", "I;16", "I", "F"):
                raise ImageError(f"unsupported image mode {im.mode}")
            if im.mode in ("I;16", "I", "F"):
                arr = np.asarray(im, dtype=np.float64)
                lo, hi = np.nanmin(arr), np.nanmax(arr)
                im = Image.fromarray(((arr - lo) / max(hi - lo, 1e-12) * 255).astype(np.uint8))
            rgb = np.asarray(im.convert("RGB"))
    except ImageError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise ImageError("image could not be decoded") from None
    h, w = rgb.shape[:2]
    if h != w:
        raise ImageError(f"image is not square ({w}x{h} px)")
    if h < MIN_IMAGE_SIZE:
        raise ImageError(f"image too small ({w}x{h} px, need >= {MIN_IMAGE_SIZE})")
    return rgb


def crop_pixels(original_size: int, crop_fraction: float) -> int:
    """Side of the central crop a model sees, in original pixels."""
    return max(1, int(round(original_size * crop_fraction)))


def frame_image(rgb: np.ndarray, *, input_size: int, crop_fraction: float) -> torch.Tensor:
    """(S, S, 3) uint8 -> (3, input_size, input_size) float32 in [0, 1].

    Takes the central ``crop_fraction`` of the cutout and resamples it with an
    anti-aliased bilinear filter (area-preserving for downsampling).
    """
    size = rgb.shape[0]
    crop = crop_pixels(size, crop_fraction)
    off = (size - crop) // 2
    x = torch.from_numpy(np.ascontiguousarray(rgb[off : off + crop, off : off + crop])).permute(2, 0, 1)
    x = x.float().div_(255.0)
    if crop != input_size:
        x = F.interpolate(x[None], size=(input_size, input_size), mode="bilinear", antialias=True, align_corners=False)[0]
    return x.clamp_(0.0, 1.0)


def greyscale(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, H, W) luminance-like mean, in [0, 1]."""
    return x.mean(dim=1)
