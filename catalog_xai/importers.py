"""Importers: the survey formats people actually have -> catalog_xai input shards.

Each importer streams a source (a CSV of labels or metadata plus image files, or a folder
of FITS cutouts) into Parquet input shards ``part-00000.parquet``, ``part-00001.parquet``,
... of ``shard_size`` rows each, written with :func:`catalog_xai.io.write_table_atomic`
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
``vote_<question>_<answer>_fraction`` x37 (float32)
    Training labels, the cumulative GZ2 vote fractions in ``columns.LABEL_COLUMNS`` order;
    NaN where the source cannot provide one.  Only for labelled sources.
then importer-specific columns, then every other source column unchanged (a name that
clashes with an input-contract, label or catalogue column gets a ``source_`` prefix).

A ``_catalog_xai_import.json`` next to the shards records the options and the summary.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import posixpath
import re
import string
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from . import columns as C
from . import io as cio

SOURCE_ID = "source_id"
IMAGE_PATH = "image_path"
SHARD_NAME = "part-{:05d}.parquet"
SUMMARY_FILE = "_catalog_xai_import.json"
DEFAULT_SHARD_SIZE = 256
UNREACHED_POLICIES = ("nan", "zero")
GZ2_FRACTION_KINDS = {"debiased": "debiased", "raw": "fraction", "weighted": "weighted_fraction"}
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
FITS_EXTENSIONS = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fts.gz")

#: Names an imported pass-through column may not take (renamed with a ``source_`` prefix).
RESERVED = frozenset(
    {C.OBJID, C.IMAGE, C.REDSHIFT, C.PIXEL_SCALE, C.PETRO_R90, SOURCE_ID, IMAGE_PATH,
     *C.LABEL_COLUMNS, *C.result_column_names(kpc_h=True)}
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


def objid_from_id(source_id) -> int:
    """The id itself when it is an integer that fits int64, else :func:`hash_objid`."""
    s = str(source_id).strip()
    if _INT_ID.match(s):
        v = int(s)
        if -(2**63) <= v < 2**63:
            return v
    return hash_objid(s)


# ------------------------------------------------------------------ GZ2 label algebra
_Q_INDEX = {q.name: i for i, q in enumerate(C.GZ2_TREE)}
_SLICES = C.question_slices()


def cumulative_from_conditional(per_question: np.ndarray, votes: np.ndarray | None = None, *,
                                unreached: str = "nan") -> np.ndarray:
    """The 37 cumulative (Kaggle) fractions from per-question fractions, down the GZ2 tree.

    ``per_question`` (n, 37): each question's answer fractions *among the volunteers who
    answered that question* (any positive scale: each question's block is renormalised to
    sum to 1, which Hart et al.'s debiased fractions do not); NaN for a question the source
    does not have.  ``votes`` (n, 11): number of volunteers who answered each question, or
    NaN where unknown.  cumulative(answer) = fraction(answer) x cumulative(parent answer);
    the roots (Q1, Q6) are their own fractions.  A question nobody answered (votes 0 or all
    fractions 0) is NaN, or with ``unreached="zero"`` 0 where its parent answer's
    cumulative fraction is exactly 0 (the Kaggle convention: nobody gave the answer).
    """
    if unreached not in UNREACHED_POLICIES:
        raise ValueError(f"unreached must be one of {UNREACHED_POLICIES}, got {unreached!r}")
    p = np.asarray(per_question, dtype=np.float64)
    n = p.shape[0]
    cum = np.full((n, C.N_OUTPUTS), np.nan)
    for qi, q in enumerate(C.GZ2_TREE):
        sl = _SLICES[q.name]
        block = p[:, sl]
        present = np.isfinite(block).all(axis=1)
        total = np.where(present, block.sum(axis=1), np.nan)
        usable = present & (total > 0)
        if votes is not None:
            usable &= ~(np.asarray(votes, dtype=np.float64)[:, qi] == 0)
        parent = np.ones(n) if q.parent is None else cum[:, C.KAGGLE_IDS.index(q.parent)]
        with np.errstate(invalid="ignore", divide="ignore"):
            out = block / total[:, None] * parent[:, None]
        out[~usable] = np.nan
        if unreached == "zero":
            out[present & ~usable & (parent == 0)] = 0.0
        cum[:, sl] = out
    return cum


# --------------------------------------------------------------------- CSV streaming
def _url_of(root: str, name: str) -> str:
    """``name`` as a URL: itself when absolute or a URL, else relative to ``root``."""
    if "://" in name or name.startswith("/"):
        return name
    return cio.join(root, name)


def _exists(url: str, so) -> bool:
    fs, path = cio.filesystem(url, so)
    return fs.exists(path)


def _require_file(url: str, so, what: str) -> None:
    fs, path = cio.filesystem(url, so)
    if not fs.isfile(path):
        raise ImportInputError(f"{what} not found: {url}")


def _open_csv(url: str, so):
    fs, path = cio.filesystem(url, so)
    return fs.open(path, "rb", compression="infer")


def _csv_header(url: str, so) -> list[str]:
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


def _scan_csvs(urls: list[str], so, *, string_columns=(), limit: int | None = None,
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


def _iter_csv(plan: _CsvPlan, so, *, chunk_rows: int, limit: int | None = None) -> Iterator[tuple[str, pd.DataFrame]]:
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

    def __init__(self, root_url: str, so):
        self.fs, self.root = cio.filesystem(root_url, so)
        local = "file" in (self.fs.protocol if isinstance(self.fs.protocol, (tuple, list)) else (self.fs.protocol,))
        self.workers = 1 if local else 16

    def full(self, rel: str) -> str:
        return posixpath.join(self.root, rel)

    def _one(self, rel):
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


def _float_array(x: np.ndarray, type_=pa.float64()) -> pa.Array:
    x = np.asarray(x, dtype=np.float64)
    return pa.array(x.astype(type_.to_pandas_dtype()), type=type_, mask=~np.isfinite(x))


class _ShardWriter:
    def __init__(self, output_url: str, shard_size: int, so, *, overwrite: bool):
        if shard_size < 1:
            raise ImportInputError(f"--shard-size must be at least 1, got {shard_size}")
        self.output, self.size, self.so = output_url, shard_size, so
        fs, path = cio.filesystem(output_url, so)
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
        url = cio.join(self.output, SHARD_NAME.format(len(self.urls)))
        cio.write_table_atomic(table.slice(0, n), url, self.so)
        self.urls.append(url)
        rest = table.slice(n)
        self.buffer = [rest] if rest.num_rows else []
        self.buffered = rest.num_rows

    def close(self) -> list[str]:
        if self.buffered:
            self._flush(self.buffered)
        return self.urls


def _run(source: str, chunks: Iterator[_Chunk], *, image_root: str, output_url: str, shard_size: int,
         so, overwrite: bool, options: dict, log: Callable[[str], None] | None) -> ImportSummary:
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
    cio.write_json({"source": source, "options": options, "summary": summary.to_dict()},
                   cio.join(output_url, SUMMARY_FILE), so)
    return summary


def _passthrough(plan: _CsvPlan, df: pd.DataFrame, consumed: set[str],
                 rename: Callable[[str], str]) -> list[tuple[str, pa.Array]]:
    return [(rename(c), plan.arrow(df, c)) for c in plan.columns if c not in consumed]


def _check_limit(limit):
    if limit is not None and limit < 0:
        raise ImportInputError(f"--limit must be >= 0, got {limit}")


# ------------------------------------------------------------------------ 1. Kaggle
def import_kaggle(input_url: str, output_url: str, *, shard_size: int = DEFAULT_SHARD_SIZE,
                  labels_csv: str = "training_solutions_rev1.csv", images_dir: str = "images_training_rev1",
                  extra_csv: str | None = None, limit: int | None = None, overwrite: bool = False,
                  storage_options: dict | None = None, log=None) -> ImportSummary:
    """Kaggle "Galaxy Zoo - The Galaxy Challenge": ``<images_dir>/<GalaxyID>.jpg`` (424x424
    GZ2 cutouts) + ``training_solutions_rev1.csv`` (GalaxyID, Class1.1 ... Class11.6, already
    cumulative; mapped to ``LABEL_COLUMNS`` by ``KAGGLE_IDS``).  The data has no redshift
    or size: both are null unless ``extra_csv`` (GalaxyID, redshift and/or petroR90_r)
    is given.  objid = GalaxyID."""
    so = storage_options
    _check_limit(limit)
    csv_url = _url_of(input_url, labels_csv)
    _require_file(csv_url, so, "Kaggle labels CSV")
    class_cols = [f"Class{k}" for k in C.KAGGLE_IDS]
    header = _csv_header(csv_url, so)
    _check_columns(header, ["GalaxyID", *class_cols], csv_url)
    extra = _load_extra(_url_of(input_url, extra_csv), so) if extra_csv else None
    plan = _scan_csvs([csv_url], so, string_columns=["GalaxyID"], limit=limit)
    consumed = {"GalaxyID", *class_cols}

    def chunks():
        for _, df in _iter_csv(plan, so, chunk_rows=shard_size, limit=limit):
            ids = [str(v).strip() for v in df["GalaxyID"]]
            n = len(ids)
            z = np.full(n, np.nan)
            petro = None
            if extra is not None:
                z = np.array([extra["redshift"].get(i, np.nan) for i in ids]) if "redshift" in extra else z
                if "petroR90_r" in extra:
                    petro = np.array([extra["petroR90_r"].get(i, np.nan) for i in ids])
            labels = df[class_cols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            yield _Chunk(ids=ids, image_rel=[posixpath.join(images_dir, f"{i}.jpg") for i in ids],
                         redshift=z, pixel_scale=np.full(n, np.nan), petro=petro, labels=labels,
                         extra=_passthrough(plan, df, consumed, _passthrough_name))

    opts = dict(labels_csv=labels_csv, images_dir=images_dir, extra_csv=extra_csv, limit=limit, shard_size=shard_size)
    return _run("kaggle", chunks(), image_root=input_url, output_url=output_url, shard_size=shard_size, so=so,
                overwrite=overwrite, options=opts, log=log)


def _load_extra(url: str, so) -> dict[str, dict[str, float]]:
    _require_file(url, so, "extra CSV")
    header = _csv_header(url, so)
    _check_columns(header, ["GalaxyID"], url)
    have = [c for c in (C.REDSHIFT, C.PETRO_R90) if c in header]
    if not have:
        raise ImportInputError(f"{url}: needs a '{C.REDSHIFT}' or '{C.PETRO_R90}' column (has: {header})")
    with _open_csv(url, so) as f:
        df = pd.read_csv(f, usecols=["GalaxyID", *have], dtype={"GalaxyID": str})
    ids = df["GalaxyID"].str.strip()
    return {c: dict(zip(ids, pd.to_numeric(df[c], errors="coerce").astype(float))) for c in have}


# --------------------------------------------------------------------------- 2. GZ2
#: Hart et al. (2016) answer number -> Kaggle answer id (t08 a38 is dust lane, a35 unused).
HART_ANSWERS = {
    "a01": "1.1", "a02": "1.2", "a03": "1.3", "a04": "2.1", "a05": "2.2", "a06": "3.1", "a07": "3.2",
    "a08": "4.1", "a09": "4.2", "a10": "5.1", "a11": "5.2", "a12": "5.3", "a13": "5.4", "a14": "6.1",
    "a15": "6.2", "a16": "7.1", "a17": "7.2", "a18": "7.3", "a19": "8.1", "a20": "8.2", "a21": "8.3",
    "a22": "8.4", "a23": "8.5", "a24": "8.6", "a38": "8.7", "a25": "9.1", "a26": "9.2", "a27": "9.3",
    "a28": "10.1", "a29": "10.2", "a30": "10.3", "a31": "11.1", "a32": "11.2", "a33": "11.3",
    "a34": "11.4", "a36": "11.5", "a37": "11.6",
}
_HART_COL = re.compile(r"^t(\d\d)_(.+?)_(a\d\d)_(.+?)_(weighted_fraction|fraction|weight|count|debiased|flag)$")


def parse_hart_columns(header: list[str]) -> dict[str, dict[str, str]]:
    """{Kaggle id: {kind: column}} for the Hart et al. 2016 vote columns of a table,
    matched on the ``tNN_..._aNN_`` prefix (the task number must agree with the answer's)."""
    out: dict[str, dict[str, str]] = {}
    for col in header:
        m = _HART_COL.match(col)
        if not m:
            continue
        task, _, ans, _, kind = m.groups()
        kid = HART_ANSWERS.get(ans)
        if kid is None or int(task) != int(kid.split(".")[0]):
            continue
        out.setdefault(kid, {})[kind] = col
    return out


def _default_file(input_url: str, so, candidates: tuple[str, ...], glob: str | None = None) -> str | None:
    for name in candidates:
        if _exists(_url_of(input_url, name), so):
            return name
    if glob:
        fs, path = cio.filesystem(input_url, so)
        found = sorted(fs.glob(posixpath.join(path, glob)))
        if found:
            return posixpath.relpath(found[0], path)
    return None


def import_gz2(input_url: str, output_url: str, *, shard_size: int = DEFAULT_SHARD_SIZE,
               labels_csv: str | None = None, mapping_csv: str | None = None, images_dir: str = "images",
               image_column: str | None = None, id_column: str | None = None, fractions: str = "debiased",
               pixel_scale: float | None = None, redshift_column: str | None = None,
               petro_column: str | None = None, unreached: str = "nan", limit: int | None = None,
               overwrite: bool = False, storage_options: dict | None = None, log=None) -> ImportSummary:
    """Galaxy Zoo 2 images with the Hart et al. (2016) table (per-question fractions).

    Labels: the per-question fractions (``fractions``: ``debiased`` -> ``*_debiased``,
    ``raw`` -> ``*_fraction``, ``weighted`` -> ``*_weighted_fraction``) made cumulative by
    :func:`cumulative_from_conditional`; questions the table lacks -> NaN.  The ``*_count``
    columns become ``votes_<question>_<answer>_count`` (all 37, null where absent); every
    other column passes through.  Images: ``image_column`` (default ``image_filename`` if
    present, a path relative to ``input_url``), else ``<images_dir>/<asset_id>.jpg`` through
    ``mapping_csv`` (default ``gz2_filename_mapping.csv``: objid, sample, asset_id; joined on
    dr7objid and sample), else ``<images_dir>/<id>.jpg``.  Id: ``id_column`` (default
    ``dr7objid``, else the image column)."""
    so = storage_options
    _check_limit(limit)
    if fractions not in GZ2_FRACTION_KINDS:
        raise ImportInputError(f"--fractions must be one of {sorted(GZ2_FRACTION_KINDS)}, got {fractions!r}")
    if unreached not in UNREACHED_POLICIES:
        raise ImportInputError(f"--unreached must be one of {UNREACHED_POLICIES}, got {unreached!r}")
    labels_csv = labels_csv or _default_file(input_url, so, ("gz2_hart16.csv", "gz2_hart16.csv.gz",
                                                             "labels_gz2_hart16.csv"), "*hart16*.csv*")
    if labels_csv is None:
        raise ImportInputError(f"no Hart et al. 2016 table (gz2_hart16.csv, *hart16*.csv) under {input_url}; "
                               "pass --labels-csv")
    csv_url = _url_of(input_url, labels_csv)
    _require_file(csv_url, so, "GZ2 labels CSV")
    header = _csv_header(csv_url, so)
    hart = parse_hart_columns(header)
    if not hart:
        raise ImportInputError(f"{csv_url}: no Hart et al. 2016 vote columns (tNN_<task>_aNN_<answer>_<kind>)")
    kind = GZ2_FRACTION_KINDS[fractions]
    if image_column is None and "image_filename" in header:
        image_column = "image_filename"
    if id_column is None:
        id_column = "dr7objid" if "dr7objid" in header else image_column
    if id_column is None:
        raise ImportInputError(f"{csv_url}: no id column (dr7objid or image_filename); pass --id-column")
    redshift_column = redshift_column or (C.REDSHIFT if C.REDSHIFT in header else None)
    petro_column = petro_column or (C.PETRO_R90 if C.PETRO_R90 in header else None)
    _check_columns(header, [c for c in (id_column, image_column, redshift_column, petro_column) if c], csv_url)

    mapping = None
    if image_column is None:
        if mapping_csv is None:
            mapping_csv = _default_file(input_url, so, ("gz2_filename_mapping.csv",))
        if mapping_csv is not None:
            mapping = _load_gz2_mapping(_url_of(input_url, mapping_csv), so)

    frac_cols = [hart.get(k, {}).get(kind) for k in C.KAGGLE_IDS]
    count_cols = [hart.get(k, {}).get("count") for k in C.KAGGLE_IDS]
    slices = list(_SLICES.values())
    # a question counts as present only when all its answers have the chosen column
    q_present = [all(frac_cols[j] for j in range(sl.start, sl.stop)) for sl in slices]
    if not any(q_present):
        raise ImportInputError(f"{csv_url}: no complete question with '*_{kind}' columns (--fractions {fractions})")
    consumed = {id_column, *(c for c in (image_column, redshift_column, petro_column) if c),
                *(c for c in count_cols if c)}
    string_cols = [c for c in (id_column, image_column) if c]
    plan = _scan_csvs([csv_url], so, string_columns=string_cols, limit=limit)

    def chunks():
        for _, df in _iter_csv(plan, so, chunk_rows=shard_size, limit=limit):
            n = len(df)
            ids = [str(v).strip() for v in df[id_column]]
            per_q = np.full((n, C.N_OUTPUTS), np.nan)
            votes = np.full((n, len(slices)), np.nan)
            counts = np.full((n, C.N_OUTPUTS), np.nan)
            for j, col in enumerate(count_cols):
                if col:
                    counts[:, j] = _float_col(df, col, n)
            for qi, sl in enumerate(slices):
                if not q_present[qi]:
                    continue
                for j in range(sl.start, sl.stop):
                    per_q[:, j] = _float_col(df, frac_cols[j], n)
                if all(count_cols[j] for j in range(sl.start, sl.stop)):
                    votes[:, qi] = counts[:, sl].sum(axis=1)
            labels = cumulative_from_conditional(per_q, votes, unreached=unreached)
            if image_column:
                rel = [None if pd.isna(v) else str(v).strip() for v in df[image_column]]
            elif mapping is not None:
                samples = df["sample"].astype(str).tolist() if "sample" in df.columns else [None] * n
                assets = [mapping.get((i, s), mapping.get((i, None))) for i, s in zip(ids, samples)]
                rel = [None if a is None else posixpath.join(images_dir, f"{a}.jpg") for a in assets]
            else:
                rel = [posixpath.join(images_dir, f"{i}.jpg") for i in ids]
            extra = [(name, pa.array(np.nan_to_num(counts[:, j]).astype(np.int64), pa.int64(),
                                     mask=~np.isfinite(counts[:, j])))
                     for j, name in enumerate(C.VOTE_COUNT_COLUMNS)]
            if mapping is not None:
                extra.append(("asset_id", pa.array([None if a is None else int(a) for a in assets], pa.int64())))
            extra += _passthrough(plan, df, consumed, _passthrough_name)
            yield _Chunk(ids=ids, image_rel=rel, redshift=_float_col(df, redshift_column, n),
                         pixel_scale=np.full(n, np.nan if pixel_scale is None else float(pixel_scale)),
                         petro=_float_col(df, petro_column, n) if petro_column else None,
                         labels=labels, extra=extra)

    opts = dict(labels_csv=labels_csv, mapping_csv=mapping_csv, images_dir=images_dir, image_column=image_column,
                id_column=id_column, fractions=fractions, pixel_scale=pixel_scale, unreached=unreached,
                redshift_column=redshift_column, petro_column=petro_column, limit=limit, shard_size=shard_size)
    return _run("gz2", chunks(), image_root=input_url, output_url=output_url, shard_size=shard_size, so=so,
                overwrite=overwrite, options=opts, log=log)


def _load_gz2_mapping(url: str, so) -> dict:
    """(objid, sample) and (objid, None) -> asset_id from gz2_filename_mapping.csv."""
    _require_file(url, so, "GZ2 filename mapping CSV")
    header = _csv_header(url, so)
    _check_columns(header, ["objid", "asset_id"], url)
    cols = ["objid", "asset_id"] + (["sample"] if "sample" in header else [])
    with _open_csv(url, so) as f:
        df = pd.read_csv(f, usecols=cols, dtype={"objid": str, "asset_id": str, "sample": str})
    out: dict = {}
    samples = df["sample"] if "sample" in df.columns else [None] * len(df)
    for oid, asset, sample in zip(df["objid"].str.strip(), df["asset_id"].str.strip(), samples):
        out.setdefault((oid, None if pd.isna(sample) else str(sample)), asset)
        out.setdefault((oid, None), asset)
    return out


# ------------------------------------------------------------------------- 3. DECaLS
#: GZ DECaLS / DESI question names; columns starting with "<question>_" are vote columns.
DECALS_QUESTIONS = ("smooth-or-featured", "disk-edge-on", "has-spiral-arms", "bar", "bulge-size", "how-rounded",
                    "edge-on-bulge", "spiral-winding", "spiral-arm-count", "merging", "problem")
#: GZ2 question -> (DECaLS question, [[DECaLS answers summed into each GZ2 answer], ...]).
DECALS_TO_GZ2 = {
    "smooth_or_featured": ("smooth-or-featured", [["smooth"], ["featured-or-disk"], ["artifact"]]),
    "edge_on": ("disk-edge-on", [["yes"], ["no"]]),
    "bar": ("bar", [["strong", "weak", "yes"], ["no"]]),  # DR5: strong/weak/no; DR1-2: yes/no
    "spiral_arms": ("has-spiral-arms", [["yes"], ["no"]]),
}


def _decals_labels(df: pd.DataFrame, unreached: str) -> np.ndarray:
    n = len(df)
    per_q = np.full((n, C.N_OUTPUTS), np.nan)
    votes = np.full((n, len(C.GZ2_TREE)), np.nan)
    for qname, (dq, answers) in DECALS_TO_GZ2.items():
        sl = _SLICES[qname]
        cols = [[f"{dq}_{a}" for a in group if f"{dq}_{a}" in df.columns] for group in answers]
        if not all(cols):
            continue  # this CSV does not have the question (or not in a form we know)
        groups = [np.stack([_float_col(df, c, n) for c in group]) for group in cols]
        # answers summed over the columns present; a group with no value at all stays NaN
        block = np.stack([np.where(np.isfinite(g).any(axis=0), np.nansum(g, axis=0), np.nan) for g in groups], axis=1)
        per_q[:, sl] = block
        votes[:, _Q_INDEX[qname]] = block.sum(axis=1)
    return cumulative_from_conditional(per_q, votes, unreached=unreached)


def decals_pixel_scale_from_petro(petro_th50, petro_th90, minimum: float = 0.1) -> np.ndarray:
    """Arcsec/pixel of the GZ DECaLS 424x424 cutouts as the GZ DECaLS download code sets it:
    max(min(0.04 petro_th50, 0.02 petro_th90), 0.1) (willettk/decals,
    download_images_threaded.py).  Check it for your data release before relying on it."""
    with np.errstate(invalid="ignore"):
        s = np.minimum(0.04 * np.asarray(petro_th50, float), 0.02 * np.asarray(petro_th90, float))
        return np.where(np.isfinite(s), np.maximum(s, minimum), np.nan)


def import_decals(input_url: str, output_url: str, *, shard_size: int = DEFAULT_SHARD_SIZE,
                  votes_csv: list[str] | None = None, image_glob: str = "gz_decals_dr5_png*/J*/*.png",
                  id_column: str = "iauname", pixel_scale: float | None = None,
                  pixel_scale_from_petro: bool = False, unreached: str = "nan", limit: int | None = None,
                  overwrite: bool = False, storage_options: dict | None = None, log=None) -> ImportSummary:
    """GZ DECaLS: PNG cutouts ``gz_decals_dr5_png_partN/JXXX/<iauname>.png`` found by
    ``image_glob`` under ``input_url`` + volunteer-vote CSVs (default: every
    ``gz_decals_volunteers_*.csv`` there, in name order; ``gz_decals_auto_posteriors.csv``
    holds CNN posteriors, not votes, and is not read unless named).

    Labels from the vote counts: smooth-or-featured -> Q1, disk-edge-on -> Q2, bar (strong +
    weak, or yes) -> Q3 yes / no -> Q3 no, has-spiral-arms -> Q4, made cumulative down the
    GZ2 tree; the other 29 are NaN (DECaLS asks them differently).  A question with zero
    votes is NaN (``unreached="zero"``: 0 where its parent is 0).  Vote columns pass through
    with a ``decals_`` prefix, plus ``decals_source_csv``; ``redshift`` is the CSV's.  The
    CSVs have no pixel-scale column: null unless ``pixel_scale`` or
    ``pixel_scale_from_petro`` (:func:`decals_pixel_scale_from_petro`)."""
    so = storage_options
    _check_limit(limit)
    if unreached not in UNREACHED_POLICIES:
        raise ImportInputError(f"--unreached must be one of {UNREACHED_POLICIES}, got {unreached!r}")
    fs, root = cio.filesystem(input_url, so)
    if votes_csv:
        csv_urls = [_url_of(input_url, v) for v in votes_csv]
    else:
        csv_urls = [_url_of(input_url, posixpath.relpath(p, root))
                    for p in sorted(fs.glob(posixpath.join(root, "gz_decals_volunteers_*.csv*")))]
        if not csv_urls:
            raise ImportInputError(f"no gz_decals_volunteers_*.csv under {input_url}; pass --votes-csv")
    for u in csv_urls:
        _require_file(u, so, "DECaLS votes CSV")
        hdr = _csv_header(u, so)
        _check_columns(hdr, [id_column], u)
        if pixel_scale_from_petro:
            _check_columns(hdr, ["petro_th50", "petro_th90"], u)
    index: dict[str, str] = {}
    for p in sorted(fs.glob(posixpath.join(root, image_glob))):
        stem = posixpath.basename(p).rsplit(".", 1)[0]
        index.setdefault(stem, posixpath.relpath(p, root))
    if not index and log:
        log(f"  warning: no image matches {image_glob!r} under {input_url}")
    plan = _scan_csvs(csv_urls, so, string_columns=[id_column], limit=limit)
    consumed = {id_column, C.REDSHIFT}

    def rename(col: str) -> str:
        if any(col.startswith(q + "_") for q in DECALS_QUESTIONS):
            return "decals_" + col
        return _passthrough_name(col)

    def chunks():
        for url, df in _iter_csv(plan, so, chunk_rows=shard_size, limit=limit):
            n = len(df)
            ids = [str(v).strip() for v in df[id_column]]
            rel = [index.get(i) or posixpath.join(f"{i[:4]}", f"{i}.png") for i in ids]
            if pixel_scale_from_petro:
                scale = decals_pixel_scale_from_petro(_float_col(df, "petro_th50", n), _float_col(df, "petro_th90", n))
            else:
                scale = np.full(n, np.nan if pixel_scale is None else float(pixel_scale))
            extra = [("decals_source_csv", pa.array([posixpath.basename(url)] * n, pa.string()))]
            extra += _passthrough(plan, df, consumed, rename)
            yield _Chunk(ids=ids, image_rel=rel,
                         redshift=_float_col(df, C.REDSHIFT if C.REDSHIFT in df.columns else None, n),
                         pixel_scale=scale, labels=_decals_labels(df, unreached), extra=extra)

    opts = dict(votes_csv=[posixpath.basename(u) for u in csv_urls], image_glob=image_glob, id_column=id_column,
                pixel_scale=pixel_scale, pixel_scale_from_petro=pixel_scale_from_petro, unreached=unreached,
                limit=limit, shard_size=shard_size)
    return _run("decals", chunks(), image_root=input_url, output_url=output_url, shard_size=shard_size, so=so,
                overwrite=overwrite, options=opts, log=log)


# --------------------------------------------------------------------------- 4. FITS
def asinh_to_uint8(data: np.ndarray, *, a: float = 0.1, percentile: float = 99.5) -> np.ndarray:
    """Float image (any shape) -> uint8: limits at the central ``percentile`` of all finite
    values (all channels together, so colours keep their balance), then the asinh stretch
    y = asinh(v / a) / asinh(1 / a) of astropy.visualization.AsinhStretch; NaN -> 0."""
    x = np.asarray(data, dtype=np.float64)
    finite = np.isfinite(x)
    out = np.zeros(x.shape, dtype=np.uint8)
    if not finite.any():
        return out
    cut = (100.0 - percentile) / 2.0
    lo, hi = np.percentile(x[finite], [cut, 100.0 - cut])
    if not hi > lo:
        return out
    v = np.clip((np.where(finite, x, lo) - lo) / (hi - lo), 0.0, 1.0)
    y = np.arcsinh(v / a) / np.arcsinh(1.0 / a)
    return np.round(y * 255.0).astype(np.uint8)


def fits_data_to_rgb(data: np.ndarray, *, flip: bool = True) -> np.ndarray:
    """(H, W) greyscale, (3, H, W) or (H, W, 3) -> (H, W, 3) uint8.  uint8 data are kept,
    anything else goes through :func:`asinh_to_uint8`.  ``flip``: FITS rows run bottom to
    top, so the rows are reversed to put the first row at the bottom of the picture."""
    d = np.asarray(data)
    if d.ndim == 3 and 1 in (d.shape[0], d.shape[-1]) and 3 not in (d.shape[0], d.shape[-1]):
        d = d.reshape(d.shape[1:] if d.shape[0] == 1 else d.shape[:-1])
    if d.ndim == 2:
        d = np.stack([d, d, d], axis=-1)
    elif d.ndim == 3 and d.shape[0] == 3:
        d = np.moveaxis(d, 0, -1)
    elif not (d.ndim == 3 and d.shape[-1] == 3):
        raise ValueError(f"unsupported FITS image shape {d.shape} (want (H,W), (3,H,W) or (H,W,3))")
    rgb = d if d.dtype == np.uint8 else asinh_to_uint8(d)
    if flip:
        rgb = rgb[::-1]
    return np.ascontiguousarray(rgb)


def encode_png(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb, mode="RGB").save(buf, format="PNG")
    return buf.getvalue()


def _fits_pixel_scale(header) -> float:
    """Arcsec/pixel from the header's celestial WCS (mean of the two axes), else NaN."""
    from astropy.wcs import WCS, FITSFixedWarning
    from astropy.wcs.utils import proj_plane_pixel_scales

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            w = WCS(header)
        except Exception:  # noqa: BLE001 - a broken WCS means "no scale", not a failed import
            return float("nan")
        if not w.has_celestial:
            return float("nan")
        cel = w.celestial
        try:
            scales = proj_plane_pixel_scales(cel)
        except Exception:  # noqa: BLE001
            return float("nan")
    units = [str(u) for u in cel.wcs.cunit]
    factor = 3600.0 if all(u in ("deg", "") for u in units) else float("nan")
    s = float(np.mean(np.abs(scales))) * factor
    return s if np.isfinite(s) and s > 0 else float("nan")


def read_fits_cutout(blob: bytes, *, hdu: int | None = None, id_keyword: str = "OBJID",
                     redshift_keyword: str = "REDSHIFT", flip: bool = True) -> dict:
    """One FITS cutout (plain or gzipped bytes) -> {png, pixel_scale, id, redshift}."""
    from astropy.io import fits

    if blob[:2] == b"\x1f\x8b":
        blob = gzip.decompress(blob)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with fits.open(io.BytesIO(blob), memmap=False) as hdul:
            if hdu is None:
                chosen = next((h for h in hdul if h.is_image and h.data is not None and h.data.ndim in (2, 3)), None)
                if chosen is None:
                    raise ValueError("no 2-D or 3-D image HDU")
            else:
                chosen = hdul[hdu]
                if not chosen.is_image or chosen.data is None:
                    raise ValueError(f"HDU {hdu} holds no image")
            rgb = fits_data_to_rgb(chosen.data, flip=flip)
            headers = [chosen.header, hdul[0].header]
            oid = next((h[id_keyword] for h in headers if id_keyword and id_keyword in h), None)
            z = next((h[redshift_keyword] for h in headers if redshift_keyword and redshift_keyword in h), None)
            try:
                z = float(z) if z is not None else float("nan")
            except (TypeError, ValueError):
                z = float("nan")
            return {"png": encode_png(rgb), "pixel_scale": _fits_pixel_scale(chosen.header),
                    "id": None if oid is None else str(oid).strip(), "redshift": z}


def _strip_ext(name: str, exts: tuple[str, ...]) -> str:
    low = name.lower()
    for e in sorted(exts, key=len, reverse=True):
        if low.endswith(e):
            return name[: -len(e)]
    return name.rsplit(".", 1)[0]


def _list_files(input_url: str, so, exts: tuple[str, ...], limit: int | None) -> list[str]:
    fs, root = cio.filesystem(input_url, so)
    if not fs.isdir(root):
        raise ImportInputError(f"input folder not found: {input_url}")
    rels = sorted(posixpath.relpath(p, root) for p in fs.find(root)
                  if p.lower().endswith(exts) and not posixpath.basename(p).startswith("."))
    return rels if limit is None else rels[:limit]


def import_fits(input_url: str, output_url: str, *, shard_size: int = DEFAULT_SHARD_SIZE, hdu: int | None = None,
                id_keyword: str = "OBJID", redshift_keyword: str = "REDSHIFT", flip: bool = True,
                limit: int | None = None, overwrite: bool = False, storage_options: dict | None = None,
                log=None) -> ImportSummary:
    """A folder (searched recursively) of FITS cutouts (.fits, .fit, .fts, optionally .gz),
    one galaxy each, in path order.  Image: the ``hdu`` (default the first 2-D/3-D image
    HDU) as PNG (lossless; see :func:`fits_data_to_rgb`).  ``pixel_scale_arcsec`` from the
    header's celestial WCS (astropy proj_plane_pixel_scales, deg -> arcsec), else null.
    Id: header keyword ``id_keyword`` (image HDU, then primary), else the file name without
    extensions; redshift: header keyword ``redshift_keyword``, else null.  ``image_path`` is
    the FITS file; ``fits_error`` says why a row has no image (null when it has one)."""
    so = storage_options
    _check_limit(limit)
    rels = _list_files(input_url, so, FITS_EXTENSIONS, limit)
    reader = _ImageReader(input_url, so)

    def chunks():
        for start in range(0, len(rels), shard_size):
            batch = rels[start : start + shard_size]
            blobs = reader.read(batch)
            ids, pngs, scales, zs, errors = [], [], [], [], []
            for rel, blob in zip(batch, blobs):
                stem = _strip_ext(posixpath.basename(rel), FITS_EXTENSIONS)
                info, err = None, None
                if blob is None:
                    err = "file could not be read"
                else:
                    try:
                        info = read_fits_cutout(blob, hdu=hdu, id_keyword=id_keyword,
                                                redshift_keyword=redshift_keyword, flip=flip)
                    except Exception as e:  # noqa: BLE001 - a bad file is a row with no image, not a failed import
                        err = f"{type(e).__name__}: {e}"
                ids.append((info or {}).get("id") or stem)
                pngs.append(None if info is None else info["png"])
                scales.append(np.nan if info is None else info["pixel_scale"])
                zs.append(np.nan if info is None else info["redshift"])
                errors.append(err)
            yield _Chunk(ids=ids, image_rel=batch, redshift=np.array(zs, float), pixel_scale=np.array(scales, float),
                         images=pngs, extra=[("fits_error", pa.array(errors, pa.string()))])

    opts = dict(hdu=hdu, id_keyword=id_keyword, redshift_keyword=redshift_keyword, flip=flip, limit=limit,
                shard_size=shard_size)
    return _run("fits", chunks(), image_root=input_url, output_url=output_url, shard_size=shard_size, so=so,
                overwrite=overwrite, options=opts, log=log)


# ------------------------------------------------------------------------- 5. folder
def import_folder(input_url: str, output_url: str, *, shard_size: int = DEFAULT_SHARD_SIZE, csv: str | None = None,
                  id_column: str | None = None, image_pattern: str = "{id}.jpg", images: str | None = None,
                  redshift_column: str | None = None, pixel_scale_column: str | None = None,
                  pixel_scale: float | None = None, petro_column: str | None = None, limit: int | None = None,
                  overwrite: bool = False, storage_options: dict | None = None, log=None) -> ImportSummary:
    """The general case: a folder of images (``images``, default ``input_url``) and a CSV
    (``csv``, relative to ``input_url`` or a URL) with one row per galaxy.  The image of a row
    is ``image_pattern.format(id=<id string>, **row)``, relative to the image folder.  The
    named redshift / pixel-scale / petroR90 columns fill the contract columns (or a constant
    ``pixel_scale``); every other CSV column passes through.  Without a CSV: one row per
    .jpg/.jpeg/.png file under the folder (recursively, path order), id = file name without
    extension, no redshift."""
    so = storage_options
    _check_limit(limit)
    if pixel_scale_column and pixel_scale is not None:
        raise ImportInputError("give --pixel-scale-column or --pixel-scale, not both")
    image_root = _url_of(input_url, images) if images else input_url
    const_scale = np.nan if pixel_scale is None else float(pixel_scale)
    opts = dict(csv=csv, id_column=id_column, image_pattern=image_pattern, images=images,
                redshift_column=redshift_column, pixel_scale_column=pixel_scale_column, pixel_scale=pixel_scale,
                petro_column=petro_column, limit=limit, shard_size=shard_size)

    if csv is None:
        if any((id_column, redshift_column, pixel_scale_column, petro_column)):
            raise ImportInputError("--id-column/--redshift-column/--pixel-scale-column/--petro-column need --csv")
        rels = _list_files(image_root, so, IMAGE_EXTENSIONS, limit)

        def chunks_no_csv():
            for start in range(0, len(rels), shard_size):
                batch = rels[start : start + shard_size]
                n = len(batch)
                yield _Chunk(ids=[_strip_ext(posixpath.basename(r), IMAGE_EXTENSIONS) for r in batch],
                             image_rel=batch, redshift=np.full(n, np.nan), pixel_scale=np.full(n, const_scale))

        return _run("folder", chunks_no_csv(), image_root=image_root, output_url=output_url, shard_size=shard_size,
                    so=so, overwrite=overwrite, options=opts, log=log)

    if not id_column:
        raise ImportInputError("--id-column is required with --csv")
    csv_url = _url_of(input_url, csv)
    _require_file(csv_url, so, "CSV")
    header = _csv_header(csv_url, so)
    named = [c for c in (id_column, redshift_column, pixel_scale_column, petro_column) if c]
    _check_columns(header, named, csv_url)
    fields = [f for _, f, _, _ in string.Formatter().parse(image_pattern) if f is not None]
    bad = [f for f in fields if re.split(r"[.\[]", f)[0] not in ({"id"} | set(header))]
    if bad or "" in fields:
        raise ImportInputError(f"--image-pattern {image_pattern!r}: field(s) {bad or ['{}']} are not 'id' or a "
                               f"column of {csv_url}")
    consumed = set(named)
    pattern_columns = {re.split(r"[.\[]", f)[0] for f in fields} - {"id"}
    plan = _scan_csvs([csv_url], so, string_columns=[id_column], limit=limit)

    def chunks():
        for _, df in _iter_csv(plan, so, chunk_rows=shard_size, limit=limit):
            n = len(df)
            ids = [None if pd.isna(v) else str(v).strip() for v in df[id_column]]
            if any(i is None for i in ids):
                raise ImportInputError(f"{csv_url}: empty value in id column {id_column!r}")
            used = df[[c for c in df.columns if c in pattern_columns]]
            rows = used.astype(object).where(used.notna(), None).to_dict("records")
            rel = []
            for i, row in zip(ids, rows):
                try:
                    rel.append(image_pattern.format(**{**row, "id": i}))
                except (KeyError, IndexError, ValueError, TypeError):
                    rel.append(None)
            scale = _float_col(df, pixel_scale_column, n) if pixel_scale_column else np.full(n, const_scale)
            yield _Chunk(ids=ids, image_rel=rel, redshift=_float_col(df, redshift_column, n), pixel_scale=scale,
                         petro=_float_col(df, petro_column, n) if petro_column else None,
                         extra=_passthrough(plan, df, consumed, _passthrough_name))

    return _run("folder", chunks(), image_root=image_root, output_url=output_url, shard_size=shard_size, so=so,
                overwrite=overwrite, options=opts, log=log)


IMPORTERS: dict[str, Callable[..., ImportSummary]] = {
    "kaggle": import_kaggle,
    "gz2": import_gz2,
    "decals": import_decals,
    "fits": import_fits,
    "folder": import_folder,
}
