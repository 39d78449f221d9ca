"""GZ DECaLS PNG cutouts with the volunteer-vote CSVs.

The vote -> GZ2 label mapping is :func:`catalog_xai.core.labels._decals_labels`; this module finds the
CSVs and images and streams them.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from .. import columns as C
from .. import storage
from ..core.labels import DECALS_QUESTIONS, UNREACHED_POLICIES, _decals_labels, decals_pixel_scale_from_petro
from .writer import (
    DEFAULT_SHARD_SIZE,
    ImportInputError,
    ImportSummary,
    _check_columns,
    _check_limit,
    _Chunk,
    _csv_header,
    _float_col,
    _iter_csv,
    _passthrough,
    _passthrough_name,
    _require_file,
    _run,
    _scan_csvs,
    _url_of,
)


def import_decals(input_url: str, output_url: str, *, shard_size: int = DEFAULT_SHARD_SIZE,
                  votes_csv: list[str] | None = None, image_glob: str = "gz_decals_dr5_png*/J*/*.png",
                  id_column: str = "iauname", pixel_scale: float | None = None,
                  pixel_scale_from_petro: bool = False, unreached: str = "nan", limit: int | None = None,
                  overwrite: bool = False, storage_options: dict | None = None,
                  log: Callable[[str], None] | None = None) -> ImportSummary:
    """GZ DECaLS: PNG cutouts ``gz_decals_dr5_png_partN/JXXX/<iauname>.png`` found by
    ``image_glob`` under ``input_url`` + volunteer-vote CSVs (default: every
    ``gz_decals_volunteers_*.csv`` there, in name order; ``gz_decals_auto_posteriors.csv``
    holds CNN posteriors, not votes, and is not read unless named).

    Labels from the vote counts: smooth-or-featured -> Q1, disk-edge-on -> Q2, bar (strong +
    weak, or yes) -> Q3 yes / no -> Q3 no, has-spiral-arms -> Q4, made cumulative down the
    GZ2 tree; the other 29 are NaN (DECaLS asks them differently).  A question with zero
    votes is NaN (``unreached="zero"``: 0 where its parent is 0).  Vote columns pass through
    with a ``decals_`` prefix, plus ``decals_source_csv``; ``redshift`` is the CSV's.  The
    CSVs have no pixel-scale column: null unless ``pixel_scale`` or
    ``pixel_scale_from_petro`` (:func:`decals_pixel_scale_from_petro`).

    Raises
    ------
    ImportInputError
        If a CSV or a needed column is missing, an option is invalid, or the output already holds
        shards and ``overwrite`` is False.
    """
    so = storage_options
    _check_limit(limit)
    if unreached not in UNREACHED_POLICIES:
        raise ImportInputError(f"--unreached must be one of {UNREACHED_POLICIES}, got {unreached!r}")
    fs, root = storage.filesystem(input_url, so)
    if votes_csv:
        csv_urls = [_url_of(input_url, v) for v in votes_csv]
    else:
        csv_urls = [_url_of(input_url, posixpath.relpath(p, root))
                    for p in sorted(fs.glob(posixpath.join(root, "gz_decals_volunteers_*.csv*")))]
        if not csv_urls:
            raise ImportInputError(f"no gz_decals_volunteers_*.csv under {input_url}; pass --votes-csv")
    for u in csv_urls:
        _require_file(u, so, "DECaLS votes CSV")
        hdr = _csv_header(u, so)
        _check_columns(hdr, [id_column], u)
        if pixel_scale_from_petro:
            _check_columns(hdr, ["petro_th50", "petro_th90"], u)
    index: dict[str, str] = {}
    for p in sorted(fs.glob(posixpath.join(root, image_glob))):
        stem = posixpath.basename(p).rsplit(".", 1)[0]
        index.setdefault(stem, posixpath.relpath(p, root))
    if not index and log:
        log(f"  warning: no image matches {image_glob!r} under {input_url}")
    plan = _scan_csvs(csv_urls, so, string_columns=[id_column], limit=limit)
    consumed = {id_column, C.REDSHIFT}

    def rename(col: str) -> str:
        if any(col.startswith(q + "_") for q in DECALS_QUESTIONS):
            return "decals_" + col
        return _passthrough_name(col)

    def chunks():
        for url, df in _iter_csv(plan, so, chunk_rows=shard_size, limit=limit):
            n = len(df)
            ids = [str(v).strip() for v in df[id_column]]
            rel = [index.get(i) or posixpath.join(f"{i[:4]}", f"{i}.png") for i in ids]
            if pixel_scale_from_petro:
                scale = decals_pixel_scale_from_petro(_float_col(df, "petro_th50", n), _float_col(df, "petro_th90", n))
            else:
                scale = np.full(n, np.nan if pixel_scale is None else float(pixel_scale))
            extra = [("decals_source_csv", pa.array([posixpath.basename(url)] * n, pa.string()))]
            extra += _passthrough(plan, df, consumed, rename)
            yield _Chunk(ids=ids, image_rel=rel,
                         redshift=_float_col(df, C.REDSHIFT if C.REDSHIFT in df.columns else None, n),
                         pixel_scale=scale, labels=_decals_labels(df, unreached), extra=extra)

    opts = dict(votes_csv=[posixpath.basename(u) for u in csv_urls], image_glob=image_glob, id_column=id_column,
                pixel_scale=pixel_scale, pixel_scale_from_petro=pixel_scale_from_petro, unreached=unreached,
                limit=limit, shard_size=shard_size)
    return _run("decals", chunks(), image_root=input_url, output_url=output_url, shard_size=shard_size, so=so,
                overwrite=overwrite, options=opts, log=log)
