"""Object storage through fsspec: URLs, retries of transient errors, atomic writes.

A local path, file://, s3:// (s3fs) or gs:// (gcsfs) work alike.  Credentials come from
the environment or the provider chain only; this package never takes, logs or stores a secret.
"""

from __future__ import annotations

import errno
import io
import json
import logging
import posixpath
import random
import re
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

log = logging.getLogger(__name__)

_T = TypeVar("_T")


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
    (re.compile(r"(?i)((?:x-amz-)?(?:signature|credential|security-token|token|secret|password|sig)=)"
                r"[^&\s'\"]+"), r"\1***"),
)


def redact(text: str) -> str:
    """``text`` without credentials that URLs or request strings may embed."""
    for pattern, repl in _SECRET_PATTERNS:
        text = pattern.sub(repl, text)
    return text


def with_retries(fn: Callable[[], _T], *, attempts: int | None = None, base_delay: float | None = None,
                 max_delay: float | None = None, what: str = "storage operation") -> _T:
    """``fn()``, retried with exponential backoff and jitter while it fails transiently.

    Permanent errors (missing object, no permission, bad request) are raised at once;
    when every attempt failed transiently, :class:`RetriesExhausted` (an OSError) is
    raised from the last error.  Each retry is logged with ``what`` (never credentials).

    Raises
    ------
    RetriesExhausted
        If every attempt failed transiently.
    Exception
        Whatever ``fn`` raised, at once, when the error is not transient.
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
                raise RetriesExhausted(errno.EIO, f"{redact(what)}: gave up after {attempts} attempts; "
                                                  f"last error {summary}") from err
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

    Raises
    ------
    FileNotFoundError
        On construction, if the object does not exist (it is opened at once).
    RetriesExhausted
        If opening or a read kept failing transiently.
    """

    def __init__(self, fs: fsspec.AbstractFileSystem, path: str, url: str | None = None, **retry: Any) -> None:
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

    def _attempt(self, op: Callable[[Any], _T]) -> _T:
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

        def op(f: Any) -> bytes:
            f.seek(pos)
            return f.read(size) if size is not None and size >= 0 else f.read()

        data = self._attempt(op)
        self._pos = pos + len(data)
        return data

    def readinto(self, b: bytearray | memoryview) -> int:
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
        """Move to ``offset`` from the start (0), the current position (1) or the end (2).

        Raises
        ------
        ValueError
            If ``whence`` is not 0, 1 or 2.
        """
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


def _makedirs(fs: fsspec.AbstractFileSystem, parent: str, url: str) -> None:
    if parent:
        with_retries(lambda: fs.makedirs(parent, exist_ok=True), what=f"makedirs for {url}")


def _move_into_place(fs: fsspec.AbstractFileSystem, tmp: str, path: str, url: str) -> None:
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


#: Option names that would carry a secret; credentials belong in the environment or the provider chain.
_SECRET_OPTION = re.compile(r"(secret|password|passwd|token|credential|private|(^|_)key$|^key$)", re.I)


def check_storage_options(options: dict) -> dict:
    """Refuse storage options that carry credentials, so none reaches logs, summaries or provenance.

    Raises
    ------
    ValueError
        If an option name (at any depth) looks like a credential.
    """
    def walk(d: dict, where: str = "") -> None:
        for k, v in d.items():
            if _SECRET_OPTION.search(str(k)):
                raise ValueError(f"storage option {where}{k!r} looks like a credential: pass credentials through "
                                 "the environment or the provider chain, never as options")
            if isinstance(v, dict):
                walk(v, f"{where}{k}.")
    walk(options or {})
    return options
