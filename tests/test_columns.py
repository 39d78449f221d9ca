import json
from pathlib import Path

import pyarrow as pa

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


def test_per_question_fractions_sum_to_one_and_invert_the_cumulative_ones():
    """The plain _fraction columns are per question (GZ DECaLS / Zoobot); the Kaggle ones are cumulative."""
    import numpy as np

    from catalog_xai.core.labels import conditional_from_cumulative, cumulative_from_conditional

    rng = np.random.default_rng(3)
    per_q = rng.random((50, C.N_OUTPUTS))
    cum = cumulative_from_conditional(per_q)
    cond = conditional_from_cumulative(cum)
    for q, sl in C.question_slices().items():
        np.testing.assert_allclose(cond[:, sl].sum(axis=1), 1.0, rtol=1e-12, err_msg=q)
    np.testing.assert_allclose(cumulative_from_conditional(cond), cum, rtol=1e-10)
    # bar_yes: the share of "bar" among those asked, not P(features) x P(not edge-on) x P(bar)
    yes, no = C.KAGGLE_IDS.index("3.1"), C.KAGGLE_IDS.index("3.2")
    np.testing.assert_allclose(cond[:, yes], cum[:, yes] / (cum[:, yes] + cum[:, no]))
    assert np.isnan(conditional_from_cumulative(np.zeros((1, C.N_OUTPUTS)))).all()  # nobody asked: undefined
    assert {f"{n}_cumulative_fraction" for n in C.ANSWER_NAMES} == set(C.CUMULATIVE_COLUMNS)
    assert not set(C.CUMULATIVE_COLUMNS) & set(C.FRACTION_COLUMNS)
    assert C.LABEL_COLUMNS[C.BAR_YES_INDEX] == "vote_bar_yes_cumulative_fraction"


def test_unbarred_by_votes_needs_the_bar_question_answered_no_or_not_reached():
    """Known-empty bar masks for training go only to galaxies the votes call unbarred."""
    import numpy as np

    from catalog_xai.core.labels import cumulative_from_conditional, unbarred_by_votes

    per_q = np.full((4, C.N_OUTPUTS), 0.5)
    feat, edge_no = C.ANSWER_NAMES.index("smooth_or_featured_features_or_disk"), C.ANSWER_NAMES.index("edge_on_no")
    yes = C.ANSWER_NAMES.index("bar_yes")
    per_q[:, feat], per_q[:, feat - 1], per_q[:, feat + 1] = 0.9, 0.05, 0.05
    per_q[:, edge_no], per_q[:, edge_no - 1] = 0.9, 0.1
    per_q[:, yes], per_q[:, yes + 1] = [0.1, 0.6, 0.3, 0.1], [0.9, 0.4, 0.7, 0.9]
    per_q[3, feat], per_q[3, feat - 1] = 0.05, 0.9  # smooth: the bar question hardly reached
    cum = cumulative_from_conditional(per_q)
    assert unbarred_by_votes(cum, 0.2).tolist() == [True, False, False, True]
    assert unbarred_by_votes(cum, 0.3).tolist() == [True, False, True, True]
    cum[0, yes:yes + 2] = np.nan  # the bar answers missing: not evidence of no bar
    assert not unbarred_by_votes(cum, 0.2)[0]


def test_flags_are_distinct_bits_and_documented():
    values = [f.value for f in C.FLAG_BITS]
    assert len(set(values)) == len(values) and all(v & (v - 1) == 0 for v in values)
    assert C.flag_names(C.FLAG["no_redshift"] | C.FLAG["bar_reaches_edge"]) == ["no_redshift", "bar_reaches_edge"]
    doc = C.schema_documents()["output.json"]
    assert [f["name"] for f in doc["flags"]] == [f.name for f in C.FLAG_BITS]
    assert doc["contract_version"] == C.CONTRACT_VERSION >= 2
    assert C.output_schema().field(C.FLAGS).type == pa.int32()


def test_astropy_reads_units_descriptions_and_provenance(tmp_path):
    """astropy.table.Table.read ignores Arrow field metadata: the shard's table_meta_yaml carries the units."""
    import pyarrow.parquet as pq
    from astropy import units as u
    from astropy.table import Table

    from catalog_xai.storage.provenance import PROVENANCE_KEY, shard_metadata

    passthrough = pa.schema([pa.field("objid", pa.int64()), pa.field("redshift", pa.float64()),
                             pa.field("ra", pa.float64()), pa.field("name", pa.large_string())])
    schema = C.output_schema(passthrough, kpc_h=True)
    table = pa.Table.from_pylist([{f.name: None for f in schema} | {"objid": 7, "name": "NGC 1300", "status": "ok",
                                  "bar_length_arcsec": 12.5, "bar_length_kpc": 3.0, "flags": 32}], schema=schema)
    prov = {"catalog_xai_version": "x", "params": {"tc": 0.85}, "versions": {"torch": "2"}}
    pq.write_table(table.replace_schema_metadata(shard_metadata(table, prov)), tmp_path / "s.parquet")
    t = Table.read(tmp_path / "s.parquet")
    assert t["bar_length_arcsec"].unit == u.arcsec and t["bar_length_kpc"].unit == u.kpc
    assert t["bar_length_pix"].unit == u.pix and t["bar_yes_fraction"].unit == u.dimensionless_unscaled
    assert t["redshift"].unit == u.dimensionless_unscaled  # a contract column, described by the contract
    assert t["ra"].unit is None  # a user's column without a unit is not made dimensionless
    assert t["bar_length_kpc_h"].unit is None and "h^-1 kpc" in t["bar_length_kpc_h"].description
    assert t["bar_length_arcsec"].quantity[0] == 12.5 * u.arcsec
    assert "Algorithm 1" in t["bar_length_pix"].description
    assert str(t["name"][0]) == "NGC 1300"
    assert t.meta[PROVENANCE_KEY]["params"] == {"tc": 0.85}
    assert json.loads(pq.read_schema(tmp_path / "s.parquet").metadata[PROVENANCE_KEY.encode()]) == prov
