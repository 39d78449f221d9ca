"""A folder of FITS cutouts: read with astropy, stretched to 8 bits and stored as PNG.

Shards carry encoded images (the pipeline decodes JPEG/PNG), so FITS are converted here, once, with the
pixel scale taken from the WCS.  astropy and Pillow are imported only when a FITS import runs.
"""

from __future__ import annotations

import gzip
import io
import posixpath
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from .writer import DEFAULT_SHARD_SIZE, ImportSummary, _check_limit, _Chunk, _ImageReader, _list_files, _run, _strip_ext

if TYPE_CHECKING:
    from astropy.io.fits import Header

FITS_EXTENSIONS = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fts.gz")


def asinh_to_uint8(data: np.ndarray, *, a: float = 0.1, percentile: float = 99.5) -> np.ndarray:
    """Float image (any shape) -> uint8: limits at the central ``percentile`` of all finite
    values (all channels together, so colours keep their balance), then the asinh stretch
    y = asinh(v / a) / asinh(1 / a) of astropy.visualization.AsinhStretch; NaN -> 0."""
    x = np.asarray(data, dtype=np.float64)
    finite = np.isfinite(x)
    out = np.zeros(x.shape, dtype=np.uint8)
    if not finite.any():
        return out
    cut = (100.0 - percentile) / 2.0
    lo, hi = np.percentile(x[finite], [cut, 100.0 - cut])
    if not hi > lo:
        return out
    v = np.clip((np.where(finite, x, lo) - lo) / (hi - lo), 0.0, 1.0)
    y = np.arcsinh(v / a) / np.arcsinh(1.0 / a)
    return np.round(y * 255.0).astype(np.uint8)


def fits_data_to_rgb(data: np.ndarray, *, flip: bool = True) -> np.ndarray:
    """(H, W) greyscale, (3, H, W) or (H, W, 3) -> (H, W, 3) uint8.  uint8 data are kept,
    anything else goes through :func:`asinh_to_uint8`.  ``flip``: FITS rows run bottom to
    top, so the rows are reversed to put the first row at the bottom of the picture.

    Raises
    ------
    ValueError
        If the data are not (H, W), (3, H, W) or (H, W, 3) (a length-1 axis aside).
    """
    d = np.asarray(data)
    if d.ndim == 3 and 1 in (d.shape[0], d.shape[-1]) and 3 not in (d.shape[0], d.shape[-1]):
        d = d.reshape(d.shape[1:] if d.shape[0] == 1 else d.shape[:-1])
    if d.ndim == 2:
        d = np.stack([d, d, d], axis=-1)
    elif d.ndim == 3 and d.shape[0] == 3:
        d = np.moveaxis(d, 0, -1)
    elif not (d.ndim == 3 and d.shape[-1] == 3):
        raise ValueError(f"unsupported FITS image shape {d.shape} (want (H,W), (3,H,W) or (H,W,3))")
    rgb = d if d.dtype == np.uint8 else asinh_to_uint8(d)
    if flip:
        rgb = rgb[::-1]
    return np.ascontiguousarray(rgb)


def encode_png(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb, mode="RGB").save(buf, format="PNG")
    return buf.getvalue()


def _fits_pixel_scale(header: Header) -> float:
    """Arcsec/pixel from the header's celestial WCS (mean of the two axes), else NaN."""
    from astropy.wcs import WCS, FITSFixedWarning
    from astropy.wcs.utils import proj_plane_pixel_scales

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            w = WCS(header)
        except Exception:  # noqa: BLE001 - a broken WCS means "no scale", not a failed import
            return float("nan")
        if not w.has_celestial:
            return float("nan")
        cel = w.celestial
        try:
            scales = proj_plane_pixel_scales(cel)
        except Exception:  # noqa: BLE001
            return float("nan")
    units = [str(u) for u in cel.wcs.cunit]
    factor = 3600.0 if all(u in ("deg", "") for u in units) else float("nan")
    s = float(np.mean(np.abs(scales))) * factor
    return s if np.isfinite(s) and s > 0 else float("nan")


def read_fits_cutout(blob: bytes, *, hdu: int | None = None, id_keyword: str = "OBJID",
                     redshift_keyword: str = "REDSHIFT", flip: bool = True) -> dict:
    """One FITS cutout (plain or gzipped bytes) -> {png, pixel_scale, id, redshift}.

    Raises
    ------
    ValueError
        If there is no 2-D or 3-D image HDU (or ``hdu`` holds no image), or its shape is unsupported.
    """
    from astropy.io import fits

    if blob[:2] == b"\x1f\x8b":
        blob = gzip.decompress(blob)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with fits.open(io.BytesIO(blob), memmap=False) as hdul:
            if hdu is None:
                chosen = next((h for h in hdul if h.is_image and h.data is not None and h.data.ndim in (2, 3)), None)
                if chosen is None:
                    raise ValueError("no 2-D or 3-D image HDU")
            else:
                chosen = hdul[hdu]
                if not chosen.is_image or chosen.data is None:
                    raise ValueError(f"HDU {hdu} holds no image")
            rgb = fits_data_to_rgb(chosen.data, flip=flip)
            headers = [chosen.header, hdul[0].header]
            oid = next((h[id_keyword] for h in headers if id_keyword and id_keyword in h), None)
            z = next((h[redshift_keyword] for h in headers if redshift_keyword and redshift_keyword in h), None)
            try:
                z = float(z) if z is not None else float("nan")
            except (TypeError, ValueError):
                z = float("nan")
            return {"png": encode_png(rgb), "pixel_scale": _fits_pixel_scale(chosen.header),
                    "id": None if oid is None else str(oid).strip(), "redshift": z}


def import_fits(input_url: str, output_url: str, *, shard_size: int = DEFAULT_SHARD_SIZE, hdu: int | None = None,
                id_keyword: str = "OBJID", redshift_keyword: str = "REDSHIFT", flip: bool = True,
                limit: int | None = None, overwrite: bool = False, storage_options: dict | None = None,
                log: Callable[[str], None] | None = None) -> ImportSummary:
    """A folder (searched recursively) of FITS cutouts (.fits, .fit, .fts, optionally .gz),
    one galaxy each, in path order.  Image: the ``hdu`` (default the first 2-D/3-D image
    HDU) as PNG (lossless; see :func:`fits_data_to_rgb`).  ``pixel_scale_arcsec`` from the
    header's celestial WCS (astropy proj_plane_pixel_scales, deg -> arcsec), else null.
    Id: header keyword ``id_keyword`` (image HDU, then primary), else the file name without
    extensions; redshift: header keyword ``redshift_keyword``, else null.  ``image_path`` is
    the FITS file; ``fits_error`` says why a row has no image (null when it has one).

    Raises
    ------
    ImportInputError
        If the input folder is missing, an option is invalid, or the output already holds shards
        and ``overwrite`` is False.
    """
    so = storage_options
    _check_limit(limit)
    rels = _list_files(input_url, so, FITS_EXTENSIONS, limit)
    reader = _ImageReader(input_url, so)

    def chunks():
        for start in range(0, len(rels), shard_size):
            batch = rels[start : start + shard_size]
            blobs = reader.read(batch)
            ids, pngs, scales, zs, errors = [], [], [], [], []
            for rel, blob in zip(batch, blobs):
                stem = _strip_ext(posixpath.basename(rel), FITS_EXTENSIONS)
                info, err = None, None
                if blob is None:
                    err = "file could not be read"
                else:
                    try:
                        info = read_fits_cutout(blob, hdu=hdu, id_keyword=id_keyword,
                                                redshift_keyword=redshift_keyword, flip=flip)
                    except Exception as e:  # noqa: BLE001 - a bad file is a row with no image, not a failed import
                        err = f"{type(e).__name__}: {e}"
                ids.append((info or {}).get("id") or stem)
                pngs.append(None if info is None else info["png"])
                scales.append(np.nan if info is None else info["pixel_scale"])
                zs.append(np.nan if info is None else info["redshift"])
                errors.append(err)
            yield _Chunk(ids=ids, image_rel=batch, redshift=np.array(zs, float), pixel_scale=np.array(scales, float),
                         images=pngs, extra=[("fits_error", pa.array(errors, pa.string()))])

    opts = dict(hdu=hdu, id_keyword=id_keyword, redshift_keyword=redshift_keyword, flip=flip, limit=limit,
                shard_size=shard_size)
    return _run("fits", chunks(), image_root=input_url, output_url=output_url, shard_size=shard_size, so=so,
                overwrite=overwrite, options=opts, log=log)
