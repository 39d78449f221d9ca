"""What a catalogue shard says about itself: units astropy can read, and JSON provenance.

Two readers matter.  pyarrow and pandas see each field's Arrow metadata (``unit``,
``description``).  ``astropy.table.Table.read`` ignores that and reads only its own
``table_meta_yaml`` key (astropy.io.misc.parquet), so a shard carries both, built here from
the same ``columns`` contract.  Provenance (code, ensemble, parameters, library versions,
device) is one JSON document under ``catalog_xai.provenance``; astropy also shows it as
``Table.meta``.
"""

from __future__ import annotations

import json
import platform
import sys
from datetime import datetime, timezone
from functools import lru_cache

import numpy as np
import pyarrow as pa

from .. import __version__
from .. import columns as C

PROVENANCE_KEY = "catalog_xai.provenance"


@lru_cache(maxsize=1)
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_description(device: str | None = None) -> str:
    """The accelerator a shard was computed on, in words (``cuda: NVIDIA H100 ...`` or the CPU model)."""
    import torch

    dev = str(device or "cpu")
    if dev.startswith("cuda") and torch.cuda.is_available():
        return f"{dev}: {torch.cuda.get_device_name(torch.device(dev))}"
    return f"cpu: {_cpu_model()} ({torch.get_num_threads()} threads)"


def library_versions() -> dict[str, str]:
    """Versions of the libraries that decide the numbers in a catalogue."""
    import astropy
    import torch

    out = {"catalog_xai": __version__, "python": sys.version.split()[0], "numpy": np.__version__,
           "torch": str(torch.__version__), "pyarrow": pa.__version__, "astropy": astropy.__version__}
    try:
        import ray

        out["ray"] = ray.__version__
    except ImportError:  # a shard processed outside Ray (a notebook, a test)
        pass
    return out


def provenance(*, manifest: dict, checkpoint: str | None, params: dict, device: str | None = None,
               bar_manifest: dict | None = None, bar_checkpoint: str | None = None, **extra) -> dict:
    """The JSON provenance of a catalogue shard or run.

    ``bar_manifest``/``bar_checkpoint``: the ensemble whose maps measured the bars, where it is
    not the one that gave the fractions (the ``bar_*`` keys name it; otherwise they repeat the first).
    """
    from .checkpoints import ensemble_hash

    def _hash(m: dict) -> str | None:  # an ensemble built in memory (a notebook, a test) has no files to hash
        return ensemble_hash(m) if m.get("models") else None

    bars_from = manifest if bar_manifest is None else bar_manifest
    return {"contract_version": C.CONTRACT_VERSION, "created": datetime.now(timezone.utc).isoformat(),
            "catalog_xai_version": __version__, "checkpoint": checkpoint, "ensemble": manifest.get("name"),
            "ensemble_hash": _hash(manifest),
            "bar_checkpoint": checkpoint if bar_manifest is None else bar_checkpoint,
            "bar_ensemble": bars_from.get("name"), "bar_ensemble_hash": _hash(bars_from),
            "params": params, "versions": library_versions(),
            "device": device_description(device), **extra}


def field_annotation(field: pa.Field) -> tuple[str | None, str | None]:
    """A field's (unit, description) from its Arrow metadata, None where it has none.  A unit
    with no standard string is None too: h^-1 kpc ("h" would read as hours in astropy and FITS);
    the description says it."""
    md = {k.decode(): v.decode() for k, v in (field.metadata or {}).items()}
    unit = md.get("unit")
    return (None if unit is not None and unit.endswith("/ h") else unit), md.get("description")


def _astropy_unit(unit: str | None, t: pa.DataType) -> str | None:
    if unit is None:  # a user's column that came without a unit: unknown, not dimensionless
        return None
    if not unit:  # a fraction, a threshold, a redshift: dimensionless; ids, flags and text have no unit
        return "" if pa.types.is_floating(t) else None
    return unit


def _numpy_dtype(t: pa.DataType) -> np.dtype:
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return np.dtype("U1")
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return np.dtype("S1")
    return np.dtype(t.to_pandas_dtype())


def astropy_table_meta(schema: pa.Schema, meta: dict) -> str:
    """astropy's ``table_meta_yaml`` for a schema: every column with its unit and description.

    Units come from each field's metadata (``columns.output_schema`` puts the contract's there);
    a column of some other Arrow type astropy cannot describe (lists, structs) is listed
    without a unit.
    """
    from astropy.table import Column, Table
    from astropy.table.meta import get_yaml_from_table

    t = Table(meta=meta)
    for field in schema:
        unit, description = field_annotation(field)
        try:
            dtype = _numpy_dtype(field.type)
        except (NotImplementedError, TypeError):
            dtype = np.dtype(object)
        t.add_column(Column(np.zeros(0, dtype), name=field.name, unit=_astropy_unit(unit, field.type),
                            description=description))
    return "\n".join(get_yaml_from_table(t))


def shard_metadata(table: pa.Table, prov: dict) -> dict[bytes, bytes]:
    """Schema metadata of a catalogue shard: JSON provenance and astropy's units and string lengths."""
    text = json.dumps(prov)
    md = {PROVENANCE_KEY: text, "table_meta_yaml": astropy_table_meta(table.schema, {PROVENANCE_KEY: json.loads(text)})}
    for field in table.schema:  # astropy sizes its fixed-width string columns from these
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            lengths = [len(s) for s in table.column(field.name).to_pylist() if s is not None]
            md[f"table::len::{field.name}"] = str(max(lengths, default=1))
    return {k.encode(): v.encode() for k, v in md.items()}
