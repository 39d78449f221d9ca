"""The general case: a folder of JPEG/PNG images, with or without a CSV of one row per galaxy."""

from __future__ import annotations

import posixpath
import re
import string
from collections.abc import Callable

import numpy as np
import pandas as pd

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
    _list_files,
    _passthrough,
    _passthrough_name,
    _require_file,
    _run,
    _scan_csvs,
    _strip_ext,
    _url_of,
)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")


def import_folder(input_url: str, output_url: str, *, shard_size: int = DEFAULT_SHARD_SIZE, csv: str | None = None,
                  id_column: str | None = None, image_pattern: str = "{id}.jpg", images: str | None = None,
                  redshift_column: str | None = None, pixel_scale_column: str | None = None,
                  pixel_scale: float | None = None, petro_column: str | None = None, limit: int | None = None,
                  overwrite: bool = False, storage_options: dict | None = None,
                  log: Callable[[str], None] | None = None) -> ImportSummary:
    """The general case: a folder of images (``images``, default ``input_url``) and a CSV
    (``csv``, relative to ``input_url`` or a URL) with one row per galaxy.  The image of a row
    is ``image_pattern.format(id=<id string>, **row)``, relative to the image folder.  The
    named redshift / pixel-scale / petroR90 columns fill the contract columns (or a constant
    ``pixel_scale``); every other CSV column passes through.  Without a CSV: one row per
    .jpg/.jpeg/.png file under the folder (recursively, path order), id = file name without
    extension, no redshift.

    Raises
    ------
    ImportInputError
        If the CSV, folder or a named column is missing, the options conflict or ``image_pattern``
        names an unknown field, an id is empty, or the output already holds shards and
        ``overwrite`` is False.
    """
    so = storage_options
    _check_limit(limit)
    if pixel_scale_column and pixel_scale is not None:
        raise ImportInputError("give --pixel-scale-column or --pixel-scale, not both")
    image_root = _url_of(input_url, images) if images else input_url
    const_scale = np.nan if pixel_scale is None else float(pixel_scale)
    opts = dict(csv=csv, id_column=id_column, image_pattern=image_pattern, images=images,
                redshift_column=redshift_column, pixel_scale_column=pixel_scale_column, pixel_scale=pixel_scale,
                petro_column=petro_column, limit=limit, shard_size=shard_size)

    if csv is None:
        if any((id_column, redshift_column, pixel_scale_column, petro_column)):
            raise ImportInputError("--id-column/--redshift-column/--pixel-scale-column/--petro-column need --csv")
        rels = _list_files(image_root, so, IMAGE_EXTENSIONS, limit)

        def chunks_no_csv():
            for start in range(0, len(rels), shard_size):
                batch = rels[start : start + shard_size]
                n = len(batch)
                yield _Chunk(ids=[_strip_ext(posixpath.basename(r), IMAGE_EXTENSIONS) for r in batch],
                             image_rel=batch, redshift=np.full(n, np.nan), pixel_scale=np.full(n, const_scale))

        return _run("folder", chunks_no_csv(), image_root=image_root, output_url=output_url, shard_size=shard_size,
                    so=so, overwrite=overwrite, options=opts, log=log)

    if not id_column:
        raise ImportInputError("--id-column is required with --csv")
    csv_url = _url_of(input_url, csv)
    _require_file(csv_url, so, "CSV")
    header = _csv_header(csv_url, so)
    named = [c for c in (id_column, redshift_column, pixel_scale_column, petro_column) if c]
    _check_columns(header, named, csv_url)
    fields = [f for _, f, _, _ in string.Formatter().parse(image_pattern) if f is not None]
    bad = [f for f in fields if re.split(r"[.\[]", f)[0] not in ({"id"} | set(header))]
    if bad or "" in fields:
        raise ImportInputError(f"--image-pattern {image_pattern!r}: field(s) {bad or ['{}']} are not 'id' or a "
                               f"column of {csv_url}")
    consumed = set(named)
    pattern_columns = {re.split(r"[.\[]", f)[0] for f in fields} - {"id"}
    plan = _scan_csvs([csv_url], so, string_columns=[id_column], limit=limit)

    def chunks():
        for _, df in _iter_csv(plan, so, chunk_rows=shard_size, limit=limit):
            n = len(df)
            ids = [None if pd.isna(v) else str(v).strip() for v in df[id_column]]
            if any(i is None for i in ids):
                raise ImportInputError(f"{csv_url}: empty value in id column {id_column!r}")
            used = df[[c for c in df.columns if c in pattern_columns]]
            rows = used.astype(object).where(used.notna(), None).to_dict("records")
            rel = []
            for i, row in zip(ids, rows):
                try:
                    rel.append(image_pattern.format(**{**row, "id": i}))
                except (KeyError, IndexError, ValueError, TypeError):
                    rel.append(None)
            scale = _float_col(df, pixel_scale_column, n) if pixel_scale_column else np.full(n, const_scale)
            yield _Chunk(ids=ids, image_rel=rel, redshift=_float_col(df, redshift_column, n), pixel_scale=scale,
                         petro=_float_col(df, petro_column, n) if petro_column else None,
                         extra=_passthrough(plan, df, consumed, _passthrough_name))

    return _run("folder", chunks(), image_root=image_root, output_url=output_url, shard_size=shard_size, so=so,
                overwrite=overwrite, options=opts, log=log)
