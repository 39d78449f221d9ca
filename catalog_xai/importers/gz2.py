"""Galaxy Zoo 2 images with the Hart et al. (2016) table.

The table gives per-question fractions; :func:`catalog_xai.core.labels.cumulative_from_conditional`
makes them cumulative.  This module only finds the files and columns and streams them.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa

from .. import columns as C
from .. import storage
from ..core.labels import UNREACHED_POLICIES, cumulative_from_conditional, parse_hart_columns
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
    _open_csv,
    _passthrough,
    _passthrough_name,
    _require_file,
    _run,
    _scan_csvs,
    _url_of,
)

GZ2_FRACTION_KINDS = {"debiased": "debiased", "raw": "fraction", "weighted": "weighted_fraction"}


def _exists(url: str, so: dict | None) -> bool:
    fs, path = storage.filesystem(url, so)
    return fs.exists(path)


def _default_file(input_url: str, so: dict | None, candidates: tuple[str, ...], glob: str | None = None) -> str | None:
    for name in candidates:
        if _exists(_url_of(input_url, name), so):
            return name
    if glob:
        fs, path = storage.filesystem(input_url, so)
        found = sorted(fs.glob(posixpath.join(path, glob)))
        if found:
            return posixpath.relpath(found[0], path)
    return None


def import_gz2(input_url: str, output_url: str, *, shard_size: int = DEFAULT_SHARD_SIZE,
               labels_csv: str | None = None, mapping_csv: str | None = None, images_dir: str = "images",
               image_column: str | None = None, id_column: str | None = None, fractions: str = "debiased",
               pixel_scale: float | None = None, redshift_column: str | None = None,
               petro_column: str | None = None, unreached: str = "nan", limit: int | None = None,
               overwrite: bool = False, storage_options: dict | None = None,
               log: Callable[[str], None] | None = None) -> ImportSummary:
    """Galaxy Zoo 2 images with the Hart et al. (2016) table (per-question fractions).

    Labels: the per-question fractions (``fractions``: ``debiased`` -> ``*_debiased``,
    ``raw`` -> ``*_fraction``, ``weighted`` -> ``*_weighted_fraction``) made cumulative by
    :func:`cumulative_from_conditional`; questions the table lacks -> NaN.  The ``*_count``
    columns become ``votes_<question>_<answer>_count`` (all 37, null where absent); every
    other column passes through.  Images: ``image_column`` (default ``image_filename`` if
    present, a path relative to ``input_url``), else ``<images_dir>/<asset_id>.jpg`` through
    ``mapping_csv`` (default ``gz2_filename_mapping.csv``: objid, sample, asset_id; joined on
    dr7objid and sample), else ``<images_dir>/<id>.jpg``.  Id: ``id_column`` (default
    ``dr7objid``, else the image column).

    Raises
    ------
    ImportInputError
        If the table, the mapping CSV, an id column or the vote columns are missing, an option is
        invalid, or the output already holds shards and ``overwrite`` is False.
    """
    so = storage_options
    _check_limit(limit)
    if fractions not in GZ2_FRACTION_KINDS:
        raise ImportInputError(f"--fractions must be one of {sorted(GZ2_FRACTION_KINDS)}, got {fractions!r}")
    if unreached not in UNREACHED_POLICIES:
        raise ImportInputError(f"--unreached must be one of {UNREACHED_POLICIES}, got {unreached!r}")
    labels_csv = labels_csv or _default_file(input_url, so, ("gz2_hart16.csv", "gz2_hart16.csv.gz",
                                                             "labels_gz2_hart16.csv"), "*hart16*.csv*")
    if labels_csv is None:
        raise ImportInputError(f"no Hart et al. 2016 table (gz2_hart16.csv, *hart16*.csv) under {input_url}; "
                               "pass --labels-csv")
    csv_url = _url_of(input_url, labels_csv)
    _require_file(csv_url, so, "GZ2 labels CSV")
    header = _csv_header(csv_url, so)
    hart = parse_hart_columns(header)
    if not hart:
        raise ImportInputError(f"{csv_url}: no Hart et al. 2016 vote columns (tNN_<task>_aNN_<answer>_<kind>)")
    kind = GZ2_FRACTION_KINDS[fractions]
    if image_column is None and "image_filename" in header:
        image_column = "image_filename"
    if id_column is None:
        id_column = "dr7objid" if "dr7objid" in header else image_column
    if id_column is None:
        raise ImportInputError(f"{csv_url}: no id column (dr7objid or image_filename); pass --id-column")
    redshift_column = redshift_column or (C.REDSHIFT if C.REDSHIFT in header else None)
    petro_column = petro_column or (C.PETRO_R90 if C.PETRO_R90 in header else None)
    _check_columns(header, [c for c in (id_column, image_column, redshift_column, petro_column) if c], csv_url)

    mapping = None
    if image_column is None:
        if mapping_csv is None:
            mapping_csv = _default_file(input_url, so, ("gz2_filename_mapping.csv",))
        if mapping_csv is not None:
            mapping = _load_gz2_mapping(_url_of(input_url, mapping_csv), so)

    frac_cols = [hart.get(k, {}).get(kind) for k in C.KAGGLE_IDS]
    count_cols = [hart.get(k, {}).get("count") for k in C.KAGGLE_IDS]
    slices = list(C.question_slices().values())
    # a question counts as present only when all its answers have the chosen column
    q_present = [all(frac_cols[j] for j in range(sl.start, sl.stop)) for sl in slices]
    if not any(q_present):
        raise ImportInputError(f"{csv_url}: no complete question with '*_{kind}' columns (--fractions {fractions})")
    consumed = {id_column, *(c for c in (image_column, redshift_column, petro_column) if c),
                *(c for c in count_cols if c)}
    string_cols = [c for c in (id_column, image_column) if c]
    plan = _scan_csvs([csv_url], so, string_columns=string_cols, limit=limit)

    def chunks():
        for _, df in _iter_csv(plan, so, chunk_rows=shard_size, limit=limit):
            n = len(df)
            ids = [str(v).strip() for v in df[id_column]]
            per_q = np.full((n, C.N_OUTPUTS), np.nan)
            votes = np.full((n, len(slices)), np.nan)
            counts = np.full((n, C.N_OUTPUTS), np.nan)
            for j, col in enumerate(count_cols):
                if col:
                    counts[:, j] = _float_col(df, col, n)
            for qi, sl in enumerate(slices):
                if not q_present[qi]:
                    continue
                for j in range(sl.start, sl.stop):
                    per_q[:, j] = _float_col(df, frac_cols[j], n)
                if all(count_cols[j] for j in range(sl.start, sl.stop)):
                    votes[:, qi] = counts[:, sl].sum(axis=1)
            labels = cumulative_from_conditional(per_q, votes, unreached=unreached)
            if image_column:
                rel = [None if pd.isna(v) else str(v).strip() for v in df[image_column]]
            elif mapping is not None:
                samples = df["sample"].astype(str).tolist() if "sample" in df.columns else [None] * n
                assets = [mapping.get((i, s), mapping.get((i, None))) for i, s in zip(ids, samples)]
                rel = [None if a is None else posixpath.join(images_dir, f"{a}.jpg") for a in assets]
            else:
                rel = [posixpath.join(images_dir, f"{i}.jpg") for i in ids]
            extra = [(name, pa.array(np.nan_to_num(counts[:, j]).astype(np.int64), pa.int64(),
                                     mask=~np.isfinite(counts[:, j])))
                     for j, name in enumerate(C.VOTE_COUNT_COLUMNS)]
            if mapping is not None:
                extra.append(("asset_id", pa.array([None if a is None else int(a) for a in assets], pa.int64())))
            extra += _passthrough(plan, df, consumed, _passthrough_name)
            yield _Chunk(ids=ids, image_rel=rel, redshift=_float_col(df, redshift_column, n),
                         pixel_scale=np.full(n, np.nan if pixel_scale is None else float(pixel_scale)),
                         petro=_float_col(df, petro_column, n) if petro_column else None,
                         labels=labels, extra=extra)

    opts = dict(labels_csv=labels_csv, mapping_csv=mapping_csv, images_dir=images_dir, image_column=image_column,
                id_column=id_column, fractions=fractions, pixel_scale=pixel_scale, unreached=unreached,
                redshift_column=redshift_column, petro_column=petro_column, limit=limit, shard_size=shard_size)
    return _run("gz2", chunks(), image_root=input_url, output_url=output_url, shard_size=shard_size, so=so,
                overwrite=overwrite, options=opts, log=log)


def _load_gz2_mapping(url: str, so: dict | None) -> dict:
    """(objid, sample) and (objid, None) -> asset_id from gz2_filename_mapping.csv."""
    _require_file(url, so, "GZ2 filename mapping CSV")
    header = _csv_header(url, so)
    _check_columns(header, ["objid", "asset_id"], url)
    cols = ["objid", "asset_id"] + (["sample"] if "sample" in header else [])
    with _open_csv(url, so) as f:
        df = pd.read_csv(f, usecols=cols, dtype={"objid": str, "asset_id": str, "sample": str})
    out: dict = {}
    samples = df["sample"] if "sample" in df.columns else [None] * len(df)
    for oid, asset, sample in zip(df["objid"].str.strip(), df["asset_id"].str.strip(), samples):
        out.setdefault((oid, None if pd.isna(sample) else str(sample)), asset)
        out.setdefault((oid, None), asset)
    return out
