"""The commit protocol of a survey run: job identity, per-shard commit markers, claiming an output."""

from __future__ import annotations

import hashlib
import json

from .checkpoints import ensemble_hash
from .objects import filesystem, join, with_retries, write_json

JOB_MANIFEST = "_catalog_xai_job.json"
COMMITS = "_committed"
#: Parameters that change how fast, not what, a job computes: not part of its identity.
NOT_IN_CONFIG_HASH = ("chunk_size",)
#: Parameters added after catalogues were first made, left out of the hash at the value those
#: catalogues used: adding an option must not make every earlier catalogue refuse to resume.
ADDED_LATER = {"gradients": "abs", "symmetry": "none"}


def config_hash(params: dict, ensemble_manifest: dict, input_url: str) -> str:
    """Identity of a job's results: method parameters, ensemble weights and input."""
    ident = {k: v for k, v in params.items() if k not in NOT_IN_CONFIG_HASH and ADDED_LATER.get(k, ...) != v}
    blob = json.dumps({"params": ident, "ensemble": ensemble_hash(ensemble_manifest), "input": input_url.rstrip("/")},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _marker_url(output_url: str, out_file_url: str) -> str:
    rel = out_file_url[len(output_url.rstrip("/")) + 1 :]
    return join(output_url, COMMITS, rel + ".json")


def commit_shard(output_url: str, out_file_url: str, record: dict, storage_options: dict | None = None) -> None:
    """Mark a published output shard as done (written after the shard itself is in place)."""
    write_json(record, _marker_url(output_url, out_file_url), storage_options)


def committed_outputs(output_url: str, job_hash: str, storage_options: dict | None = None) -> set[str]:
    """Output files whose commit marker carries ``job_hash`` and whose file exists."""
    fs, path = filesystem(output_url, storage_options)
    root = join(path, COMMITS)
    done = set()
    fs.invalidate_cache(path)
    if not with_retries(lambda: fs.exists(root), what=f"stat {output_url}/{COMMITS}"):
        return done
    for marker in with_retries(lambda: fs.find(root), what=f"list {output_url}/{COMMITS}"):
        if not marker.endswith(".json"):
            continue
        try:
            rec = json.loads(with_retries(lambda marker=marker: fs.cat_file(marker),
                                          what=f"read commit marker {marker}"))
        except (OSError, ValueError):
            continue  # an unreadable marker means "not done": the shard is simply recomputed
        if rec.get("config_hash") == job_hash and rec.get("output") and with_retries(
                lambda rec=rec: fs.exists(filesystem(rec["output"], storage_options)[1]), what=f"stat {rec['output']}"):
            done.add(rec["output"])
    return done


class ConfigMismatch(RuntimeError):
    """The output prefix holds results of a job with another configuration."""


def claim_output(output_url: str, job: dict, *, overwrite: bool = False, storage_options: dict | None = None) -> bool:
    """Record this job at the output prefix; returns True when resuming the same job.

    Refuses (ConfigMismatch) to mix results of different configurations in one prefix
    unless ``overwrite``, which removes the old job's markers and manifest first.

    Raises
    ------
    ConfigMismatch
        If the prefix holds another configuration's job and ``overwrite`` is False.
    """
    fs, path = filesystem(output_url, storage_options)
    manifest_path = join(path, JOB_MANIFEST)
    fs.invalidate_cache(path)
    if with_retries(lambda: fs.exists(manifest_path), what=f"stat {output_url}/{JOB_MANIFEST}"):
        old = json.loads(with_retries(lambda: fs.cat_file(manifest_path), what=f"read {output_url}/{JOB_MANIFEST}"))
        if old.get("config_hash") == job["config_hash"]:
            return True
        if not overwrite:
            raise ConfigMismatch(
                f"{output_url} holds a catalogue made with another configuration (hash {old.get('config_hash')}, "
                f"this job {job['config_hash']}); write to another --output or pass --overwrite"
            )
        if fs.exists(join(path, COMMITS)):
            fs.rm(join(path, COMMITS), recursive=True)
    write_json(job, join(output_url, JOB_MANIFEST), storage_options)
    return False


