"""Survey shards: listing, the input contract, streaming reads and output paths."""

from __future__ import annotations

import posixpath

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from .. import columns as C
from .objects import RetriesExhausted, RetryingReader, filesystem, join, with_retries


class ShardError(ValueError):
    """A whole input shard cannot be used (not Parquet, missing a required column, ...)."""


def list_shards(url: str, storage_options: dict | None = None) -> list[str]:
    """Parquet files under ``url`` (or ``url`` itself if it is a file), sorted, as full URLs."""
    fs, path = filesystem(url, storage_options)
    fs.invalidate_cache(path)  # a long-lived process must see the objects as they are now
    if with_retries(lambda: fs.isfile(path), what=f"stat {url}"):
        found = [path]
    else:
        # Hive's convention: a file or folder whose name starts with _ or . is not data (the
        # catalogue's _committed/ markers and _maps/ side dataset, a writer's .tmp files).
        root = path.rstrip("/") + "/"
        found = sorted(p for p in with_retries(lambda: fs.find(path), what=f"list {url}")
                       if p.endswith(".parquet")
                       and not any(part.startswith(("_", ".")) for part in p[len(root):].split("/")))
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
    """Deterministic output file of a shard: same relative path under the output prefix.

    Raises
    ------
    ShardError
        If the relative path would leave the output prefix.
    """
    rel = relative_name(shard_url, input_url)
    if ".." in rel.split("/"):
        raise ShardError(f"shard {shard_url} would be written outside the output prefix")
    return join(output_url, rel)


def check_input_schema(schema: pa.Schema, where: str) -> None:
    """Raise ShardError naming the file and column if the input contract is not met.

    Raises
    ------
    ShardError
        If a required column is missing or has the wrong type, there is no pixel-scale column,
        or an input column clashes with a catalogue output column.
    """
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
        raise ShardError(f"{where}: column '{C.IMAGE}' must be binary (encoded JPEG/PNG), "
                         f"got {schema.field(C.IMAGE).type}")
    clash = names & set(C.result_column_names(kpc_h=True, dirichlet=True, resolution=True, debiased=True))
    if clash:
        raise ShardError(f"{where}: input columns {sorted(clash)} clash with catalogue output columns")


def open_shard(url: str, storage_options: dict | None = None) -> pq.ParquetFile:
    """Open an input shard for streaming and check its schema.

    Every request on the shard (open, footer, each row group later) is retried on a
    transient error; :class:`RetriesExhausted` means the storage, not the shard, failed.

    Raises
    ------
    ShardError
        If the file is not readable Parquet or does not meet the input contract.
    RetriesExhausted
        If the storage kept failing transiently.
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



def count_rows(shards: list[str], storage_options: dict | None = None, *, max_footers: int = 256) -> tuple[int, bool]:
    """Rows in the shards from their Parquet footers (a few KiB each, read concurrently): the
    total and whether it is exact.  Past ``max_footers`` shards an evenly spaced sample is
    read and scaled, enough for a progress bar's ETA without a request per shard.

    Raises
    ------
    ShardError
        If a sampled shard is not readable Parquet.
    """
    from concurrent.futures import ThreadPoolExecutor

    if not shards:
        return 0, True
    step = max(1, -(-len(shards) // max_footers))
    sample = shards[::step]

    def rows(url: str) -> int:
        fs, path = filesystem(url, storage_options)
        try:
            return pq.ParquetFile(RetryingReader(fs, path, url)).metadata.num_rows
        except (pa.ArrowInvalid, OSError) as err:
            raise ShardError(f"{url}: not a readable Parquet file ({err})") from None

    with ThreadPoolExecutor(max_workers=16, thread_name_prefix="footers") as io:
        counts = list(io.map(rows, sample))
    if len(sample) == len(shards):
        return sum(counts), True
    return round(sum(counts) * len(shards) / len(sample)), False


def read_survey(url: str, columns: list[str] | None = None, storage_options: dict | None = None) -> pa.Table:
    """Every shard under ``url`` as one Arrow table (for jobs that need a whole, small survey).

    Raises
    ------
    FileNotFoundError
        If there are no ``.parquet`` shards under ``url``.
    """
    tables = []
    for shard in list_shards(url, storage_options):
        fs, path = filesystem(shard, storage_options)
        with fs.open(path, "rb") as f:
            tables.append(pq.read_table(f, columns=columns))
    if not tables:
        raise FileNotFoundError(f"no .parquet shards under {url}")
    return pa.concat_tables(tables, promote_options="default")


