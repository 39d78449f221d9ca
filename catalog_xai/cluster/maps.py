"""The saliency maps behind the catalogue: which galaxies keep theirs, and the side dataset.

A survey job run with ``--save-maps`` writes, for each catalogue shard, a Parquet file under
``<output>/_maps/`` (same relative name) with one row per selected galaxy: its objid, the
ensemble-mean SmoothGrad map in float16 (the map Algorithm 1 measured) and where that map
lies on the galaxy's own image, so a viewer can draw it over the cutout.  The file is
published before the shard's commit marker, so a committed shard always has its maps.
The leading underscore keeps ``_maps/`` out of the catalogue's own shard listing.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .. import columns as C
from ..columns import MAP, MAP_COLUMNS, MAPS_DIR  # noqa: F401  (the side dataset's contract)

_THRESHOLD = re.compile(r"^\s*([a-z0-9_]+)\s*(>=|>)\s*([0-9.eE+-]+)\s*$")


@dataclass(frozen=True)
class MapSelection:
    """Which galaxies keep their map: ``all``, ``none``, ``<column> >= <value>`` on a catalogue
    column (e.g. ``bar_yes_fraction>=0.5``), or ``random:<fraction>`` (fixed per objid, so a
    resumed run picks the same galaxies)."""

    kind: str = "none"  # all | none | threshold | random
    column: str = ""
    value: float = 0.0
    strict: bool = False

    @classmethod
    def parse(cls, text: str | None) -> MapSelection:
        """
        Raises
        ------
        ValueError
            If ``text`` is not one of the forms above, names no numeric catalogue column, or
            gives a random fraction outside (0, 1].
        """
        t = (text or "none").strip()
        if t in ("all", "none"):
            return cls(t)
        if t.startswith("random:"):
            try:
                frac = float(t.split(":", 1)[1])
            except ValueError:
                frac = float("nan")
            if not 0 < frac <= 1:
                raise ValueError(f"--save-maps {text!r}: random:<fraction> needs a fraction in (0, 1]")
            return cls("random", value=frac)
        m = _THRESHOLD.match(t)
        if not m:
            raise ValueError(f"--save-maps {text!r}: expected all, none, random:<fraction> or "
                             "<column> >= <value> (e.g. bar_yes_fraction>=0.5)")
        col = C.OUTPUT_BY_NAME.get(m.group(1))
        if col is None or not pa.types.is_floating(col.type):
            raise ValueError(f"--save-maps {text!r}: {m.group(1)!r} is not a numeric catalogue column")
        return cls("threshold", column=m.group(1), value=float(m.group(3)), strict=m.group(2) == ">")

    @property
    def active(self) -> bool:
        return self.kind != "none"

    def describe(self) -> str:
        if self.kind == "threshold":
            return f"{self.column}{'>' if self.strict else '>='}{self.value:g}"
        return f"random:{self.value:g}" if self.kind == "random" else self.kind

    def select(self, rows: dict[str, np.ndarray], ok: np.ndarray) -> np.ndarray:
        """Boolean mask over a batch's rows (``rows``: its catalogue columns; ``ok``: rows with a map)."""
        if self.kind == "none":
            return np.zeros(len(ok), bool)
        if self.kind == "all":
            return ok.copy()
        if self.kind == "random":
            ids = rows[C.OBJID]
            u = np.array([zlib.crc32(str(i).encode()) / 2**32 for i in ids])
            return ok & (u < self.value)
        v = np.asarray(rows[self.column], dtype=float)
        with np.errstate(invalid="ignore"):
            return ok & np.isfinite(v) & ((v > self.value) if self.strict else (v >= self.value))


def map_origin(cutout_px: float, crop_px: float) -> float:
    """Image-pixel coordinate of a centred frame's top-left corner, as ``preprocess.frame_image`` cuts it."""
    size, crop = int(cutout_px), int(crop_px)
    if crop <= size:
        return float((size - crop) // 2)
    pad = (crop - size + 1) // 2
    return float((size + 2 * pad - crop) // 2 - pad)


def maps_table(objid: np.ndarray, mean_maps: np.ndarray, cutout_px: np.ndarray, crop_px: np.ndarray,
               cams: tuple[np.ndarray, np.ndarray] | None = None, cam_crop_px: np.ndarray | None = None,
               cam_method: str = "") -> pa.Table:
    """The side-dataset rows of some galaxies: ``mean_maps`` (k, S, S) and their frames, and with
    ``cams`` their (+score, -score) class-activation maps (k, S', S') in the ``cam_crop_px`` frames."""
    k, side = len(objid), mean_maps.shape[-1] if len(mean_maps) else 0
    data = {
        C.OBJID: pa.array(np.asarray(objid, np.int64)),
        "map_side": pa.array(np.full(k, side, np.int16)),
        MAP: pa.array([m.astype("<f2").tobytes() for m in mean_maps], pa.binary()),
        "map_origin_pix": pa.array(np.array([map_origin(c, f) for c, f in zip(cutout_px, crop_px)], np.float32)),
        "map_pixel_pix": pa.array((np.asarray(crop_px, float) / max(side, 1)).astype(np.float32)),
        "image_side": pa.array(np.asarray(cutout_px, float).astype(np.int32)),
    }
    if cams is not None:
        cam_side = cams[0].shape[-1] if len(cams[0]) else 0
        data.update({
            "cam_method": pa.array([cam_method] * k, pa.string()),
            "cam_side": pa.array(np.full(k, cam_side, np.int16)),
            C.CAM_PLUS: pa.array([m.astype("<f2").tobytes() for m in cams[0]], pa.binary()),
            C.CAM_MINUS: pa.array([m.astype("<f2").tobytes() for m in cams[1]], pa.binary()),
            "cam_origin_pix": pa.array(np.array([map_origin(c, f) for c, f in zip(cutout_px, cam_crop_px)],
                                                np.float32)),
            "cam_pixel_pix": pa.array((np.asarray(cam_crop_px, float) / max(cam_side, 1)).astype(np.float32)),
        })
    schema = pa.schema([pa.field(c.name, c.type, metadata={"unit": c.unit, "description": c.description})
                        for c in MAP_COLUMNS if c.name in data])
    return pa.Table.from_pydict(data, schema=schema)


def embeddings_table(objid: np.ndarray, features: list[np.ndarray]) -> pa.Table:
    """The ``_embeddings/`` rows of some galaxies: each member's (k, F_m) pooled features, float16."""
    data = {C.OBJID: pa.array(np.asarray(objid, np.int64))}
    for i, f in enumerate(features):
        f = np.asarray(f, np.float16)
        data[f"{C.EMBEDDING_PREFIX}{i}"] = pa.FixedSizeListArray.from_arrays(pa.array(f.ravel(), pa.float16()),
                                                                            max(f.shape[1], 1) if f.size else 1)
    return pa.table(data)


def read_embeddings(table: pa.Table) -> tuple[np.ndarray, list[np.ndarray]]:
    """(objids, each member's (n, F_m) float32 features) of an ``_embeddings/`` table."""
    ids = table.column(C.OBJID).to_numpy()
    feats = []
    for name in table.column_names:
        if name.startswith(C.EMBEDDING_PREFIX):
            col = table.column(name).combine_chunks()
            width = col.type.list_size
            feats.append(np.asarray(col.flatten(), np.float32).reshape(len(ids), width))
    return ids, feats


def decode_map(blob: bytes, side: int) -> np.ndarray:
    """A stored map back as a (side, side) float32 array."""
    return np.frombuffer(blob, dtype="<f2").reshape(side, side).astype(np.float32)
