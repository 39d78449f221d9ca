"""Synthetic surveys written as input shards (the embedded default data)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .. import columns as C
from .. import storage
from ..core import synth


def synthetic_shard_table(n: int, seed: int, first_objid: int, barred_only: bool = False,
                          resolution_theta: float | None = None) -> pa.Table:
    cat = synth.make_catalogue(n, seed, first_objid=first_objid, barred_only=barred_only,
                               resolution_theta=resolution_theta)
    arrays = {k: pa.array(v, type=pa.binary()) if k == C.IMAGE else pa.array(v) for k, v in cat.items()}
    return pa.table(arrays)


def _write_shard(k: int, *, output_url: str, n_galaxies: int, shard_size: int, seed: int,
                 storage_options: dict | None,
                 barred_only: bool = False, resolution_theta: float | None = None) -> str:
    first = k * shard_size
    n = min(shard_size, n_galaxies - first)
    url = storage.join(output_url, f"shard-{k:05d}.parquet")
    storage.write_table_atomic(synthetic_shard_table(n, seed, first + 1, barred_only, resolution_theta), url,
                               storage_options)
    return url


def generate_survey(output_url: str, *, n_galaxies: int, shard_size: int = 256, seed: int = 0,
                    storage_options: dict | None = None, use_ray: bool = False, barred_only: bool = False,
                    resolution_theta: float | None = None) -> list[str]:
    """Write a synthetic survey of ``n_galaxies`` as Parquet shards under ``output_url``.

    The survey is a pure function of (n_galaxies, shard_size, seed): objids run from 1
    and galaxy k depends on (seed, objid) only.  With ``use_ray`` the shards are
    rendered as Ray Data tasks on the connected cluster.  ``resolution_theta``: volunteers
    biased by resolution (``synth.make_catalogue``).
    """
    n_shards = int(np.ceil(n_galaxies / shard_size))
    kw = dict(output_url=output_url, n_galaxies=n_galaxies, shard_size=shard_size, seed=seed,
              storage_options=storage_options, barred_only=barred_only, resolution_theta=resolution_theta)
    if not use_ray:
        return [_write_shard(k, **kw) for k in range(n_shards)]
    import ray

    ds = ray.data.range(n_shards, override_num_blocks=n_shards)
    ds = ds.map(lambda row: {"url": _write_shard(int(row["id"]), **kw)})
    return sorted(r["url"] for r in ds.take_all())
