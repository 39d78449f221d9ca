"""The layers stay apart: the science core (catalog_xai/core/) is numpy/torch only."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "catalog_xai"
CORE_MODULES = sorted((PACKAGE / "core").glob("*.py"))
#: What the science may not import: Ray, object storage, and the layers above it.
FORBIDDEN = {"ray", "fsspec", "s3fs", "gcsfs", "pyarrow.parquet", "catalog_xai.storage", "catalog_xai.cluster",
             "catalog_xai.cli", "catalog_xai.importers", "os", "pathlib", "shutil", "glob", "tempfile"}
#: Calls that reach the file system: the builtin open, and methods that read or write files.
FORBIDDEN_NAME_CALLS = {"open"}
FORBIDDEN_METHOD_CALLS = {"savefig", "to_parquet", "read_parquet", "read_csv", "to_csv", "mkdir", "write_text",
                          "read_text", "write_bytes", "read_bytes", "torch.save", "torch.load", "np.save", "np.load",
                          "np.savez", "np.loadtxt", "np.savetxt"}


def _imports(tree: ast.AST, module: str) -> set[str]:
    names = set()
    package = "catalog_xai.core"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = base + (f".{node.module}" if node.module else "")
            else:
                base = node.module
            names |= {base} | {f"{base}.{a.name}" for a in node.names}
    return names


def test_the_walk_finds_the_core():
    assert len(CORE_MODULES) >= 10, CORE_MODULES


@pytest.mark.parametrize("path", CORE_MODULES, ids=lambda p: p.name)
def test_science_core_imports_no_io_or_ray(path):
    tree = ast.parse(path.read_text())
    bad = {n for n in _imports(tree, path.stem) for f in FORBIDDEN if n == f or n.startswith(f + ".")}
    assert not bad, f"core/{path.name} imports {sorted(bad)}"


@pytest.mark.parametrize("path", CORE_MODULES, ids=lambda p: p.name)
def test_science_core_opens_no_files(path):
    tree = ast.parse(path.read_text())
    bad = _file_calls(tree)
    assert not bad, f"core/{path.name} calls {sorted(bad)}"


def _file_calls(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Name) and f.id in FORBIDDEN_NAME_CALLS:
            found.add(f.id)
        elif isinstance(f, ast.Attribute):
            qualified = f"{f.value.id}.{f.attr}" if isinstance(f.value, ast.Name) else f.attr
            found |= {n for n in (f.attr, qualified) if n in FORBIDDEN_METHOD_CALLS}
    return found


def test_the_checks_catch_a_violation():
    """The two checks above fail on a module that breaks the rule (so they cannot pass vacuously)."""
    tree = ast.parse("import fsspec\nfrom ..storage import load_ensemble\nopen('x')\n")
    assert "fsspec" in _imports(tree, "x") and "catalog_xai.storage.load_ensemble" in _imports(tree, "x")
    assert _file_calls(tree) == {"open"}
    assert _file_calls(ast.parse("torch.save(s, p)\nfig.savefig('a.png')\nImage.open(io.BytesIO(b))")) == {
        "torch.save", "savefig"}


def test_no_module_shadows_the_standard_library():
    import sys

    shadowing = [p for p in PACKAGE.rglob("*.py") if p.stem in sys.stdlib_module_names]
    assert not shadowing, shadowing
