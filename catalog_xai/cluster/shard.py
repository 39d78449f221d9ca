"""A survey shard through the method: stream its row groups, write its catalogue shard.

The thin I/O layer between Parquet on object storage and ``catalogue.classify_batch``;
no Ray here, so a shard can be processed (and tested) in any single process.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from .. import columns as C
from .. import storage
from ..core.catalogue import EnsembleOutput, isophote_lengths, measure_and_convert, run_ensemble
from ..core.ensemble import Ensemble
from ..core.params import MethodParams

if TYPE_CHECKING:
    from astropy.cosmology import Cosmology


@dataclass
class ShardResult:
    """What became of one shard: one row of a survey run's summary."""

    shard: str
    output: str = ""
    rows_in: int = -1  # -1: the shard could not be read
    rows_out: int = 0
    rows_not_ok: int = 0
    statuses: str = "{}"  # JSON {status: count} of the rows that are not ok
    seconds: float = 0.0
    error: str = ""  # empty when the shard was published
    actor_peak_rss_mb: float = 0.0
    node_id: str = ""

    @classmethod
    def failed(cls, shard: str, error: str) -> ShardResult:
        return cls(shard=shard, error=error)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict) -> ShardResult:
        return cls(**{f.name: row[f.name] for f in fields(cls)})


def _column(rb: pa.RecordBatch, name: str):
    return rb.column(name).to_pylist() if name in rb.schema.names else None


def _finish_record_batch(rb: pa.RecordBatch, inferred: EnsembleOutput, params: MethodParams,
                         cosmology: Cosmology | None) -> pa.Table:
    """Bar measurement, units and the Arrow table for one record batch (CPU only)."""
    iso = isophote_lengths(rb.column(C.IMAGE).to_pylist(), inferred.ok_rows) if params.isophote else None
    res = measure_and_convert(
        inferred,
        objid=rb.column(C.OBJID).to_pylist(),
        redshift=_column(rb, C.REDSHIFT),
        pixel_scale_arcsec=_column(rb, C.PIXEL_SCALE),
        petro_r90=_column(rb, C.PETRO_R90),
        params=params,
        cosmology=cosmology,
        isophote=iso,
    )
    schema = C.output_schema(rb.schema, kpc_h=params.kpc_h)
    arrays = []
    for field in schema:
        if field.name in res and field.name != C.OBJID:
            values = res[field.name]
            mask = None if field.type in (pa.string(), pa.bool_()) else ~np.isfinite(values)
            arrays.append(pa.array(values, type=field.type, mask=mask))
        else:  # objid and pass-through columns, unchanged
            arrays.append(rb.column(field.name))
    return pa.Table.from_arrays(arrays, schema=schema)


def _infer_record_batch(rb: pa.RecordBatch, ensemble: Ensemble, params: MethodParams) -> EnsembleOutput:
    return run_ensemble(ensemble, objid=rb.column(C.OBJID).to_pylist(), image=rb.column(C.IMAGE).to_pylist(),
                        params=params, pixel_scale_arcsec=_column(rb, C.PIXEL_SCALE),
                        petro_r90=_column(rb, C.PETRO_R90))


def process_shard(
    shard_url: str,
    *,
    input_url: str,
    output_url: str,
    ensemble: Ensemble,
    params: MethodParams,
    batch_size: int = 16,
    storage_options: dict | None = None,
    cosmology: Cosmology | None = None,
    job_hash: str | None = None,
    worker: dict | None = None,
) -> ShardResult:
    """Classify every row of one shard and publish its catalogue shard atomically.

    With ``job_hash`` a commit marker is written once the shard is in place, so that a
    resubmitted job skips it (see ``storage.claim_output``); ``worker`` (e.g. the Ray node id)
    is recorded in it, to trace a shard to the machine that made it.

    Raises
    ------
    ShardError
        If the shard is not readable Parquet, misses the input contract, or would be written
        outside the output prefix.
    RetriesExhausted
        If the storage kept failing transiently.
    """
    t0 = time.perf_counter()
    out_url = storage.output_path(shard_url, input_url, output_url)
    pf = storage.open_shard(shard_url, storage_options)
    # Bar measurement of batch k runs on a CPU thread while the ensemble computes batch k+1,
    # so a GPU never waits for it (the numpy work releases the GIL in its heavy parts).
    pieces, pending = [], None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="bars") as cpu:
        for rb in pf.iter_batches(batch_size=batch_size):
            inferred = _infer_record_batch(rb, ensemble, params)
            if pending is not None:
                pieces.append(pending.result())
            pending = cpu.submit(_finish_record_batch, rb, inferred, params, cosmology)
        if pending is not None:
            pieces.append(pending.result())
    schema = C.output_schema(pf.schema_arrow, kpc_h=params.kpc_h)
    table = pa.concat_tables(pieces) if pieces else schema.empty_table()
    table = table.replace_schema_metadata(
        {
            "catalog_xai.params": json.dumps(params.to_dict()),
            "catalog_xai.ensemble": ensemble.manifest.get("name", ""),
            "catalog_xai.input": shard_url,
        }
    )
    storage.write_table_atomic(table, out_url, storage_options)
    status = table.column(C.STATUS).to_pylist()
    if job_hash:
        storage.commit_shard(output_url, out_url, {"shard": shard_url, "output": out_url, "rows": table.num_rows,
                                               "config_hash": job_hash, **(worker or {})}, storage_options)
    return ShardResult(
        shard=shard_url,
        output=out_url,
        rows_in=pf.metadata.num_rows,
        rows_out=table.num_rows,
        rows_not_ok=sum(s != C.STATUS_OK for s in status),
        statuses=json.dumps(Counter(s for s in status if s != C.STATUS_OK)),
        seconds=time.perf_counter() - t0,
    )
