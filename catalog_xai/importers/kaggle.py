"""Kaggle "Galaxy Zoo - The Galaxy Challenge": labels already cumulative, so no tree arithmetic."""

from __future__ import annotations

import posixpath
from collections.abc import Callable

import numpy as np
import pandas as pd

from .. import columns as C
from .writer import (
    DEFAULT_SHARD_SIZE,
    ImportInputError,
    ImportSummary,
    _check_columns,
    _check_limit,
    _Chunk,
    _csv_header,
    _iter_csv,
    _open_csv,
    _passthrough,
    _passthrough_name,
    _require_file,
    _run,
    _scan_csvs,
    _url_of,
)


def import_kaggle(input_url: str, output_url: str, *, shard_size: int = DEFAULT_SHARD_SIZE,
                  labels_csv: str = "training_solutions_rev1.csv", images_dir: str = "images_training_rev1",
                  extra_csv: str | None = None, limit: int | None = None, overwrite: bool = False,
                  storage_options: dict | None = None, log: Callable[[str], None] | None = None) -> ImportSummary:
    """Kaggle "Galaxy Zoo - The Galaxy Challenge": ``<images_dir>/<GalaxyID>.jpg`` (424x424
    GZ2 cutouts) + ``training_solutions_rev1.csv`` (GalaxyID, Class1.1 ... Class11.6, already
    cumulative; mapped to ``LABEL_COLUMNS`` by ``KAGGLE_IDS``).  The data has no redshift
    or size: both are null unless ``extra_csv`` (GalaxyID, redshift and/or petroR90_r)
    is given.  objid = GalaxyID.

    Raises
    ------
    ImportInputError
        If the labels CSV, ``extra_csv`` or a needed column is missing, ``limit`` is negative, or the
        output already holds shards and ``overwrite`` is False.
    """
    so = storage_options
    _check_limit(limit)
    csv_url = _url_of(input_url, labels_csv)
    _require_file(csv_url, so, "Kaggle labels CSV")
    class_cols = [f"Class{k}" for k in C.KAGGLE_IDS]
    header = _csv_header(csv_url, so)
    _check_columns(header, ["GalaxyID", *class_cols], csv_url)
    extra = _load_extra(_url_of(input_url, extra_csv), so) if extra_csv else None
    plan = _scan_csvs([csv_url], so, string_columns=["GalaxyID"], limit=limit)
    consumed = {"GalaxyID", *class_cols}

    def chunks():
        for _, df in _iter_csv(plan, so, chunk_rows=shard_size, limit=limit):
            ids = [str(v).strip() for v in df["GalaxyID"]]
            n = len(ids)
            z = np.full(n, np.nan)
            petro = None
            if extra is not None:
                z = np.array([extra["redshift"].get(i, np.nan) for i in ids]) if "redshift" in extra else z
                if "petroR90_r" in extra:
                    petro = np.array([extra["petroR90_r"].get(i, np.nan) for i in ids])
            labels = df[class_cols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            yield _Chunk(ids=ids, image_rel=[posixpath.join(images_dir, f"{i}.jpg") for i in ids],
                         redshift=z, pixel_scale=np.full(n, np.nan), petro=petro, labels=labels,
                         extra=_passthrough(plan, df, consumed, _passthrough_name))

    opts = dict(labels_csv=labels_csv, images_dir=images_dir, extra_csv=extra_csv, limit=limit, shard_size=shard_size)
    return _run("kaggle", chunks(), image_root=input_url, output_url=output_url, shard_size=shard_size, so=so,
                overwrite=overwrite, options=opts, log=log)


def _load_extra(url: str, so: dict | None) -> dict[str, dict[str, float]]:
    _require_file(url, so, "extra CSV")
    header = _csv_header(url, so)
    _check_columns(header, ["GalaxyID"], url)
    have = [c for c in (C.REDSHIFT, C.PETRO_R90) if c in header]
    if not have:
        raise ImportInputError(f"{url}: needs a '{C.REDSHIFT}' or '{C.PETRO_R90}' column (has: {header})")
    with _open_csv(url, so) as f:
        df = pd.read_csv(f, usecols=["GalaxyID", *have], dtype={"GalaxyID": str})
    ids = df["GalaxyID"].str.strip()
    return {c: dict(zip(ids, pd.to_numeric(df[c], errors="coerce").astype(float))) for c in have}
