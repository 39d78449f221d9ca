"""The science core stays pure: numpy/torch in, numpy/torch out; no Ray, no files, no storage."""

import ast
from pathlib import Path

import pytest

CORE = ["preprocess", "models", "ensemble", "saliency", "bars", "units", "catalogue", "synth", "training",
        "tuning", "evaluation", "figures", "columns"]
FORBIDDEN = {"ray", "fsspec", "s3fs", "gcsfs", "catalog_xai.io", "catalog_xai.pipeline", "catalog_xai.survey"}


@pytest.mark.parametrize("module", CORE)
def test_science_core_imports_no_io_or_ray(module):
    src = Path(__file__).resolve().parent.parent / "catalog_xai" / f"{module}.py"
    tree = ast.parse(src.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = "catalog_xai" + (f".{node.module}" if node.module else "") if node.level else node.module
            names |= {base} | {f"{base}.{a.name}" for a in node.names}
    bad = {n for n in names for f in FORBIDDEN if n == f or n.startswith(f + ".")}
    assert not bad, f"{module}.py imports {sorted(bad)}"
