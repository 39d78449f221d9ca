"""A survey run: claim the output, resume what is committed, run the actor pool, write the summary.

This is the whole classify job minus argument parsing and printing, so a notebook, a test
or another driver runs exactly what ``cxai-classify`` runs.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .. import __version__, storage
from ..core.catalogue import with_model_framing
from ..core.params import MethodParams
from .pool import PoolConfig, run_survey
from .shard import ShardResult

SUMMARY_FILE = "_summary.json"


class JobError(ValueError):
    """A survey job that cannot start (no shards, a bad option, another job's output); the message says why."""


@dataclass
class SurveyJob:
    """Everything a classify job needs, resolved: URLs absolute, the checkpoint a name or URL."""

    input_url: str
    output_url: str
    checkpoint: str = storage.DEFAULT_CHECKPOINT
    params: MethodParams = field(default_factory=MethodParams)
    batch_size: int = 16  # galaxies per ensemble call
    min_actors: int = 1
    max_actors: int = 0  # 0: one per GPU, or per CPU without GPUs
    gpus_per_actor: float | None = None  # None: 1 if the cluster has GPUs, else 0
    cpus_per_actor: float = 1.0
    compile_models: bool = False
    overwrite: bool = False
    storage_options: dict = field(default_factory=dict)
    verbose: bool = False


@dataclass
class SurveyPlan:
    """What a job will do, decided before any actor starts."""

    job: SurveyJob
    params: MethodParams  # with the framing made explicit
    shards: list[str]  # still to do
    all_shards: list[str]
    manifest: dict
    job_hash: str
    pool: PoolConfig

    @property
    def skipped(self) -> int:
        return len(self.all_shards) - len(self.shards)


def plan_survey(job: SurveyJob, cluster_resources: dict | None = None) -> SurveyPlan:
    """List the shards, load the ensemble's manifest (failing fast), claim the output and size the pool.

    Raises
    ------
    JobError
        No shards under the input, or the output holds another configuration's catalogue.
    ValueError
        Storage options that carry a credential.
    """
    so = storage.check_storage_options(job.storage_options)
    shards = storage.list_shards(job.input_url, so)
    if not shards:
        raise JobError(f"no .parquet shards under {job.input_url}")
    ensemble = storage.load_ensemble(job.checkpoint, so)  # fails fast, before any actor starts
    manifest = ensemble.manifest
    params = with_model_framing(job.params, ensemble)
    job_hash = storage.config_hash(params.identity(), manifest, job.input_url)
    record = {"config_hash": job_hash, "catalog_xai_version": __version__, "input": job.input_url,
              "checkpoint": job.checkpoint, "ensemble": manifest.get("name"),
              "ensemble_hash": storage.ensemble_hash(manifest), "params": params.to_dict()}
    try:
        resuming = storage.claim_output(job.output_url, record, overwrite=job.overwrite, storage_options=so)
    except storage.ConfigMismatch as err:
        raise JobError(str(err)) from None
    todo = shards
    if resuming:
        done = storage.committed_outputs(job.output_url, job_hash, so)
        todo = [s for s in shards if storage.output_path(s, job.input_url, job.output_url) not in done]
    return SurveyPlan(job, params, todo, shards, manifest, job_hash, _pool(job, len(todo), cluster_resources or {}))


def _pool(job: SurveyJob, n_shards: int, res: dict) -> PoolConfig:
    gpus = job.gpus_per_actor if job.gpus_per_actor is not None else (1.0 if res.get("GPU", 0) >= 1 else 0.0)
    per_node = res.get("GPU", 0) / gpus if gpus else res.get("CPU", 1) / job.cpus_per_actor
    max_actors = job.max_actors or max(1, min(n_shards, int(per_node)))
    return PoolConfig(min_actors=min(job.min_actors, max_actors), max_actors=max_actors, gpus_per_actor=gpus,
                      cpus_per_actor=job.cpus_per_actor, batch_size=job.batch_size, compile_models=job.compile_models)


def execute(plan: SurveyPlan, on_shard: Callable[[ShardResult, int, int, float], None] | None = None) -> dict:
    """Run a planned survey on the connected Ray cluster and write its ``_summary.json``; returns the summary."""
    t0 = time.perf_counter()
    job = plan.job
    results: list[ShardResult] = run_survey(
        plan.shards, input_url=job.input_url, output_url=job.output_url, checkpoint=job.checkpoint, params=plan.params,
        pool=plan.pool, storage_options=job.storage_options, on_shard=on_shard, verbose=job.verbose,
        job_hash=plan.job_hash) if plan.shards else []
    summary = summarise(plan, results, time.perf_counter() - t0)
    storage.write_json(summary, storage.join(job.output_url, SUMMARY_FILE), job.storage_options)
    return summary


def summarise(plan: SurveyPlan, results: list[ShardResult], wall_s: float) -> dict:
    """The run's summary: provenance, counts, the statuses of rows that are not ok, and every shard."""
    job = plan.job
    n_rows = sum(r.rows_out for r in results)
    return {
        "catalog_xai_version": __version__,
        "finished": datetime.now(timezone.utc).isoformat(),
        "input": job.input_url, "output": job.output_url, "checkpoint": job.checkpoint,
        "params": plan.params.to_dict(), "config_hash": plan.job_hash, "shards": len(plan.all_shards),
        "shards_skipped_committed": plan.skipped, "shards_failed": sum(bool(r.error) for r in results),
        "galaxies": n_rows, "rows_not_ok": sum(r.rows_not_ok for r in results),
        "statuses": sum((Counter(json.loads(r.statuses)) for r in results), Counter()),
        "wall_seconds": wall_s, "galaxies_per_second": n_rows / wall_s if wall_s else 0.0,
        "per_shard": [r.to_dict() for r in results],
    }
