"""All file and object-storage access: URLs, shards, checkpoints, atomic writes.

Everything goes through fsspec, so a local path, file://, s3:// (s3fs) or gs:// (gcsfs)
work alike.  Credentials come from the environment or the provider chain only; this
module never takes, logs or stores a secret.
"""

from __future__ import annotations

import hashlib
import io
import json
import posixpath
import uuid
from importlib import resources

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from . import columns as C
from .ensemble import Ensemble
from .models import ModelSpec, create_model

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "catalog_xai-ensemble/1"
#: Ensembles that ship inside the package, by name.
BUILTIN_CHECKPOINTS = ("synthetic-small",)
DEFAULT_CHECKPOINT = "synthetic-small"


class ShardError(ValueError):
    """A whole input shard cannot be used (not Parquet, missing a required column, ...)."""


def filesystem(url: str, storage_options: dict | None = None) -> tuple[fsspec.AbstractFileSystem, str]:
    """(filesystem, path within it) for any fsspec URL or local path."""
    fs, path = fsspec.core.url_to_fs(url, **(storage_options or {}))
    return fs, path


def join(prefix: str, *parts: str) -> str:
    return posixpath.join(prefix.rstrip("/"), *parts)


def list_shards(url: str, storage_options: dict | None = None) -> list[str]:
    """Parquet files under ``url`` (or ``url`` itself if it is a file), sorted, as full URLs."""
    fs, path = filesystem(url, storage_options)
    if fs.isfile(path):
        found = [path]
    else:
        found = sorted(p for p in fs.find(path) if p.endswith(".parquet") and not posixpath.basename(p).startswith(("_", ".")))
    return [fs.unstrip_protocol(p) if "://" in url else p for p in found]


def relative_name(shard_url: str, input_url: str) -> str:
    """Shard path relative to the input prefix (just the file name for a single file)."""
    base = input_url.rstrip("/")
    if shard_url.rstrip("/") == base:
        return posixpath.basename(shard_url)
    _, s = fsspec.core.split_protocol(shard_url)
    _, b = fsspec.core.split_protocol(base)
    if s.startswith(b.rstrip("/") + "/"):
        return s[len(b.rstrip("/")) + 1 :]
    return posixpath.basename(s)


def output_path(shard_url: str, input_url: str, output_url: str) -> str:
    """Deterministic output file of a shard: same relative path under the output prefix."""
    rel = relative_name(shard_url, input_url)
    if ".." in rel.split("/"):
        raise ShardError(f"shard {shard_url} would be written outside the output prefix")
    return join(output_url, rel)


def check_input_schema(schema: pa.Schema, where: str) -> None:
    """Raise ShardError naming the file and column if the input contract is not met."""
    names = set(schema.names)
    for col in C.REQUIRED_INPUT:
        if col not in names:
            raise ShardError(f"{where}: required column '{col}' is missing (has: {sorted(names)})")
    if not any(c in names for c in C.SCALE_ALTERNATIVES):
        raise ShardError(
            f"{where}: needs a pixel scale: column '{C.PIXEL_SCALE}' or '{C.PETRO_R90}' (has: {sorted(names)})"
        )
    if not pa.types.is_integer(schema.field(C.OBJID).type):
        raise ShardError(f"{where}: column '{C.OBJID}' must be an integer, got {schema.field(C.OBJID).type}")
    if not (pa.types.is_binary(schema.field(C.IMAGE).type) or pa.types.is_large_binary(schema.field(C.IMAGE).type)):
        raise ShardError(f"{where}: column '{C.IMAGE}' must be binary (encoded JPEG/PNG), got {schema.field(C.IMAGE).type}")
    clash = names & set(C.result_column_names(kpc_h=True))
    if clash:
        raise ShardError(f"{where}: input columns {sorted(clash)} clash with catalogue output columns")


def open_shard(url: str, storage_options: dict | None = None) -> pq.ParquetFile:
    """Open an input shard for streaming and check its schema."""
    fs, path = filesystem(url, storage_options)
    try:
        pf = pq.ParquetFile(fs.open(path, "rb"))
    except (pa.ArrowInvalid, OSError) as err:
        raise ShardError(f"{url}: not a readable Parquet file ({err})") from None
    check_input_schema(pf.schema_arrow, url)
    return pf


def write_table_atomic(table: pa.Table, url: str, storage_options: dict | None = None) -> None:
    """Write Parquet under a temporary name, then publish it under ``url``."""
    fs, path = filesystem(url, storage_options)
    parent = posixpath.dirname(path)
    if parent:
        fs.makedirs(parent, exist_ok=True)
    tmp = join(parent, f".{posixpath.basename(path)}.tmp-{uuid.uuid4().hex}")
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    with fs.open(tmp, "wb") as f:
        f.write(buf.getvalue())
    fs.mv(tmp, path)


def write_json(obj: dict, url: str, storage_options: dict | None = None) -> None:
    fs, path = filesystem(url, storage_options)
    parent = posixpath.dirname(path)
    if parent:
        fs.makedirs(parent, exist_ok=True)
    with fs.open(path, "w") as f:
        json.dump(obj, f, indent=2, default=str)


# ---------------------------------------------------------------------- checkpoints
def builtin_checkpoint_path(name: str) -> str:
    if name not in BUILTIN_CHECKPOINTS:
        raise ValueError(f"Unknown built-in ensemble {name!r}; built-in: {BUILTIN_CHECKPOINTS}")
    return str(resources.files("catalog_xai") / "weights" / name)


def resolve_checkpoint(location: str) -> str:
    """A built-in ensemble name, or a directory URL holding manifest.json."""
    return builtin_checkpoint_path(location) if location in BUILTIN_CHECKPOINTS else location


def save_ensemble(models, url: str, *, name: str, training_data: str, extra: dict | None = None,
                  storage_options: dict | None = None) -> dict:
    """Write each model as safetensors plus a manifest describing how to feed it."""
    from safetensors.torch import save

    fs, path = filesystem(url, storage_options)
    fs.makedirs(path, exist_ok=True)
    entries = []
    for model in models:
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        blob = save(state)
        fname = f"{model.spec.architecture}.safetensors"
        with fs.open(join(path, fname), "wb") as f:
            f.write(blob)
        entries.append({"file": fname, "sha256": hashlib.sha256(blob).hexdigest(), "spec": model.spec.to_dict()})
    manifest = {
        "format": MANIFEST_FORMAT,
        "name": name,
        "training_data": training_data,
        "output_columns": list(C.FRACTION_COLUMNS),
        "score_target": f"Class{C.KAGGLE_IDS[C.BAR_YES_INDEX]} logit (pre-activation)",
        "models": entries,
        **(extra or {}),
    }
    with fs.open(join(path, MANIFEST), "w") as f:
        json.dump(manifest, f, indent=2)
    return manifest


def load_ensemble(location: str, storage_options: dict | None = None, device: str = "cpu") -> Ensemble:
    """Load an ensemble from a built-in name or a directory URL; never unpickles."""
    from safetensors.torch import load

    url = resolve_checkpoint(location)
    fs, path = filesystem(url, storage_options)
    try:
        with fs.open(join(path, MANIFEST), "r") as f:
            manifest = json.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"No {MANIFEST} under checkpoint location {url!r}") from None
    if manifest.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"{url}: unsupported manifest format {manifest.get('format')!r}, expected {MANIFEST_FORMAT!r}")
    if list(manifest.get("output_columns", [])) != list(C.FRACTION_COLUMNS):
        raise ValueError(f"{url}: the ensemble's output columns are not the 37 GZ2 answers of this version")
    models = []
    for entry in manifest["models"]:
        with fs.open(join(path, entry["file"]), "rb") as f:
            blob = f.read()
        digest = hashlib.sha256(blob).hexdigest()
        if entry.get("sha256") and digest != entry["sha256"]:
            raise ValueError(f"{url}/{entry['file']}: checksum mismatch (file {digest[:12]}, manifest {entry['sha256'][:12]})")
        model = create_model(ModelSpec.from_dict(entry["spec"]))
        model.load_state_dict(load(blob), strict=True)
        models.append(model)
    manifest = dict(manifest, location=url)
    return Ensemble(models, manifest).to(device)


def ensemble_hash(manifest: dict) -> str:
    """Short identity of an ensemble: the hash of its weight-file hashes."""
    h = hashlib.sha256("".join(m["sha256"] for m in manifest["models"]).encode())
    return h.hexdigest()[:16]


# ------------------------------------------------------------- commit protocol
JOB_MANIFEST = "_catalog_xai_job.json"
COMMITS = "_committed"
#: Parameters that change how fast, not what, a job computes: not part of its identity.
NOT_IN_CONFIG_HASH = ("chunk_size",)


def config_hash(params: dict, ensemble_manifest: dict, input_url: str) -> str:
    """Identity of a job's results: method parameters, ensemble weights and input."""
    ident = {k: v for k, v in params.items() if k not in NOT_IN_CONFIG_HASH}
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
    if not fs.exists(root):
        return done
    for marker in fs.find(root):
        if not marker.endswith(".json"):
            continue
        try:
            with fs.open(marker, "r") as f:
                rec = json.load(f)
        except (OSError, ValueError):
            continue  # an unreadable marker means "not done"
        if rec.get("config_hash") == job_hash and rec.get("output") and fs.exists(filesystem(rec["output"], storage_options)[1]):
            done.add(rec["output"])
    return done


class ConfigMismatch(RuntimeError):
    """The output prefix holds results of a job with another configuration."""


def claim_output(output_url: str, job: dict, *, overwrite: bool = False, storage_options: dict | None = None) -> bool:
    """Record this job at the output prefix; returns True when resuming the same job.

    Refuses (ConfigMismatch) to mix results of different configurations in one prefix
    unless ``overwrite``, which removes the old job's markers and manifest first.
    """
    fs, path = filesystem(output_url, storage_options)
    manifest_path = join(path, JOB_MANIFEST)
    if fs.exists(manifest_path):
        with fs.open(manifest_path, "r") as f:
            old = json.load(f)
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
