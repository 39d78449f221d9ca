"""A survey run: claim the output, resume what is committed, run the actor pool, write the summary.

This is the whole classify job minus argument parsing and printing, so a notebook, a test
or another driver runs exactly what ``cxai-classify`` runs.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .. import __version__, storage
from ..core.catalogue import with_model_framing
from ..core.params import MethodParams
from ..storage.provenance import provenance
from .maps import MapSelection
from .pool import PoolConfig, run_survey
from .shard import ShardResult

SUMMARY_FILE = "_summary.json"
#: Where ``ray up`` leaves the cluster launcher's config on the head node (Ray Tune looks there too);
#: ``CATALOG_XAI_AUTOSCALING_CONFIG`` names another file (a test's simulated cluster).
BOOTSTRAP_CONFIG = "~/ray_bootstrap_config.yaml"
AUTOSCALING_CONFIG_ENV = "CATALOG_XAI_AUTOSCALING_CONFIG"


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
    compile_models: bool | str = False  # or a torch.compile mode
    overwrite: bool = False
    storage_options: dict = field(default_factory=dict)
    verbose: bool = False
    save_maps: str = "none"  # which galaxies keep their saliency map (cluster.maps.MapSelection)
    bar_checkpoint: str | None = None  # the ensemble whose maps measure bars; None: ``checkpoint``
    save_embeddings: bool = False  # write each galaxy's pooled features per member (<output>/_embeddings/)
    debias_checkpoint: str | None = None  # a DDB-trained ensemble: the de-biased smooth / featured pair (seed 003)

    @property
    def bars_from(self) -> str:
        """The checkpoint whose saliency maps give the bar lengths."""
        return self.bar_checkpoint or self.checkpoint


@dataclass
class Capacity:
    """What the cluster has now and what its autoscaler can add: the pool is sized on the second,
    since on a cluster whose GPU nodes scale from zero there is no GPU at submit time."""

    cpus: float = 1.0
    gpus: float = 0.0  # GPUs in the cluster now
    gpus_max: float = 0.0  # GPUs it can have: now, or the autoscaler's node types x their max_workers
    source: str = "this machine"  # where gpus_max comes from, for the job's plan line

    @classmethod
    def from_resources(cls, res: dict) -> Capacity:
        return cls(cpus=float(res.get("CPU", 1)), gpus=float(res.get("GPU", 0)), gpus_max=float(res.get("GPU", 0)),
                   source="the cluster's resources now")


def gpus_in_autoscaling_config(config: dict) -> float:
    """GPUs an autoscaling cluster config (``cluster.yaml`` or the launcher's bootstrap copy) can
    reach: each node type's GPUs x its max_workers, capped by the config's own max_workers."""
    types = config.get("available_node_types") or {}
    head = config.get("head_node_type")
    per_type = []
    for name, spec in types.items():
        gpus = float((spec.get("resources") or {}).get("GPU", 0))
        count = 1 if name == head else int(spec.get("max_workers", config.get("max_workers", 0)) or 0)
        per_type.append((gpus, count))
    cap = int(config.get("max_workers", sum(c for _, c in per_type)))
    head_gpus = float(((types.get(head) or {}).get("resources") or {}).get("GPU", 0))
    workers = sorted(((g, c) for (g, c), name in zip(per_type, types) if name != head), reverse=True)
    total, left = head_gpus, cap
    for gpus, count in workers:  # the most GPUs the worker cap allows
        take = min(count, left)
        total, left = total + gpus * take, left - take
    return total


def cluster_capacity(resources_now: dict) -> Capacity:
    """The connected cluster's capacity, GPUs the autoscaler can start included.

    Ray publishes no autoscaler node types to a driver on a launcher (VM) cluster, so they
    are read from the sources that exist: Ray's reported cluster config (KubeRay, autoscaler v2
    where it reports one), else the launcher's config on the head node, where ``ray job
    submit`` runs the driver (``~/ray_bootstrap_config.yaml``, or the file
    ``CATALOG_XAI_AUTOSCALING_CONFIG`` names).  On a laptop there is none: what Ray has now.
    """
    cap = Capacity.from_resources(resources_now)
    try:
        import ray._private.state

        reported = ray._private.state.state.get_max_resources_from_cluster_config()
    except Exception:  # a private API: its absence only means no report
        reported = None
    if reported and reported.get("GPU", 0) > cap.gpus_max:
        cap.gpus_max, cap.source = float(reported["GPU"]), "Ray's reported cluster config"
    path = os.environ.get(AUTOSCALING_CONFIG_ENV) or os.path.expanduser(BOOTSTRAP_CONFIG)
    if os.path.exists(path):
        import yaml

        try:
            with open(path) as f:
                gpus = gpus_in_autoscaling_config(yaml.safe_load(f) or {})  # JSON is YAML too
        except (OSError, yaml.YAMLError, AttributeError, TypeError, ValueError) as err:
            raise JobError(f"cannot read the autoscaling config {path}: {err}") from None
        if gpus > cap.gpus_max:
            cap.gpus_max, cap.source = gpus, f"the autoscaler's node types ({path})"
    return cap


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
    bar_manifest: dict | None = None  # the bar ensemble's, where it is not the morphology one
    capacity: Capacity = field(default_factory=Capacity)
    galaxies: int = 0  # rows in the shards still to do, from their footers (dry runs only; 0: not counted)
    galaxies_exact: bool = True  # False: scaled from a sample of footers

    @property
    def skipped(self) -> int:
        return len(self.all_shards) - len(self.shards)


def plan_survey(job: SurveyJob, capacity: Capacity | dict | None = None, *, dry_run: bool = False) -> SurveyPlan:
    """List the shards, load the ensemble's manifest (failing fast), claim the output and size the pool.

    ``capacity``: from ``cluster_capacity`` (a dict of Ray resources is read as what there is now).
    ``dry_run``: write nothing; check the first shard's schema instead.

    Raises
    ------
    JobError
        No shards under the input, or the output holds another configuration's catalogue.
    ValueError
        Storage options that carry a credential.
    """
    so = storage.check_storage_options(job.storage_options)
    MapSelection.parse(job.save_maps)  # a bad selection fails here, not in every actor
    shards = storage.list_shards(job.input_url, so)
    if not shards:
        raise JobError(f"no .parquet shards under {job.input_url}")
    ensemble = storage.load_ensemble(job.checkpoint, so)  # fails fast, before any actor starts
    manifest = ensemble.manifest
    params = with_model_framing(job.params, ensemble)
    bar_manifest = None
    if job.bars_from != job.checkpoint:
        bar_ensemble = storage.load_ensemble(job.bars_from, so)
        bar_manifest = bar_ensemble.manifest
        if job.params.framing is None and bar_ensemble.framing != ensemble.framing:
            raise JobError(f"the morphology ensemble {job.checkpoint} was trained on {ensemble.framing!r} framing and "
                           f"the bar ensemble {job.bars_from} on {bar_ensemble.framing!r}: choose one with --framing")
    # the hash covers both ensembles' weights: changing either is another catalogue
    hashed = manifest if bar_manifest is None else {**manifest, "bar_ensemble": bar_manifest}
    if job.debias_checkpoint is not None:  # fails fast too, and is part of what the catalogue is
        debias_manifest = storage.load_ensemble(job.debias_checkpoint, so).manifest
        if "ddb" not in debias_manifest:
            raise JobError(f"--debias-checkpoint {job.debias_checkpoint} was not trained with the DDB loss "
                           "(its manifest has no 'ddb' section): train one with cxai-train --ddb-theta")
        hashed = {**hashed, "debias_ensemble": debias_manifest}
    job_hash = storage.config_hash(params.identity(), hashed, job.input_url)
    record = {"config_hash": job_hash, "catalog_xai_version": __version__, "input": job.input_url,
              "checkpoint": job.checkpoint, "ensemble": manifest.get("name"),
              "ensemble_hash": storage.ensemble_hash(manifest), "params": params.to_dict()}
    if bar_manifest is not None:
        record.update(bar_checkpoint=job.bars_from, bar_ensemble=bar_manifest.get("name"),
                      bar_ensemble_hash=storage.ensemble_hash(bar_manifest))
    resuming = False
    if dry_run:
        try:
            storage.open_shard(shards[0], so)
        except storage.ShardError as err:
            raise JobError(f"the first shard does not meet the input contract: {err}") from None
    else:
        try:
            resuming = storage.claim_output(job.output_url, record, overwrite=job.overwrite, storage_options=so)
        except storage.ConfigMismatch as err:
            raise JobError(str(err)) from None
    todo = shards
    if resuming:
        done = storage.committed_outputs(job.output_url, job_hash, so)
        todo = [s for s in shards if storage.output_path(s, job.input_url, job.output_url) not in done]
    galaxies, exact = 0, False
    if dry_run:  # a real run counts as it goes: no extra request per shard before the work starts
        try:
            galaxies, exact = storage.count_rows(todo, so)
        except (storage.ShardError, storage.RetriesExhausted):
            pass
    cap = capacity if isinstance(capacity, Capacity) else Capacity.from_resources(capacity or {})
    return SurveyPlan(job, params, todo, shards, manifest, job_hash, _pool(job, len(todo), cap), bar_manifest, cap,
                      galaxies, exact)


def _pool(job: SurveyJob, n_shards: int, cap: Capacity) -> PoolConfig:
    """GPU actors wherever the cluster has or can get GPUs (one per GPU, up to one per shard), else CPU actors."""
    gpus = job.gpus_per_actor if job.gpus_per_actor is not None else (1.0 if cap.gpus_max >= 1 else 0.0)
    slots = cap.gpus_max / gpus if gpus else cap.cpus / job.cpus_per_actor
    max_actors = job.max_actors or max(1, min(n_shards, int(slots)))
    # Actors that fit on what the cluster has now start at once (on a laptop: all of them);
    # the rest wait for the autoscaler, which Ray Data asks as work queues up.
    now = cap.gpus / gpus if gpus else cap.cpus / job.cpus_per_actor
    min_actors = min(max_actors, max(job.min_actors, int(now)))
    return PoolConfig(min_actors=min_actors, max_actors=max_actors, gpus_per_actor=gpus,
                      cpus_per_actor=job.cpus_per_actor, batch_size=job.batch_size, compile_models=job.compile_models)


def execute(plan: SurveyPlan, on_shard: Callable[[ShardResult, int, int, float], None] | None = None) -> dict:
    """Run a planned survey on the connected Ray cluster and write its ``_summary.json``; returns the summary."""
    t0 = time.perf_counter()
    job = plan.job
    results: list[ShardResult] = run_survey(
        plan.shards, input_url=job.input_url, output_url=job.output_url, checkpoint=job.checkpoint, params=plan.params,
        pool=plan.pool, storage_options=job.storage_options, on_shard=on_shard, verbose=job.verbose,
        job_hash=plan.job_hash, save_maps=job.save_maps, bar_checkpoint=job.bars_from,
        save_embeddings=job.save_embeddings, debias_checkpoint=job.debias_checkpoint) if plan.shards else []
    summary = summarise(plan, results, time.perf_counter() - t0)
    storage.write_json(summary, storage.join(job.output_url, SUMMARY_FILE), job.storage_options)
    return summary


def summarise(plan: SurveyPlan, results: list[ShardResult], wall_s: float) -> dict:
    """The run's summary: provenance, counts, the statuses of rows that are not ok, and every shard."""
    job = plan.job
    n_rows = sum(r.rows_out for r in results)
    prov = provenance(manifest=plan.manifest, checkpoint=job.checkpoint, params=plan.params.to_dict(),
                      input=job.input_url, job_hash=plan.job_hash, bar_manifest=plan.bar_manifest,
                      bar_checkpoint=job.bars_from)
    prov["driver_device"] = prov.pop("device")  # the actors' devices are counted below
    return {
        "provenance": prov,
        "devices": Counter(r.device for r in results if r.device),
        "catalog_xai_version": __version__,
        "finished": datetime.now(timezone.utc).isoformat(),
        "input": job.input_url, "output": job.output_url, "checkpoint": job.checkpoint,
        "bar_checkpoint": job.bars_from,
        "params": plan.params.to_dict(), "config_hash": plan.job_hash, "shards": len(plan.all_shards),
        "shards_skipped_committed": plan.skipped, "shards_failed": sum(bool(r.error) for r in results),
        "galaxies": n_rows, "rows_not_ok": sum(r.rows_not_ok for r in results),
        "maps_saved": sum(r.maps for r in results), "save_maps": job.save_maps,
        "save_embeddings": job.save_embeddings,
        "statuses": sum((Counter(json.loads(r.statuses)) for r in results), Counter()),
        "wall_seconds": wall_s, "galaxies_per_second": n_rows / wall_s if wall_s else 0.0,
        "per_shard": [r.to_dict() for r in results],
    }
