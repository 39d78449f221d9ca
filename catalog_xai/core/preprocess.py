"""Decode cutouts and frame them for a model: bytes in, float tensors in [0, 1] out."""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from .params import FRAMINGS

MIN_IMAGE_SIZE = 16  # pixels; smaller cutouts cannot hold a measurable galaxy
MAX_IMAGE_SIZE = 4096  # pixels a side; larger is not a cutout, and a batch of them would exhaust an actor's memory


class ImageError(ValueError):
    """An image that cannot be used; the message is the row's status."""


def decode_image(data: bytes | None) -> np.ndarray:
    """Encoded JPEG/PNG bytes -> (S, S, 3) uint8 RGB.

    Greyscale is replicated to three channels and an alpha channel is dropped (both
    are common in survey cutouts and carry no ambiguity); anything not square, smaller
    than ``MIN_IMAGE_SIZE`` or larger than ``MAX_IMAGE_SIZE`` is refused.

    Raises
    ------
    ImageError
        If the bytes are missing or cannot be used, with a short reason (the row's status).
    """
    if data is None or len(data) == 0:
        raise ImageError("no image bytes")
    try:
        with Image.open(io.BytesIO(data)) as im:
            if max(im.size) > MAX_IMAGE_SIZE:  # checked from the header, before decoding
                raise ImageError(f"image too large ({im.size[0]}x{im.size[1]} px, at most {MAX_IMAGE_SIZE} a side)")
            im.load()
            if im.mode not in ("RGB", "L", "RGBA", "LA", "P", "I;16", "I", "F"):
                raise ImageError(f"unsupported image mode {im.mode}")
            if im.mode in ("I;16", "I", "F"):
                arr = np.asarray(im, dtype=np.float64)
                lo, hi = np.nanmin(arr), np.nanmax(arr)
                im = Image.fromarray(((arr - lo) / max(hi - lo, 1e-12) * 255).astype(np.uint8))
            rgb = np.array(im.convert("RGB"))  # a writable copy
    except ImageError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError):
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


#: Side of a GZ2 cutout in units of petroR90_r: 424 px at 0.02 * petroR90_r arcsec/px.
GZ2_FRAME_IN_R90 = 424 * 0.02


def gz2_crop_pixels(r90_pix: float, crop_fraction: float) -> int:
    """Side, in this image's pixels, of the region a GZ2-framed model sees for a galaxy of R90 = r90_pix."""
    return max(1, int(round(crop_fraction * GZ2_FRAME_IN_R90 * r90_pix)))


#: R90 / r50 of the *stretched* light of asinh-scaled colour cutouts, calibrated on the
#: built-in generator's GZ2-framed galaxies (median 1.9, log-scatter 0.3).
R90_PER_STRETCHED_R50 = 1.9


def measure_r90_pixels(rgb: np.ndarray) -> float:
    """An R90-equivalent size (pixels) measured on a colour cutout, for framing.

    Survey colour images are asinh-stretched, so the light they show is not flux; the
    half-light radius of that stretched light, from a curve of growth out to where the
    azimuthal profile sinks into the sky noise, times ``R90_PER_STRETCHED_R50``, stands
    in for petroR90_r.  The sky level and noise come from the image border.  Returns NaN
    for an image with no light above the sky.
    """
    img = rgb.astype(np.float64).sum(axis=2)
    h = img.shape[0]
    border = np.concatenate([img[:2].ravel(), img[-2:].ravel(), img[:, :2].ravel(), img[:, -2:].ravel()])
    sky = np.median(border)
    noise = 1.4826 * np.median(np.abs(border - sky))
    img = img - sky
    yy, xx = np.indices(img.shape)
    c = (h - 1) / 2
    r = np.hypot(yy - c, xx - c).astype(int).ravel()
    prof = np.bincount(r, weights=img.ravel())[: h // 2]
    npix = np.maximum(np.bincount(r)[: h // 2], 1)
    below = np.flatnonzero(prof / npix <= 2 * noise / np.sqrt(npix))
    edge = below[0] if below.size else len(prof)
    growth = np.cumsum(prof[:edge])
    if growth.size == 0 or growth[-1] <= 0:
        return float("nan")
    return float(R90_PER_STRETCHED_R50 * (np.searchsorted(growth, 0.5 * growth[-1]) + 1))




#: Largest frame, as a multiple of the cutout's side, that a cutout is padded out to. Beyond
#: it the galaxy would fill a few map pixels, and the padded image alone could exhaust memory
#: (an absurd petroR90_r of 1e4 arcsec asks for a frame 10^5 pixels across).
MAX_FRAME_PER_CUTOUT = 8


def framing_crop(rgb: np.ndarray, crop_fraction: float, framing: str, r90_pix: float = float("nan")) -> int:
    """Side in original pixels of the region a GZ2-framed model sees (see FRAMINGS).

    "petrosian" falls back to a size measured on the image where petroR90_r is missing.

    Raises
    ------
    ValueError
        If ``framing`` is not one of ``FRAMINGS``.
    ImageError
        When a size is needed and no light stands above the sky, or the frame would be too large.
    """
    if framing not in FRAMINGS:
        raise ValueError(f"framing must be one of {FRAMINGS}, got {framing!r}")
    if framing == "native":
        return crop_pixels(rgb.shape[0], crop_fraction)
    if framing == "petrosian" and np.isfinite(r90_pix) and r90_pix > 0:
        r90, source = r90_pix, "petroR90_r"
    else:
        r90, source = measure_r90_pixels(rgb), "measured R90"
        if not np.isfinite(r90):
            raise ImageError("no light above the sky: cannot frame the galaxy")
    crop = gz2_crop_pixels(r90, crop_fraction)
    if crop > MAX_FRAME_PER_CUTOUT * rgb.shape[0]:
        raise ImageError(f"{source} of {r90:.4g} px asks for a frame of {crop} px around a {rgb.shape[0]}-px cutout "
                         f"(at most {MAX_FRAME_PER_CUTOUT}x): cannot frame the galaxy")
    return crop


#: How a frame larger than the cutout is filled: "sky", the border's median (a flat sky); "mirror",
#: the cutout reflected at its edges, so that a galaxy that overfills it continues into the
#: padding instead of ending in a step the models read as structure (docs/bar-lab-notebook.md,
#: round O: shown smaller, generated frame-filling bars read 0.83 with "sky", 0.90 with "mirror",
#: 0.90 with the true field).  The saliency outside the cutout is never measured.
PADDINGS = ("sky", "mirror")


def frame_image(rgb: np.ndarray, *, input_size: int, crop_fraction: float, crop_px: int | None = None,
                padding: str = "sky") -> torch.Tensor:
    """(S, S, 3) uint8 -> (3, input_size, input_size) float32 in [0, 1].

    Takes the central ``crop_fraction`` of the cutout (or a central square of ``crop_px``
    pixels, filled by ``padding`` where it exceeds the cutout) and resamples it with an
    anti-aliased bilinear filter (area-preserving for downsampling).

    Raises
    ------
    ValueError
        If ``padding`` is not one of ``PADDINGS``.
    """
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    size = rgb.shape[0]
    crop = crop_pixels(size, crop_fraction) if crop_px is None else int(crop_px)
    if crop > size:  # pad so that the galaxy keeps its scale in the frame
        pad = (crop - size + 1) // 2
        if padding == "mirror":
            rgb = np.pad(rgb, ((pad, pad), (pad, pad), (0, 0)), mode="symmetric")
        else:
            border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
            padded = np.empty((size + 2 * pad, size + 2 * pad, 3), rgb.dtype)
            padded[:] = np.median(border, axis=0).astype(rgb.dtype)
            padded[pad : pad + size, pad : pad + size] = rgb
            rgb = padded
        size = rgb.shape[0]
    off = (size - crop) // 2
    x = torch.from_numpy(np.ascontiguousarray(rgb[off : off + crop, off : off + crop])).permute(2, 0, 1)
    x = x.float().div_(255.0)
    if crop != input_size:
        x = F.interpolate(x[None], size=(input_size, input_size), mode="bilinear", antialias=True,
                          align_corners=False)[0]
    return x.clamp_(0.0, 1.0)


def frame_galaxy(rgb: np.ndarray, *, input_size: int, crop_fraction: float, framing: str = "native",
                 r90_pix: float = float("nan"), zoom: float = 1.0, padding: str = "sky") -> tuple[torch.Tensor, int]:
    """Frame a decoded cutout for a model (see FRAMINGS), the framing's side times ``zoom``
    (> 1 shows the galaxy smaller), filled by ``padding`` beyond the cutout (see PADDINGS).

    Returns the (3, input_size, input_size) tensor and the side of the crop in original
    pixels, which converts map pixels back to the cutout's pixels.

    Raises
    ------
    ValueError
        If ``framing`` is not one of ``FRAMINGS`` or ``padding`` not one of ``PADDINGS``.
    ImageError
        When the galaxy cannot be framed (see ``framing_crop``).
    """
    crop = zoomed_crop(framing_crop(rgb, crop_fraction, framing, r90_pix), zoom, rgb.shape[0])
    x = frame_image(rgb, input_size=input_size, crop_fraction=crop_fraction, crop_px=crop, padding=padding)
    return x, crop


def zoomed_crop(crop: int, zoom: float, cutout_side: int) -> int:
    """The side of a framing's crop times ``zoom``.

    Raises
    ------
    ImageError
        When that frame would be more than ``MAX_FRAME_PER_CUTOUT`` times the cutout's side.
    """
    zoomed = max(1, int(round(crop * zoom)))
    if zoomed > MAX_FRAME_PER_CUTOUT * cutout_side:
        raise ImageError(f"a frame of {zoomed} px (zoom {zoom:g}) around a {cutout_side}-px cutout is more than "
                         f"{MAX_FRAME_PER_CUTOUT}x its side: cannot frame the galaxy")
    return zoomed


class FramingWarning(UserWarning):
    """A framing was asked for that differs from the one the ensemble was trained with."""


def resolve_framing(trained_with: str, requested: str | None) -> str:
    """The framing to use: the model's own unless the user asked for another (then with a warning).

    Raises
    ------
    ValueError
        For a framing that is not one of ``FRAMINGS``.
    """
    for what, value in (("the model's framing", trained_with), ("framing", requested)):
        if value is not None and value not in FRAMINGS:
            raise ValueError(f"{what} must be one of {FRAMINGS}, got {value!r}")
    if requested is None or requested == trained_with:
        return trained_with
    warnings.warn(f"framing {requested!r} was asked for, but the ensemble was trained on {trained_with!r}-framed "
                  f"cutouts (its manifest): using {requested!r}, expect worse morphologies", FramingWarning,
                  stacklevel=2)
    return requested


@dataclass
class FramedBatch:
    """A batch of cutouts decoded and framed for a model, and what became of each row."""

    x: torch.Tensor  # (len(ok_rows), 3, S, S) float32 in [0, 1]
    ok_rows: list[int]  # rows that decoded and framed
    reasons: list[list[str]]  # per row, why it did not (empty for ok rows)
    crop_px: np.ndarray  # (n,) side of the framed region in original pixels, NaN for bad rows
    cutout_px: np.ndarray  # (n,) side of the cutout itself, NaN for bad rows
    input_size: int  # S, the model's input side

    @property
    def map_to_original(self) -> np.ndarray:
        """(n,) original pixels per map pixel (NaN for bad rows)."""
        return self.crop_px / self.input_size

    @property
    def data_side(self) -> np.ndarray:
        """(n,) side in map pixels of the centred square the cutout fills (< S where it was padded)."""
        return np.minimum(self.cutout_px / self.crop_px, 1.0) * self.input_size


def frame_batch(images: Sequence[bytes | None], *, input_size: int, crop_fraction: float, framing: str,
                r90_pix: Sequence[float] | np.ndarray | None = None,
                skip: Sequence[str | None] | None = None, zoom: float = 1.0, padding: str = "sky") -> FramedBatch:
    """Decode and frame a batch of encoded cutouts for a model: the one loop inference, training,
    tuning and evaluation share.

    Parameters
    ----------
    images : encoded JPEG/PNG bytes (None where a row has none).
    input_size, crop_fraction : the model's (its ``ModelSpec``).
    framing : one of ``FRAMINGS`` (see ``resolve_framing`` for choosing it).
    r90_pix : per row, petroR90_r in this image's pixels (for "petrosian"; NaN where unknown).
    skip : per row, a reason not to process it (e.g. a missing objid), or None.
    zoom, padding : see ``frame_galaxy``.

    Returns
    -------
    FramedBatch; a row that cannot be used gets its reason, never an exception.
    """
    return frame_batch_zooms(images, input_size=input_size, crop_fraction=crop_fraction, framing=framing,
                             r90_pix=r90_pix, skip=skip, zooms=(zoom,), padding=padding)[0]


def frame_batch_zooms(images: Sequence[bytes | None], *, input_size: int, crop_fraction: float, framing: str,
                      zooms: Sequence[float], r90_pix: Sequence[float] | np.ndarray | None = None,
                      skip: Sequence[str | None] | None = None, padding: str = "sky") -> list[FramedBatch]:
    """``frame_batch`` at each of ``zooms``: each cutout is decoded and sized once, then framed at
    every zoom.  A row a zoom cannot frame (``zoomed_crop``) gets its reason in that zoom's batch only."""
    n, k_zooms = len(images), len(zooms)
    reasons: list[list[list[str]]] = [[[] for _ in range(n)] for _ in zooms]
    crop_px, cutout_px = np.full((k_zooms, n), np.nan), np.full((k_zooms, n), np.nan)
    tensors: list[list[torch.Tensor]] = [[] for _ in zooms]
    ok_rows: list[list[int]] = [[] for _ in zooms]
    for i, data in enumerate(images):
        if skip is not None and skip[i]:
            for r in reasons:
                r[i].append(skip[i])
            continue
        try:
            rgb = decode_image(data)
            base = framing_crop(rgb, crop_fraction, framing, float("nan") if r90_pix is None else float(r90_pix[i]))
        except ImageError as err:
            for r in reasons:
                r[i].append(str(err))
            continue
        for k, zoom in enumerate(zooms):
            try:
                crop = zoomed_crop(base, zoom, rgb.shape[0])
            except ImageError as err:
                reasons[k][i].append(str(err))
                continue
            tensors[k].append(frame_image(rgb, input_size=input_size, crop_fraction=crop_fraction, crop_px=crop,
                                          padding=padding))
            ok_rows[k].append(i)
            crop_px[k, i], cutout_px[k, i] = crop, rgb.shape[0]
    return [FramedBatch(torch.stack(t) if t else torch.zeros(0, 3, input_size, input_size), ok_rows[k], reasons[k],
                        crop_px[k], cutout_px[k], input_size) for k, t in enumerate(tensors)]


def greyscale(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, H, W) luminance-like mean, in [0, 1]."""
    return x.mean(dim=1)
