"""The Ray layer: a pool of actors, each holding the ensemble, over the survey's shards.

Ray Data hands out shards (one row each) to an autoscaling actor pool
(``ActorPoolStrategy(min_size, max_size)``, one GPU per actor where there are GPUs); each actor
streams its shard through :func:`catalog_xai.cluster.shard.process_shard` and publishes one
catalogue shard.  Shard-sized units keep every output file whole and named after its
input, and keep an actor's memory independent of the survey's size.

Faults.  A shard's output is deterministic, published atomically and committed after
it is in place, so re-running a shard is always safe; the layers below rely on that.
Object-storage hiccups are retried inside :mod:`catalog_xai.storage`.  An actor that dies
(killed, out of memory, its node preempted) is restarted by Ray (``max_restarts=-1``,
on any node with room) and the shard it held is run again (``max_task_retries``).  A
shard whose actor dies on every attempt is dropped by Ray Data (``max_errored_blocks``)
instead of failing the survey, and reported here as a failed shard, so the job ends
with a summary and a resubmission redoes just that shard.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import storage
from ..core.params import MethodParams
from .maps import MapSelection
from .shard import ShardResult, process_shard

#: Times a shard is re-run after the actor running it died (then it is reported failed).
MAX_TASK_RETRIES = 3
#: Actors in a row that may die while loading the ensemble before the survey is abandoned.
MAX_ACTOR_INIT_DEATHS = 3


class GPUUnusableError(RuntimeError):
    """An actor that Ray gave a GPU cannot use it (a CPU-only torch, no driver): running on its CPU
    would be silently ~50x slower while holding the GPU, so the actor stops instead."""


def actor_device(gpu_ids: list, cuda_available: bool, *, simulated: bool = False, torch_version: str = "") -> str:
    """The device an actor computes on: CUDA if Ray gave it a GPU, the CPU if it gave none.

    ``simulated``: Ray's fake multi-node cluster (``RAY_FAKE_CLUSTER``), whose GPUs are only
    resource counts; there a GPU actor runs on the CPU.

    Raises
    ------
    GPUUnusableError
        Ray gave the actor a GPU and torch cannot see one.
    """
    if not gpu_ids:
        return "cpu"
    if cuda_available:
        return "cuda"
    if simulated:
        return "cpu"
    raise GPUUnusableError(
        f"this actor was given GPU {gpu_ids} (CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r}) "
        f"but torch {torch_version} cannot use it (torch.cuda.is_available() is False: a CPU-only torch build or "
        "no NVIDIA driver on this node). Install the CUDA build of torch on the GPU nodes, or run on CPUs with "
        "--gpus-per-actor 0")


def _peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class ShardClassifier:
    """Ray Data callable class: loads the ensemble once, then classifies whole shards."""

    def __init__(self, checkpoint: str, params: MethodParams, input_url: str, output_url: str,
                 storage_options: dict | None, batch_size: int, threads: int, compile_models: bool | str = False,
                 job_hash: str | None = None, save_maps: str = "none", bar_checkpoint: str | None = None,
                 save_embeddings: bool = False, debias_checkpoint: str | None = None) -> None:
        import torch

        if threads:
            torch.set_num_threads(threads)
        import ray

        self.node_id = ray.get_runtime_context().get_node_id()  # reported per shard: which node did it
        self.device = actor_device(ray.get_gpu_ids(), torch.cuda.is_available(),
                                   simulated=os.environ.get("RAY_FAKE_CLUSTER") == "1", torch_version=torch.__version__)
        self.ensemble = storage.load_ensemble(checkpoint, storage_options, device=self.device)
        self.bar_ensemble = None  # None: the maps come from self.ensemble
        if bar_checkpoint is not None and bar_checkpoint != checkpoint:
            self.bar_ensemble = storage.load_ensemble(bar_checkpoint, storage_options, device=self.device)
        self.debias_ensemble = None if debias_checkpoint is None else storage.load_ensemble(
            debias_checkpoint, storage_options, device=self.device)
        if compile_models:  # True or a torch.compile mode ("max-autotune": minutes to compile, faster)
            mode = None if compile_models in (True, "default") else compile_models
            self.ensemble.compile(mode=mode)
            if self.bar_ensemble is not None:
                self.bar_ensemble.compile(mode=mode)
        self.bar_checkpoint = bar_checkpoint
        # precision "auto" and chunk size 0 become this device's choice, recorded in every shard it writes
        from ..core.catalogue import params_for_device
        from ..core.hardware import native_bf16

        t0 = time.perf_counter()
        params = params_for_device(params, self.bar_ensemble or self.ensemble, galaxies_per_call=batch_size)
        print(f"actor on {self.device} ({native_bf16(self.device)[1]}): precision {params.precision}, "
              f"chunk {params.chunk_size} images ({time.perf_counter() - t0:.1f} s to choose)", flush=True)
        self.params, self.checkpoint, self.save_maps = params, checkpoint, MapSelection.parse(save_maps)
        self.kw = dict(input_url=input_url, output_url=output_url, storage_options=storage_options,
                       batch_size=batch_size, job_hash=job_hash, save_embeddings=save_embeddings,
                       debias_ensemble=self.debias_ensemble, debias_checkpoint=debias_checkpoint)
        from ..core.units import get_cosmology

        self.cosmology = get_cosmology(self.params.cosmology)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows = []
        for shard in batch["shard"]:
            try:
                res = process_shard(str(shard), ensemble=self.ensemble, params=self.params, cosmology=self.cosmology,
                                    worker={"node_id": self.node_id}, checkpoint=self.checkpoint,
                                    save_maps=self.save_maps, bar_ensemble=self.bar_ensemble,
                                    bar_checkpoint=self.bar_checkpoint, **self.kw)
            except Exception as err:  # a bad shard is reported, never fatal to the survey
                res = ShardResult.failed(str(shard), f"{type(err).__name__}: {err}")
            res.actor_peak_rss_mb, res.node_id = _peak_rss_mb(), self.node_id
            rows.append(res.to_dict())
        return {k: np.array([r[k] for r in rows]) for k in rows[0]}


@dataclass
class PoolConfig:
    min_actors: int = 1
    max_actors: int = 1
    gpus_per_actor: float = 0.0
    cpus_per_actor: float = 1.0
    threads_per_actor: int = 0  # torch threads; 0 = cpus_per_actor
    batch_size: int = 16  # galaxies per classify_batch call
    compile_models: bool = False  # torch.compile the ensemble in each actor


def run_survey(shards: list[str], *, input_url: str, output_url: str, checkpoint: str, params: MethodParams,
               pool: PoolConfig, storage_options: dict | None = None,
               on_shard: Callable[[ShardResult, int, int, float], None] | None = None,
               verbose: bool = False, job_hash: str | None = None, save_maps: str = "none",
               bar_checkpoint: str | None = None, save_embeddings: bool = False,
               debias_checkpoint: str | None = None) -> list[ShardResult]:
    """Process ``shards`` on the connected Ray cluster; returns one result per shard.

    ``bar_checkpoint``: the ensemble whose maps measure the bars (None: ``checkpoint``'s).

    ``on_shard(result, done, total, elapsed_s)`` is called as each shard finishes.
    """
    import logging

    import ray

    ctx = ray.data.DataContext.get_current()
    if not verbose:  # our per-shard lines are the progress report; Ray Data's would drown them
        ctx.enable_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
    # A Dataset snapshots the context when it is made: set the fault policy for this one only.
    saved = (ctx.max_errored_blocks, ctx.max_consecutive_actor_init_deaths)
    ctx.max_errored_blocks = -1  # a shard lost for good is reported below, never fatal to the survey
    ctx.max_consecutive_actor_init_deaths = MAX_ACTOR_INIT_DEATHS
    try:
        ds = ray.data.from_items([{"shard": s} for s in shards], override_num_blocks=max(1, len(shards)))
        map_args = dict(
            fn_constructor_kwargs=dict(
                checkpoint=checkpoint, params=params, input_url=input_url, output_url=output_url,
                storage_options=storage_options, batch_size=pool.batch_size,
                threads=pool.threads_per_actor or max(1, int(pool.cpus_per_actor)), compile_models=pool.compile_models,
                job_hash=job_hash, save_maps=save_maps, bar_checkpoint=bar_checkpoint,
                save_embeddings=save_embeddings, debias_checkpoint=debias_checkpoint,
            ),
            batch_size=1,
            # Ray Data queues a few shards per actor: one queued behind a poison shard can be lost with it
            # (reported "lost"; a resubmission redoes it). One in flight per actor avoids that but stopped
            # the pool from spreading over new autoscaled nodes (tests/test_autoscaling.py): not used.
            compute=ray.data.ActorPoolStrategy(min_size=pool.min_actors, max_size=pool.max_actors),
            num_gpus=pool.gpus_per_actor,
            num_cpus=pool.cpus_per_actor,
        )
        # A dead actor comes back, on any node with room, and the shard it held is run again, a
        # bounded number of times (Ray Data's own default retries forever: a shard that kills its
        # actor every time would hang the survey).  Ray deprecates these extra remote arguments
        # (removal announced for 2.64); without them Ray Data's defaults (restart, retry) apply.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated")
            try:
                out = ds.map_batches(ShardClassifier, **map_args, max_restarts=-1, max_task_retries=MAX_TASK_RETRIES)
            except TypeError:
                out = ds.map_batches(ShardClassifier, **map_args)
    finally:
        ctx.max_errored_blocks, ctx.max_consecutive_actor_init_deaths = saved
    results: dict[str, ShardResult] = {}
    t0 = time.perf_counter()
    for row in out.iter_rows():
        res = ShardResult.from_dict({k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()})
        if res.shard in results:
            continue  # a result recomputed by Ray after its object was lost is reported once
        results[res.shard] = res
        if on_shard:
            on_shard(res, len(results), len(shards), time.perf_counter() - t0)
    for shard in shards:  # dropped by Ray Data: its actor died on every attempt
        if shard not in results:
            res = ShardResult.failed(shard, f"lost: the actor processing this shard died {MAX_TASK_RETRIES + 1} times "
                                            "(killed, out of memory or its node gone); resubmit the job to retry it")
            results[shard] = res
            if on_shard:
                on_shard(res, len(results), len(shards), time.perf_counter() - t0)
    return list(results.values())
