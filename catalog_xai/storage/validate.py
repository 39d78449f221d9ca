"""Check a finished catalogue against its input survey: every row once, schema and units."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from .. import columns as C
from .. import storage


def _read(url: str, columns: list[str] | None = None, storage_options: dict | None = None) -> pa.Table:
    fs, path = storage.filesystem(url, storage_options)
    with fs.open(path, "rb") as f:
        return pq.read_table(f, columns=columns)


def check_schema(schema: pa.Schema, where: str) -> list[str]:
    """Problems with a catalogue shard's columns, types and units."""
    problems = []
    for col in C.OUTPUT_COLUMNS:
        if col.name not in schema.names:
            if col.required:
                problems.append(f"{where}: column '{col.name}' is missing")
            continue
        field = schema.field(col.name)
        if field.type != col.type:
            problems.append(f"{where}: column '{col.name}' is {field.type}, the contract says {col.type}")
        if col.name != C.OBJID:
            unit = (field.metadata or {}).get(b"unit", b"").decode()
            if unit != col.unit:
                problems.append(f"{where}: column '{col.name}' has unit {unit!r}, the contract says {col.unit!r}")
    return problems


def validate_catalogue(input_url: str, output_url: str, storage_options: dict | None = None) -> dict:
    """Compare every input shard with its catalogue shard; returns counts and a list of problems."""
    problems: list[str] = []
    rows_in = rows_out = 0
    shards = storage.list_shards(input_url, storage_options)
    seen: dict[int, str] = {}
    for shard in shards:
        out_url = storage.output_path(shard, input_url, output_url)
        try:
            src = _read(shard, [C.OBJID], storage_options)
        except Exception as err:  # an unreadable input shard cannot have a catalogue either
            problems.append(f"{shard}: input unreadable ({type(err).__name__}: {err})")
            continue
        rows_in += src.num_rows
        try:
            out = _read(out_url, None, storage_options)
        except FileNotFoundError:
            problems.append(f"{shard}: no catalogue shard at {out_url}")
            continue
        rows_out += out.num_rows
        problems += check_schema(out.schema, out_url)
        ids_in = src.column(C.OBJID).to_pylist()
        ids_out = out.column(C.OBJID).to_pylist() if C.OBJID in out.column_names else []
        if len(ids_in) != len(ids_out):
            problems.append(f"{out_url}: {len(ids_out)} rows for {len(ids_in)} input rows")
        if ids_in != ids_out:
            problems.append(f"{out_url}: objids differ from the input shard's (or their order does)")
        if len(set(ids_out)) != len(ids_out):
            problems.append(f"{out_url}: duplicated objid within the shard "
                            f"(as in the input: {len(set(ids_in)) != len(ids_in)})")
        for i in set(ids_out):
            if i in seen and seen[i] != shard:
                problems.append(f"objid {i} appears in {seen[i]} and {shard}")
            seen.setdefault(i, shard)
        if C.STATUS in out.column_names and out.column(C.STATUS).null_count:
            problems.append(f"{out_url}: {out.column(C.STATUS).null_count} rows have no status")
    return {"shards": len(shards), "rows_in": rows_in, "rows_out": rows_out, "problems": problems, "ok": not problems}
