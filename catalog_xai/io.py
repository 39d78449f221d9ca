"""All file and object-storage access: URLs, shards, checkpoints, atomic writes.

Everything goes through fsspec, so a local path, file://, s3:// (s3fs) or gs:// (gcsfs)
work alike.  Credentials come from the environment or the provider chain only; this
module never takes, logs or stores a secret.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import logging
import posixpath
import random
import re
import time
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
BUILTIN_CHECKPOINTS = ("sdss-finetuned", "synthetic-small")
DEFAULT_CHECKPOINT = "sdss-finetuned"


log = logging.getLogger(__name__)


class ShardError(ValueError):
    """A whole input shard cannot be used (not Parquet, missing a required column, ...)."""


# ------------------------------------------------------------ transient errors
#: Attempts (first try included) and backoff of every object-storage operation retried here.
RETRY_ATTEMPTS = 5
RETRY_BASE_DELAY = 0.5  # seconds; the k-th retry waits about base * 2**(k-1), jittered
RETRY_MAX_DELAY = 10.0

#: Errors that say the object or the caller is wrong, not the network or the service.
_PERMANENT = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError, FileExistsError)
#: Exception class names (anywhere in the MRO) of network failures of the storage clients
#: (botocore, aiohttp, gcsfs, fsspec); matched by name so none of them has to be installed.
_TRANSIENT_NAMES = frozenset({
    "EndpointConnectionError", "ConnectionClosedError", "ConnectTimeoutError", "ReadTimeoutError",
    "HTTPClientError", "IncompleteRead", "ResponseParserError", "ResponseStreamingError", "ClientPayloadError",
    "ClientConnectionError", "ServerDisconnectedError", "ServerTimeoutError", "FSTimeoutError", "TransportError",
})
#: Service error codes that mean "slow down / try again" (throttling, 5xx) whatever the HTTP status.
_RETRY_CODES = frozenset({
    "SlowDown", "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled",
    "RequestLimitExceeded", "TooManyRequests", "TooManyRequestsException", "ProvisionedThroughputExceededException",
    "RequestTimeout", "InternalError", "ServiceUnavailable", "500", "502", "503", "504",
})
#: errno values of OSErrors that no retry can fix.
_PERMANENT_ERRNOS = frozenset({errno.EINVAL, errno.ENOSPC, errno.EROFS, errno.ENAMETOOLONG, errno.EMSGSIZE})


class RetriesExhausted(OSError):
    """A transient object-storage error persisted through every retry."""


def _status_and_code(err: BaseException) -> tuple[int | None, str | None]:
    """HTTP status and service error code of a storage error or of the error it wraps."""
    seen = 0
    while err is not None and seen < 5:
        resp = getattr(err, "response", None)
        if isinstance(resp, dict):  # botocore ClientError (s3fs keeps it as __cause__)
            status = resp.get("ResponseMetadata", {}).get("HTTPStatusCode")
            return status, resp.get("Error", {}).get("Code")
        for attr in ("status", "code", "status_code"):  # aiohttp, gcsfs HttpError, requests
            val = getattr(err, attr, None)
            if isinstance(val, int) and 100 <= val < 600:
                return val, None
        err, seen = err.__cause__ or err.__context__, seen + 1
    return None, None


def is_transient(err: BaseException) -> bool:
    """True for errors worth retrying: connection errors, timeouts, 5xx and throttling, other OSErrors."""
    if isinstance(err, RetriesExhausted) or isinstance(err, _PERMANENT):
        return False
    if isinstance(err, (ConnectionError, TimeoutError)):
        return True
    if any(cls.__name__ in _TRANSIENT_NAMES for cls in type(err).__mro__):
        return True
    status, code = _status_and_code(err)
    if code in _RETRY_CODES or (status is not None and (status >= 500 or status == 429)):
        return True
    if status is not None and 400 <= status < 500:
        return False  # a bad request stays bad
    return isinstance(err, OSError) and err.errno not in _PERMANENT_ERRNOS


_SECRET_PATTERNS = (
    (re.compile(r"(?<=://)[^/@\s]+@"), "***@"),  # user:password@ in a URL
    (re.compile(r"(?i)((?:x-amz-)?(?:signature|credential|security-token|token|secret|password|sig)=)[^&\s'\"]+"), r"\1***"),
)


def redact(text: str) -> str:
    """``text`` without credentials that URLs or request strings may embed."""
    for pattern, repl in _SECRET_PATTERNS:
        text = pattern.sub(repl, text)
    return text


def with_retries(fn, *, attempts: int | None = None, base_delay: float | None = None,
                 max_delay: float | None = None, what: str = "storage operation"):
    """``fn()``, retried with exponential backoff and jitter while it fails transiently.

    Permanent errors (missing object, no permission, bad request) are raised at once;
    when every attempt failed transiently, :class:`RetriesExhausted` (an OSError) is
    raised from the last error.  Each retry is logged with ``what`` (never credentials).
    """
    attempts = RETRY_ATTEMPTS if attempts is None else max(1, int(attempts))
    base_delay = RETRY_BASE_DELAY if base_delay is None else base_delay
    max_delay = RETRY_MAX_DELAY if max_delay is None else max_delay
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except Exception as err:
            if not is_transient(err):
                raise
            summary = redact(f"{type(err).__name__}: {err}")[:300]
            if attempt == attempts:
                raise RetriesExhausted(errno.EIO, f"{redact(what)}: gave up after {attempts} attempts; last error {summary}") from err
            cap = min(max_delay, base_delay * 2 ** (attempt - 1))
            delay = cap / 2 + random.uniform(0, cap / 2)  # "equal jitter": never 0, never in lockstep
            log.warning("%s failed (attempt %d of %d: %s); retrying in %.2f s", redact(what), attempt, attempts,
                        summary, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


class RetryingReader(io.RawIOBase):
    """Seekable read-only file that reopens and resumes at the same offset after a transient error.

    Streams like the fsspec file it wraps (no whole-object download), so a connection
    dropped in the middle of a shard costs one re-request, not the shard.
    """

    def __init__(self, fs, path: str, url: str | None = None, **retry):
        super().__init__()
        self._fs, self._path, self._url, self._retry = fs, path, url or path, retry
        self._f = None
        self._pos = 0
        self._size = None
        self._file()  # open now: a missing object fails here, not at the first read

    def _file(self):
        if self._f is None:
            self._f = with_retries(lambda: self._fs.open(self._path, "rb"), what=f"open {self._url}", **self._retry)
            self._size = getattr(self._f, "size", None)
        return self._f

    def _drop(self):
        f, self._f = self._f, None
        if f is not None:
            try:
                f.close()
            except Exception:  # noqa: BLE001 - the handle is broken anyway
                pass

    def _attempt(self, op):
        def once():
            f = self._file()
            try:
                return op(f)
            except Exception:
                self._drop()  # reopen on the next attempt: the connection may be dead
                raise
        return with_retries(once, what=f"read {self._url}", **self._retry)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        pos = self._pos

        def op(f):
            f.seek(pos)
            return f.read(size) if size is not None and size >= 0 else f.read()

        data = self._attempt(op)
        self._pos = pos + len(data)
        return data

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def readall(self) -> bytes:
        return self.read(-1)

    @property
    def size(self) -> int:
        if self._size is None:
            self._size = self._attempt(lambda f: f.seek(0, 2))
        return self._size

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 0:
            self._pos = offset
        elif whence == 1:
            self._pos += offset
        elif whence == 2:
            self._pos = self.size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._drop()
        super().close()


def filesystem(url: str, storage_options: dict | None = None) -> tuple[fsspec.AbstractFileSystem, str]:
    """(filesystem, path within it) for any fsspec URL or local path."""
    fs, path = fsspec.core.url_to_fs(url, **(storage_options or {}))
    return fs, path


def absolute(url: str) -> str:
    """Local paths made absolute (Ray workers do not share the driver's working directory)."""
    import os

    return url if "://" in url else os.path.abspath(os.path.expanduser(url))


def join(prefix: str, *parts: str) -> str:
    return posixpath.join(prefix.rstrip("/"), *parts)


def list_shards(url: str, storage_options: dict | None = None) -> list[str]:
    """Parquet files under ``url`` (or ``url`` itself if it is a file), sorted, as full URLs."""
    fs, path = filesystem(url, storage_options)
    fs.invalidate_cache(path)  # a long-lived process must see the objects as they are now
    if with_retries(lambda: fs.isfile(path), what=f"stat {url}"):
        found = [path]
    else:
        found = sorted(p for p in with_retries(lambda: fs.find(path), what=f"list {url}")
                       if p.endswith(".parquet") and not posixpath.basename(p).startswith(("_", ".")))
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
    """Open an input shard for streaming and check its schema.

    Every request on the shard (open, footer, each row group later) is retried on a
    transient error; :class:`RetriesExhausted` means the storage, not the shard, failed.
    """
    fs, path = filesystem(url, storage_options)
    try:
        pf = pq.ParquetFile(RetryingReader(fs, path, url))
    except RetriesExhausted:
        raise
    except (pa.ArrowInvalid, OSError) as err:
        raise ShardError(f"{url}: not a readable Parquet file ({err})") from None
    check_input_schema(pf.schema_arrow, url)
    return pf


def _makedirs(fs, parent: str, url: str) -> None:
    if parent:
        with_retries(lambda: fs.makedirs(parent, exist_ok=True), what=f"makedirs for {url}")


def _move_into_place(fs, tmp: str, path: str, url: str) -> None:
    """``fs.mv(tmp, path)`` with retries; a retry after a lost reply finds the move done."""
    tried = []

    def once():
        if tried:
            fs.invalidate_cache(tmp)
            if not fs.exists(tmp):  # only our move removes our uniquely named temporary
                fs.invalidate_cache(path)
                if fs.exists(path):
                    return
        tried.append(1)
        fs.mv(tmp, path)

    with_retries(once, what=f"publish {url}")


def write_table_atomic(table: pa.Table, url: str, storage_options: dict | None = None) -> None:
    """Write Parquet under a temporary name, then publish it under ``url`` (each step retried)."""
    fs, path = filesystem(url, storage_options)
    parent = posixpath.dirname(path)
    _makedirs(fs, parent, url)
    tmp = join(parent, f".{posixpath.basename(path)}.tmp-{uuid.uuid4().hex}")
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    data = buf.getvalue()
    try:
        with_retries(lambda: fs.pipe_file(tmp, data), what=f"upload {url} (temporary)")
        _move_into_place(fs, tmp, path, url)
    except BaseException:
        try:  # leave no temporary behind if we can help it (they are ignored by readers anyway)
            if fs.exists(tmp):
                fs.rm(tmp)
        except Exception:  # noqa: BLE001
            pass
        raise


def write_json(obj: dict, url: str, storage_options: dict | None = None) -> None:
    """Write a small JSON object (whole-object PUT on object storage), with retries."""
    fs, path = filesystem(url, storage_options)
    _makedirs(fs, posixpath.dirname(path), url)
    data = json.dumps(obj, indent=2, default=str).encode()
    with_retries(lambda: fs.pipe_file(path, data), what=f"write {url}")


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
        manifest = json.loads(with_retries(lambda: fs.cat_file(join(path, MANIFEST)), what=f"read {url}/{MANIFEST}"))
    except FileNotFoundError:
        raise FileNotFoundError(f"No {MANIFEST} under checkpoint location {url!r}") from None
    if manifest.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"{url}: unsupported manifest format {manifest.get('format')!r}, expected {MANIFEST_FORMAT!r}")
    if list(manifest.get("output_columns", [])) != list(C.FRACTION_COLUMNS):
        raise ValueError(f"{url}: the ensemble's output columns are not the 37 GZ2 answers of this version")
    models = []
    for entry in manifest["models"]:
        blob = with_retries(lambda: fs.cat_file(join(path, entry["file"])), what=f"read {url}/{entry['file']}")
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
    fs.invalidate_cache(path)
    if not with_retries(lambda: fs.exists(root), what=f"stat {output_url}/{COMMITS}"):
        return done
    for marker in with_retries(lambda: fs.find(root), what=f"list {output_url}/{COMMITS}"):
        if not marker.endswith(".json"):
            continue
        try:
            rec = json.loads(with_retries(lambda: fs.cat_file(marker), what=f"read commit marker {marker}"))
        except (OSError, ValueError):
            continue  # an unreadable marker means "not done": the shard is simply recomputed
        if rec.get("config_hash") == job_hash and rec.get("output") and with_retries(
                lambda: fs.exists(filesystem(rec["output"], storage_options)[1]), what=f"stat {rec['output']}"):
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


def read_survey(url: str, columns: list[str] | None = None, storage_options: dict | None = None):
    """Every shard under ``url`` as one Arrow table (for jobs that need a whole, small survey)."""
    tables = []
    for shard in list_shards(url, storage_options):
        fs, path = filesystem(shard, storage_options)
        with fs.open(path, "rb") as f:
            tables.append(pq.read_table(f, columns=columns))
    if not tables:
        raise FileNotFoundError(f"no .parquet shards under {url}")
    return pa.concat_tables(tables, promote_options="default")


#: Option names that would carry a secret; credentials belong in the environment or the provider chain.
_SECRET_OPTION = re.compile(r"(secret|password|passwd|token|credential|private|(^|_)key$|^key$)", re.I)


def check_storage_options(options: dict) -> dict:
    """Refuse storage options that carry credentials, so none reaches logs, summaries or provenance."""
    def walk(d, where=""):
        for k, v in d.items():
            if _SECRET_OPTION.search(str(k)):
                raise ValueError(f"storage option {where}{k!r} looks like a credential: pass credentials through "
                                 "the environment or the provider chain, never as options")
            if isinstance(v, dict):
                walk(v, f"{where}{k}.")
    walk(options or {})
    return options
