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
from ..core.catalogue import EnsembleOutput, ensemble_mean_maps, isophote_lengths, measure_and_convert, run_ensemble
from ..core.ensemble import Ensemble
from ..core.params import MethodParams
from ..storage.provenance import provenance, shard_metadata
from .maps import MAPS_DIR, MapSelection, embeddings_table, maps_table

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
    device: str = ""  # what computed it, e.g. "cuda:0: NVIDIA H100 80GB HBM3"
    maps: int = 0  # saliency maps kept in the side dataset (--save-maps)

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
                         cosmology: Cosmology | None,
                         save_maps: MapSelection = MapSelection()) -> tuple[pa.Table, pa.Table | None]:
    """Bar measurement, units and the Arrow table for one record batch, and the maps it keeps (CPU only)."""
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
        psf_fwhm=_column(rb, C.PSF_FWHM),
        petro_r50=_column(rb, C.PETRO_R50),
        image=rb.column(C.IMAGE).to_pylist() if C.PSF_FWHM in rb.schema.names else None,
    )
    schema = C.output_schema(rb.schema, kpc_h=params.kpc_h, dirichlet=inferred.dirichlet_std is not None,
                             debiased=inferred.debiased is not None)
    arrays = []
    for field in schema:
        if field.name in res and field.name != C.OBJID:
            values = res[field.name]
            mask = None if field.type in (pa.string(), pa.bool_()) else ~np.isfinite(values)
            arrays.append(pa.array(values, type=field.type, mask=mask))
        else:  # objid and pass-through columns, unchanged
            arrays.append(rb.column(field.name))
    table = pa.Table.from_arrays(arrays, schema=schema)
    if not save_maps.active or not inferred.ok_rows:
        return table, None
    ok = np.zeros(inferred.n, bool)
    ok[inferred.ok_rows] = True
    keep = save_maps.select(res, ok)
    if not keep.any():
        return table, None
    kept = keep[inferred.ok_rows]
    maps = ensemble_mean_maps(inferred)[kept]
    framed = inferred.framed
    cams = None if inferred.cams is None else (inferred.cams[0][kept], inferred.cams[1][kept])
    return table, maps_table(np.asarray(res[C.OBJID])[keep], maps, framed.cutout_px[keep], framed.crop_px[keep],
                             cams=cams, cam_crop_px=None if cams is None else inferred.cam_crop_px[keep],
                             cam_method=f"{params.cam}:{params.cam_answer}")


def _infer_record_batch(rb: pa.RecordBatch, ensemble: Ensemble, params: MethodParams,
                        bar_ensemble: Ensemble | None, embeddings: bool = False,
                        debias_ensemble: Ensemble | None = None) -> EnsembleOutput:
    return run_ensemble(ensemble, objid=rb.column(C.OBJID).to_pylist(), image=rb.column(C.IMAGE).to_pylist(),
                        params=params, pixel_scale_arcsec=_column(rb, C.PIXEL_SCALE),
                        petro_r90=_column(rb, C.PETRO_R90), bar_ensemble=bar_ensemble, embeddings=embeddings,
                        debias_ensemble=debias_ensemble)


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
    checkpoint: str | None = None,
    save_maps: MapSelection = MapSelection(),
    bar_ensemble: Ensemble | None = None,
    bar_checkpoint: str | None = None,
    save_embeddings: bool = False,
    debias_ensemble: Ensemble | None = None,
    debias_checkpoint: str | None = None,
) -> ShardResult:
    """Classify every row of one shard and publish its catalogue shard atomically.

    With ``job_hash`` a commit marker is written once the shard is in place, so that a
    resubmitted job skips it (see ``storage.claim_output``); ``worker`` (e.g. the Ray node id)
    is recorded in it, to trace a shard to the machine that made it.  The shard's metadata
    carries units for pyarrow and astropy and the JSON provenance (``storage.provenance``);
    ``checkpoint`` is the ensemble's name or URL as the job gave it; ``bar_ensemble`` (and its
    ``bar_checkpoint``), when given, makes the saliency maps and bar lengths instead.
    ``save_embeddings`` writes each galaxy's pooled features per member to ``<output>/_embeddings/``
    (seed 004), before the commit marker like the maps.  ``debias_ensemble`` (and its
    ``debias_checkpoint``) adds seed 003's de-biased smooth / featured pair.

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
    pieces, pending, embedding_parts = [], None, []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="bars") as cpu:
        for rb in pf.iter_batches(batch_size=batch_size):
            inferred = _infer_record_batch(rb, ensemble, params, bar_ensemble, save_embeddings, debias_ensemble)
            if save_embeddings and inferred.ok_rows:
                ids = np.asarray(rb.column(C.OBJID).to_pylist(), dtype=object)[inferred.ok_rows]
                embedding_parts.append(embeddings_table(ids.astype(np.int64), inferred.embeddings))
            if pending is not None:
                pieces.append(pending.result())
            pending = cpu.submit(_finish_record_batch, rb, inferred, params, cosmology, save_maps)
        if pending is not None:
            pieces.append(pending.result())
    schema = C.output_schema(pf.schema_arrow, kpc_h=params.kpc_h, dirichlet="dirichlet" in ensemble.heads,
                             debiased=debias_ensemble is not None)
    table = pa.concat_tables([t for t, _ in pieces]) if pieces else schema.empty_table()
    map_parts = [m for _, m in pieces if m is not None]
    prov = provenance(manifest=ensemble.manifest, checkpoint=checkpoint, params=params.to_dict(),
                      device=str(ensemble.device), input=shard_url, job_hash=job_hash, worker=worker or {},
                      bar_manifest=None if bar_ensemble is None else bar_ensemble.manifest,
                      bar_checkpoint=bar_checkpoint,
                      **({} if debias_ensemble is None else {
                          "debias_checkpoint": debias_checkpoint,
                          "debias_ensemble": debias_ensemble.manifest.get("name"),
                          "debias_theta": debias_ensemble.manifest.get("ddb", {}).get("theta")}))
    table = table.replace_schema_metadata(shard_metadata(table, prov))
    storage.write_table_atomic(table, out_url, storage_options)
    n_maps = 0
    if save_maps.active:  # before the commit marker: a committed shard has its maps (an empty file if none kept)
        maps = pa.concat_tables(map_parts) if map_parts else maps_table(np.zeros(0, np.int64), np.zeros((0, 0, 0)),
                                                                       np.zeros(0), np.zeros(0))
        n_maps = maps.num_rows
        maps = maps.replace_schema_metadata(shard_metadata(maps, {**prov, "save_maps": save_maps.describe()}))
        storage.write_table_atomic(maps, storage.output_path(shard_url, input_url, storage.join(output_url, MAPS_DIR)),
                                   storage_options)
    if save_embeddings:  # before the commit marker too
        emb = pa.concat_tables(embedding_parts) if embedding_parts else embeddings_table(
            np.zeros(0, np.int64), [np.zeros((0, 0), np.float32)] * len(ensemble))
        emb = emb.replace_schema_metadata(shard_metadata(emb, prov))
        storage.write_table_atomic(emb, storage.output_path(shard_url, input_url,
                                                            storage.join(output_url, C.EMBEDDINGS_DIR)),
                                   storage_options)
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
        device=prov["device"],
        maps=n_maps,
    )
