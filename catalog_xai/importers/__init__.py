"""Importers: the survey formats people actually have -> catalog_xai input shards.

One module per format (kaggle, gz2, decals, fits, folder), all writing through :mod:`.writer`, whose
docstring lists the columns of an imported shard.  The label arithmetic is in :mod:`catalog_xai.core.labels`.
"""

from __future__ import annotations

from collections.abc import Callable

from ..core.labels import (
                           DECALS_QUESTIONS,
                           DECALS_TO_GZ2,
                           HART_ANSWERS,
                           UNREACHED_POLICIES,
                           cumulative_from_conditional,
                           decals_pixel_scale_from_petro,
                           parse_hart_columns,
)
from .decals import import_decals
from .fits import FITS_EXTENSIONS, asinh_to_uint8, encode_png, fits_data_to_rgb, import_fits, read_fits_cutout
from .folder import IMAGE_EXTENSIONS, import_folder
from .gz2 import GZ2_FRACTION_KINDS, import_gz2
from .kaggle import import_kaggle
from .writer import (
                           DEFAULT_SHARD_SIZE,
                           IMAGE_PATH,
                           RESERVED,
                           SHARD_NAME,
                           SOURCE_ID,
                           SUMMARY_FILE,
                           ImportInputError,
                           ImportSummary,
                           hash_objid,
                           objid_from_id,
)

#: Format name (the job's sub-command) -> importer.
IMPORTERS: dict[str, Callable[..., ImportSummary]] = {
    "kaggle": import_kaggle,
    "gz2": import_gz2,
    "decals": import_decals,
    "fits": import_fits,
    "folder": import_folder,
}

__all__ = [
    "IMPORTERS", "import_kaggle", "import_gz2", "import_decals", "import_fits", "import_folder",
    "ImportInputError", "ImportSummary", "hash_objid", "objid_from_id",
    "DEFAULT_SHARD_SIZE", "IMAGE_PATH", "RESERVED", "SHARD_NAME", "SOURCE_ID", "SUMMARY_FILE",
    "GZ2_FRACTION_KINDS", "IMAGE_EXTENSIONS", "FITS_EXTENSIONS", "UNREACHED_POLICIES",
    "asinh_to_uint8", "encode_png", "fits_data_to_rgb", "read_fits_cutout",
    "cumulative_from_conditional", "parse_hart_columns", "HART_ANSWERS", "DECALS_QUESTIONS", "DECALS_TO_GZ2",
    "decals_pixel_scale_from_petro",
]
