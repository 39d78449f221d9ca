"""What every importer shares: ids, CSV streaming, image reading and the shard writer.

Each importer streams a source (a CSV of labels or metadata plus image files, or a folder
of FITS cutouts) into Parquet input shards ``part-00000.parquet``, ``part-00001.parquet``,
... of ``shard_size`` rows each, written with :func:`catalog_xai.storage.write_table_atomic`
under any fsspec URL.  The CSV is read in chunks of ``shard_size`` rows and at most about
two shards' worth of images are held in memory.  The output is a pure function of the
input and the options (rows keep the source order), so re-running an import gives the
same shards.

Columns of every imported shard, in this order:

``objid`` (int64)
    The source's integer id where it has one (Kaggle ``GalaxyID``, SDSS ``dr7objid``, an
    all-digit id string), else :func:`hash_objid` of the id string: the first 8 bytes of
    BLAKE2b(utf-8 id, digest_size=8), big-endian, shifted right by one bit -- a stable
    non-negative 63-bit integer.
``source_id`` (string)
    The source's own id, as a string (``GalaxyID``, ``dr7objid``, ``iauname``, a file name...).
``image`` (binary)
    The image file's bytes, unchanged (JPEG/PNG; non-square, greyscale or RGBA images are
    kept as they are, the pipeline reports them); FITS are converted to PNG.  Null when the
    file is missing or unreadable: the row is kept and counted, never dropped.
``redshift``, ``pixel_scale_arcsec`` (float64, null where unknown), ``petroR90_r`` (float64,
    only when the source has it)
``image_path`` (string)
    Where the image was looked for, relative to the image root.
``vote_<question>_<answer>_cumulative_fraction`` x37 (float32)
    Training labels, the cumulative GZ2 vote fractions in ``columns.LABEL_COLUMNS`` order;
    NaN where the source cannot provide one.  Only for labelled sources.
then importer-specific columns, then every other source column unchanged (a name that
clashes with an input-contract, label or catalogue column gets a ``source_`` prefix).

A ``_catalog_xai_import.json`` next to the shards records the options and the summary.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from .. import columns as C
from .. import storage

SOURCE_ID = "source_id"
IMAGE_PATH = "image_path"
SHARD_NAME = "part-{:05d}.parquet"
SUMMARY_FILE = "_catalog_xai_import.json"
DEFAULT_SHARD_SIZE = 256

#: Names an imported pass-through column may not take (renamed with a ``source_`` prefix).
RESERVED = frozenset(
    {C.OBJID, C.IMAGE, C.REDSHIFT, C.PIXEL_SCALE, C.PETRO_R90, SOURCE_ID, IMAGE_PATH,
     *C.LABEL_COLUMNS, *C.result_column_names(kpc_h=True, dirichlet=True, resolution=True, debiased=True)}
)


class ImportInputError(ValueError):
    """The source cannot be imported: a file or column is missing, an option is wrong."""


@dataclass
class ImportSummary:
    source: str
    output: str
    rows: int = 0
    shards: int = 0
    rows_without_image: int = 0
    duplicate_objids: int = 0
    missing_image_examples: list[str] = field(default_factory=list)
    shard_urls: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        s = (f"{self.source}: wrote {self.rows} rows in {self.shards} shards under {self.output}; "
             f"{self.rows_without_image} rows without image")
        if self.missing_image_examples:
            s += f" (e.g. {', '.join(self.missing_image_examples[:3])})"
        if self.duplicate_objids:
            s += f"; WARNING: {self.duplicate_objids} rows repeat an objid"
        return s

    def to_dict(self) -> dict:
        return asdict(self)


# ------------------------------------------------------------------------------- ids
_INT_ID = re.compile(r"^[+-]?\d+$")


def hash_objid(source_id: str) -> int:
    """Stable non-negative 63-bit integer of an id string (BLAKE2b, 8 bytes, >> 1)."""
    digest = hashlib.blake2b(str(source_id).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def objid_from_id(source_id: object) -> int:
    """The id itself when it is an integer that fits int64, else :func:`hash_objid`."""
    s = str(source_id).strip()
    if _INT_ID.match(s):
        v = int(s)
        if -(2**63) <= v < 2**63:
            return v
    return hash_objid(s)


# --------------------------------------------------------------------- CSV streaming
def _url_of(root: str, name: str) -> str:
    """``name`` as a URL: itself when absolute or a URL, else relative to ``root``."""
    if "://" in name or name.startswith("/"):
        return name
    return storage.join(root, name)


def _require_file(url: str, so: dict | None, what: str) -> None:
    fs, path = storage.filesystem(url, so)
    if not fs.isfile(path):
        raise ImportInputError(f"{what} not found: {url}")


def _open_csv(url: str, so: dict | None):
    fs, path = storage.filesystem(url, so)
    return fs.open(path, "rb", compression="infer")


def _csv_header(url: str, so: dict | None) -> list[str]:
    with _open_csv(url, so) as f:
        try:
            return list(pd.read_csv(f, nrows=0).columns)
        except pd.errors.EmptyDataError:
            raise ImportInputError(f"{url}: empty CSV (no header)") from None


def _chunk_kinds(df: pd.DataFrame) -> dict[str, str]:
    out = {}
    for col in df.columns:
        s = df[col]
        k = s.dtype.kind
        if k in "iu":
            out[col] = "int"
        elif k == "f":
            out[col] = "float"
        elif k == "b":
            out[col] = "bool"
        else:
            vals = s.dropna()
            out[col] = "bool" if len(vals) and all(isinstance(v, (bool, np.bool_)) for v in vals) else "str"
    return out


def _unify(kinds: set[str]) -> str:
    if kinds <= {"int"}:
        return "int"
    if kinds <= {"int", "float"}:
        return "float"
    if kinds <= {"bool"}:
        return "bool"
    return "str"  # mixed (text, or booleans next to numbers): keep the text


_PD_DTYPE = {"int": "Int64", "float": "float64", "bool": "boolean", "str": str}
_PA_TYPE = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "str": pa.string()}


@dataclass
class _CsvPlan:
    """Columns and one type per column over a whole set of CSVs (scanned once), so every
    shard gets the same Arrow schema whatever a chunk happens to hold."""

    urls: list[str]
    columns: list[str]
    kinds: dict[str, str]

    def arrow(self, df: pd.DataFrame, col: str) -> pa.Array:
        kind = self.kinds[col]
        if col not in df.columns:
            return pa.nulls(len(df), _PA_TYPE[kind])
        s = df[col]
        if kind == "float":
            s = pd.to_numeric(s, errors="coerce").astype("float64")
        return pa.array(s, type=_PA_TYPE[kind], from_pandas=True)


def _scan_csvs(urls: list[str], so: dict | None, *, string_columns: Collection[str] = (), limit: int | None = None,
               chunk_rows: int = 50_000) -> _CsvPlan:
    columns: list[str] = []
    seen: dict[str, set[str]] = {}
    for url in urls:
        with _open_csv(url, so) as f:
            reader = pd.read_csv(f, chunksize=chunk_rows, nrows=limit, dtype={c: str for c in string_columns})
            try:
                for chunk in reader:
                    for col, kind in _chunk_kinds(chunk).items():
                        if col not in seen:
                            seen[col] = set()
                            columns.append(col)
                        seen[col].add(kind)
            except pd.errors.EmptyDataError:
                raise ImportInputError(f"{url}: empty CSV (no header)") from None
        for col in _csv_header(url, so):  # header-only CSVs still define their columns
            if col not in seen:
                seen[col] = {"float"}
                columns.append(col)
    kinds = {c: ("str" if c in string_columns else _unify(seen[c])) for c in columns}
    return _CsvPlan(urls, columns, kinds)


def _iter_csv(plan: _CsvPlan, so: dict | None, *, chunk_rows: int,
              limit: int | None = None) -> Iterator[tuple[str, pd.DataFrame]]:
    """(url, chunk) over the plan's CSVs in order, at most ``limit`` rows in all."""
    left = limit
    for url in plan.urls:
        if left is not None and left <= 0:
            return
        header = _csv_header(url, so)
        dtypes = {c: _PD_DTYPE[plan.kinds[c]] for c in header}
        with _open_csv(url, so) as f:
            for chunk in pd.read_csv(f, chunksize=chunk_rows, nrows=left, dtype=dtypes):
                if left is not None:
                    left -= len(chunk)
                yield url, chunk.reset_index(drop=True)


def _check_columns(header: list[str], needed: list[str], where: str) -> None:
    missing = [c for c in needed if c not in header]
    if missing:
        more = " ..." if len(header) > 20 else ""
        raise ImportInputError(f"{where}: column(s) {missing} not found (has: {header[:20]}{more})")


def _passthrough_name(col: str, prefix: str = "source_") -> str:
    return prefix + col if col in RESERVED else col


def _float_col(df: pd.DataFrame, col: str | None, n: int) -> np.ndarray:
    if col is None:
        return np.full(n, np.nan)
    return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


# ---------------------------------------------------------------------- images
class _ImageReader:
    """Reads image files by path under a root; missing or unreadable -> None."""

    def __init__(self, root_url: str, so: dict | None):
        self.fs, self.root = storage.filesystem(root_url, so)
        local = "file" in (self.fs.protocol if isinstance(self.fs.protocol, (tuple, list)) else (self.fs.protocol,))
        self.workers = 1 if local else 16

    def full(self, rel: str) -> str:
        return posixpath.join(self.root, rel)

    def _one(self, rel: str | None) -> bytes | None:
        if rel is None:
            return None
        try:
            return self.fs.cat_file(self.full(rel))
        except (FileNotFoundError, IsADirectoryError, PermissionError, OSError):
            return None

    def read(self, rels: list[str | None]) -> list[bytes | None]:
        if self.workers == 1:
            return [self._one(r) for r in rels]
        with ThreadPoolExecutor(self.workers) as ex:
            return list(ex.map(self._one, rels))


# --------------------------------------------------------------------- shard writing
@dataclass
class _Chunk:
    """One batch of rows, everything but the image bytes already computed."""

    ids: list[str]
    image_rel: list[str | None]
    redshift: np.ndarray
    pixel_scale: np.ndarray
    petro: np.ndarray | None = None
    labels: np.ndarray | None = None
    extra: list[tuple[str, pa.Array]] = field(default_factory=list)
    images: list[bytes | None] | None = None  # None: read image_rel with the reader


_FLOAT64 = pa.float64()


def _float_array(x: np.ndarray, type_: pa.DataType = _FLOAT64) -> pa.Array:
    x = np.asarray(x, dtype=np.float64)
    return pa.array(x.astype(type_.to_pandas_dtype()), type=type_, mask=~np.isfinite(x))


class _ShardWriter:
    def __init__(self, output_url: str, shard_size: int, so: dict | None, *, overwrite: bool):
        if shard_size < 1:
            raise ImportInputError(f"--shard-size must be at least 1, got {shard_size}")
        self.output, self.size, self.so = output_url, shard_size, so
        fs, path = storage.filesystem(output_url, so)
        old = sorted(fs.glob(posixpath.join(path, "part-*.parquet"))) if fs.exists(path) else []
        if old and not overwrite:
            raise ImportInputError(f"{output_url} already holds {len(old)} part-*.parquet shards; "
                                   "pass --overwrite to replace them or choose another --output")
        for p in old:
            fs.rm(p)
        if fs.exists(posixpath.join(path, SUMMARY_FILE)):
            fs.rm(posixpath.join(path, SUMMARY_FILE))
        self.buffer: list[pa.Table] = []
        self.buffered = 0
        self.schema: pa.Schema | None = None
        self.urls: list[str] = []

    def add(self, table: pa.Table) -> None:
        if self.schema is None:
            self.schema = table.schema
        elif table.schema != self.schema:
            table = table.cast(self.schema)
        self.buffer.append(table)
        self.buffered += table.num_rows
        while self.buffered >= self.size:
            self._flush(self.size)

    def _flush(self, n: int) -> None:
        table = pa.concat_tables(self.buffer)
        url = storage.join(self.output, SHARD_NAME.format(len(self.urls)))
        storage.write_table_atomic(table.slice(0, n), url, self.so)
        self.urls.append(url)
        rest = table.slice(n)
        self.buffer = [rest] if rest.num_rows else []
        self.buffered = rest.num_rows

    def close(self) -> list[str]:
        if self.buffered:
            self._flush(self.buffered)
        return self.urls


def _run(source: str, chunks: Iterator[_Chunk], *, image_root: str, output_url: str, shard_size: int,
         so: dict | None, overwrite: bool, options: dict, log: Callable[[str], None] | None) -> ImportSummary:
    writer = _ShardWriter(output_url, shard_size, so, overwrite=overwrite)
    reader = _ImageReader(image_root, so)
    summary = ImportSummary(source=source, output=output_url)
    objids: list[np.ndarray] = []
    for ch in chunks:
        n = len(ch.ids)
        if n == 0:
            continue
        images = ch.images if ch.images is not None else reader.read(ch.image_rel)
        for rel, img in zip(ch.image_rel, images):
            if img is None:
                summary.rows_without_image += 1
                if len(summary.missing_image_examples) < 5:
                    summary.missing_image_examples.append(str(rel))
        oid = np.array([objid_from_id(i) for i in ch.ids], dtype=np.int64)
        objids.append(oid)
        cols: dict[str, pa.Array] = {
            C.OBJID: pa.array(oid, pa.int64()),
            SOURCE_ID: pa.array(ch.ids, pa.string()),
            C.IMAGE: pa.array(images, pa.binary()),
            C.REDSHIFT: _float_array(ch.redshift),
            C.PIXEL_SCALE: _float_array(ch.pixel_scale),
        }
        if ch.petro is not None:
            cols[C.PETRO_R90] = _float_array(ch.petro)
        cols[IMAGE_PATH] = pa.array(ch.image_rel, pa.string())
        if ch.labels is not None:
            for j, name in enumerate(C.LABEL_COLUMNS):
                cols[name] = pa.array(np.asarray(ch.labels[:, j], dtype=np.float32), pa.float32())
        for name, arr in ch.extra:
            if name in cols:
                raise ImportInputError(f"column {name!r} would be written twice")
            cols[name] = arr
        writer.add(pa.table(cols))
        summary.rows += n
        if log:
            log(f"  {summary.rows} rows read, {len(writer.urls)} shards written")
    summary.shard_urls = writer.close()
    summary.shards = len(summary.shard_urls)
    if objids:
        all_ids = np.concatenate(objids)
        summary.duplicate_objids = int(len(all_ids) - len(np.unique(all_ids)))
    storage.write_json({"source": source, "options": options, "summary": summary.to_dict()},
                   storage.join(output_url, SUMMARY_FILE), so)
    return summary


def _passthrough(plan: _CsvPlan, df: pd.DataFrame, consumed: set[str],
                 rename: Callable[[str], str]) -> list[tuple[str, pa.Array]]:
    return [(rename(c), plan.arrow(df, c)) for c in plan.columns if c not in consumed]


def _check_limit(limit: int | None) -> None:
    if limit is not None and limit < 0:
        raise ImportInputError(f"--limit must be >= 0, got {limit}")


def _strip_ext(name: str, exts: tuple[str, ...]) -> str:
    low = name.lower()
    for e in sorted(exts, key=len, reverse=True):
        if low.endswith(e):
            return name[: -len(e)]
    return name.rsplit(".", 1)[0]


def _list_files(input_url: str, so: dict | None, exts: tuple[str, ...], limit: int | None) -> list[str]:
    fs, root = storage.filesystem(input_url, so)
    if not fs.isdir(root):
        raise ImportInputError(f"input folder not found: {input_url}")
    rels = sorted(posixpath.relpath(p, root) for p in fs.find(root)
                  if p.lower().endswith(exts) and not posixpath.basename(p).startswith("."))
    return rels if limit is None else rels[:limit]
