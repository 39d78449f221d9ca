import json
from pathlib import Path

from catalog_xai import columns as C


def test_gz2_tree_has_37_answers_in_kaggle_order():
    assert C.N_OUTPUTS == 37
    assert C.KAGGLE_IDS[0] == "1.1" and C.KAGGLE_IDS[-1] == "11.6"
    assert C.KAGGLE_IDS[C.BAR_YES_INDEX] == "3.1"
    assert "bar_yes_fraction" in C.FRACTION_COLUMNS
    assert "smooth_or_featured_smooth_fraction" in C.FRACTION_COLUMNS
    assert len(set(C.FRACTION_COLUMNS)) == 37


def test_every_parent_answer_exists():
    for q in C.GZ2_TREE:
        assert q.parent is None or q.parent in C.KAGGLE_IDS


def test_output_schema_has_required_columns_with_units():
    schema = C.output_schema()
    for name in ("bar_length_pix", "bar_length_arcsec", "bar_length_kpc", "status", *C.FRACTION_COLUMNS,
                 *C.SPREAD_COLUMNS):
        assert name in schema.names
    assert schema.field("bar_length_kpc").metadata[b"unit"] == b"kpc"
    assert "bar_length_kpc_h" not in schema.names
    assert "bar_length_kpc_h" in C.output_schema(kpc_h=True).names


def test_schema_files_match_the_code():
    """schemas/ is generated from catalog_xai.columns; regenerate with python -m catalog_xai.columns."""
    folder = Path(__file__).resolve().parent.parent / "schemas"
    for name, doc in C.schema_documents().items():
        assert json.loads((folder / name).read_text()) == json.loads(json.dumps(doc)), name
