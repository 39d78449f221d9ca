"""A release of a finished catalogue: one Parquet file, one FITS table, provenance, checksums."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pyarrow as pa

from .. import __version__, storage
from .. import columns as C
from .provenance import field_annotation, shard_metadata

#: Keys of the job manifest that become FITS header keywords (HIERARCH CXAI ...).
_PROVENANCE = ("catalog_xai_version", "input", "checkpoint", "ensemble", "ensemble_hash", "config_hash")


def _read_all(output_url: str, storage_options: dict | None = None) -> pa.Table:
    return storage.read_survey(output_url, storage_options=storage_options).replace_schema_metadata(None)


def _fits_column_cards(table: pa.Table) -> dict[str, tuple[str, str]]:
    """{column: (TUNIT, TCOMM)} for every column: the contract's unit and description, or those
    a pass-through column brought in its Arrow metadata."""
    out = {}
    for field in table.schema:
        unit, description = field_annotation(field)
        out[field.name] = (unit or "", description or "passed through unchanged from the input survey")
    return out


def _fits_header_cards(job: dict) -> list[tuple[str, object, str]]:
    cards = [("DATE", datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"), "release date (UTC)"),
             ("ORIGIN", "catalog_xai", "Bhambra+2022 SmoothGrad bar lengths")]
    for key in _PROVENANCE:
        if job.get(key) is not None:
            cards.append((f"HIERARCH CXAI {key.upper()}", str(job[key]), ""))
    for key, value in job.get("params", {}).items():
        cards.append((f"HIERARCH CXAI PARAM {key.upper()}",
                      value if isinstance(value, (bool, int, float)) else str(value), ""))
    return cards


def make_release(output_url: str, release_url: str, *, name: str = "catalog_xai_vac", fits: bool = True,
                 storage_options: dict | None = None) -> dict:
    """Merge a catalogue's shards into ``<name>.parquet`` and ``<name>.fits`` with provenance.

    Raises
    ------
    FileNotFoundError
        If the output holds no job manifest or no catalogue shards.
    """
    from astropy.io import fits as afits
    from astropy.table import Table

    fs_out, out_path = storage.filesystem(output_url, storage_options)
    with fs_out.open(storage.join(out_path, storage.JOB_MANIFEST), "r") as f:
        job = json.load(f)
    table = _read_all(output_url, storage_options)
    objids = table.column(C.OBJID).to_numpy()
    n_dup = int(len(objids) - len(np.unique(objids)))
    release = {**job, "release_date": datetime.now(timezone.utc).isoformat(), "release_code_version": __version__,
               "contract_version": C.CONTRACT_VERSION}
    table = table.replace_schema_metadata({**shard_metadata(table, release),
                                           b"catalog_xai.release": json.dumps(release).encode()})
    files = {}
    pq_url = storage.join(release_url, f"{name}.parquet")
    storage.write_table_atomic(table, pq_url, storage_options)
    files[f"{name}.parquet"] = pq_url
    if fits:
        df = table.to_pandas()
        for field in table.schema:
            if pa.types.is_boolean(field.type):
                # FITS logical columns have no null astropy writes (a masked bool comes back True):
                # a flag becomes a 16-bit integer, 1 / 0, with TNULL where it is null
                df[field.name] = pd.array([None if v is None else int(v) for v in table.column(field.name).to_pylist()],
                                          dtype="Int16")
        t = Table.from_pandas(df)
        cards = _fits_column_cards(table)
        for col in t.colnames:
            t[col].unit = cards[col][0] or None
        hdu = afits.table_to_hdu(t)
        hdu.name = "CATALOGUE"
        for i, col in enumerate(t.colnames, start=1):  # every column: its unit (blank: none) and description
            hdu.header[f"TUNIT{i}"] = cards[col][0]
            hdu.header[f"TCOMM{i}"] = cards[col][1]
        for key, value, comment in _fits_header_cards(job):
            hdu.header[key] = (value, comment)
        import io as _io

        buf = _io.BytesIO()
        afits.HDUList([afits.PrimaryHDU(), hdu]).writeto(buf, checksum=True)
        fits_url = storage.join(release_url, f"{name}.fits")
        fs, path = storage.filesystem(fits_url, storage_options)
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        with fs.open(path, "wb") as f:
            f.write(buf.getvalue())
        files[f"{name}.fits"] = fits_url
    sums = []
    for fname, url in files.items():
        fs, path = storage.filesystem(url, storage_options)
        with fs.open(path, "rb") as f:
            sums.append(f"{hashlib.sha256(f.read()).hexdigest()}  {fname}")
    fs, path = storage.filesystem(storage.join(release_url, "SHA256SUMS"), storage_options)
    with fs.open(path, "w") as f:
        f.write("\n".join(sums) + "\n")
    return {"rows": table.num_rows, "duplicated_objids": n_dup, "files": files, "sha256": sums}
