"""Issue 15 end to end on files: a catalogue made by the shard processor (the layer the actors call)
with embeddings, class-activation maps and Dirichlet columns, then the disagreement and embedding jobs."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from catalog_xai import columns as C
from catalog_xai.cli import embed_catalogue, gallery, rank_disagreements
from catalog_xai.cluster.maps import MapSelection, decode_map, read_embeddings
from catalog_xai.cluster.shard import process_shard
from catalog_xai.core.ensemble import Ensemble
from catalog_xai.core.models import create_model, default_spec
from catalog_xai.core.params import MethodParams
from catalog_xai.core.preprocess import frame_batch
from catalog_xai.importers.synthetic import synthetic_shard_table


@pytest.fixture(scope="module")
def dirichlet_ensemble():
    torch.manual_seed(1)
    return Ensemble([create_model(default_spec(a, input_size=48, head=h))
                     for a, h in (("small_vgg", "dirichlet"), ("small_resnet", "sigmoid"))], {"name": "tiny-dir"})


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory, dirichlet_ensemble):
    root = tmp_path_factory.mktemp("inspect")
    survey, out = root / "survey", root / "vac"
    survey.mkdir()
    table = synthetic_shard_table(40, seed=5, first_objid=1000)
    pq.write_table(table.slice(0, 24), survey / "a.parquet")
    pq.write_table(table.slice(24), survey / "b.parquet")
    params = MethodParams(n_samples=2, tl=5, cam="hirescam", cam_answer="smooth_or_featured_smooth")
    for name in ("a.parquet", "b.parquet"):
        res = process_shard(str(survey / name), input_url=str(survey), output_url=str(out),
                            ensemble=dirichlet_ensemble, params=params, save_maps=MapSelection.parse("all"),
                            save_embeddings=True)
        assert res.error == ""
    return root, survey, out, table


def test_dirichlet_columns_embeddings_and_cams_beside_the_catalogue(catalogue, dirichlet_ensemble):
    root, survey, out, table = catalogue
    cat = pq.read_table(out / "a.parquet")
    dstd = cat.column(C.DIRICHLET_STD_COLUMNS[0]).to_numpy(zero_copy_only=False)
    assert np.all((dstd > 0) & (dstd < 0.5))  # sqrt of a variance of a fraction
    # the features saved are the members' pooled features of the framed images, in float16
    emb = pq.read_table(out / C.EMBEDDINGS_DIR / "a.parquet")
    ids, feats = read_embeddings(emb)
    assert list(ids) == table.slice(0, 24).column(C.OBJID).to_pylist()
    framed = frame_batch(table.slice(0, 24).column(C.IMAGE).to_pylist(), input_size=48,
                         crop_fraction=dirichlet_ensemble.spec.crop_fraction, framing="native")
    expected = dirichlet_ensemble.embed(framed.x)
    assert len(feats) == 2 and [f.shape for f in feats] == [tuple(e.shape) for e in expected]
    for f, e in zip(feats, expected):
        np.testing.assert_allclose(f, e.numpy(), rtol=2e-3, atol=2e-3)
    # class-activation maps of the chosen answer sit beside each SmoothGrad map
    maps = pq.read_table(out / C.MAPS_DIR / "a.parquet").to_pylist()
    assert maps[0]["cam_method"] == "hirescam:smooth_or_featured_smooth" and maps[0]["cam_side"] == 48
    plus = decode_map(maps[0][C.CAM_PLUS], 48)
    minus = decode_map(maps[0][C.CAM_MINUS], 48)
    assert plus.max() <= 1.001 and (plus.max() > 0 or minus.max() > 0)
    # and the gallery draws them as a fourth panel
    assert gallery.main(["--catalogue", str(out), "--survey", str(survey), "--output", str(root / "page")]) == 0
    from PIL import Image

    assert Image.open(root / "page" / "img" / f"{maps[0][C.OBJID]}.png").size[0] > 600


def test_disagreement_job_ranks_and_finds_controls(catalogue):
    root, survey, out, _ = catalogue
    dest = root / "disagree"
    assert rank_disagreements.main(["--catalogue", str(out), "--output", str(dest), "--top", "5",
                                    "--survey", str(survey), "--checkpoint", "synthetic-small"]) == 0
    scores = pq.read_table(dest / "disagreement.parquet").to_pandas()
    assert len(scores) == 40 and scores[C.DISAGREEMENT_SCORE].notna().all()
    assert set(scores[C.DISAGREEMENT_ANSWER]) <= set(C.ANSWER_NAMES)
    import pandas as pd

    top = pd.read_csv(dest / "top.csv")
    assert list(top["rank"]) == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(top["score"], sorted(scores[C.DISAGREEMENT_SCORE], reverse=True)[:5], rtol=1e-6)
    assert (top["model_like_objid"] != top["objid"]).all() and (top["volunteer_like_objid"] != top["objid"]).all()
    assert (dest / "top.png").stat().st_size > 10_000


def test_disagreement_job_names_a_catalogue_without_votes(tmp_path, catalogue, capsys):
    _, _, out, _ = catalogue
    t = pq.read_table(out / "a.parquet")
    bare = t.drop_columns([c for c in t.column_names if c.startswith("vote")])
    (tmp_path / "cat").mkdir()
    pq.write_table(bare, tmp_path / "cat" / "a.parquet")
    with pytest.raises(SystemExit, match="carries no volunteer votes"):
        rank_disagreements.main(["--catalogue", str(tmp_path / "cat"), "--output", str(tmp_path / "o")])


def test_embedding_job_writes_the_map_and_answers_look_alikes(catalogue, capsys):
    root, _, out, _ = catalogue
    dest = root / "map"
    assert embed_catalogue.main(["--catalogue", str(out), "--output", str(dest), "--perplexity", "5",
                                 "--k", "5"]) == 0
    m = pq.read_table(dest / "embedding_map.parquet").to_pandas()
    assert len(m) == 40 and np.isfinite(m[C.EMBEDDING_X]).all()
    assert set(m[C.MORPHOLOGY_CLASS].dropna()) <= set(embed_catalogue.E.CLASS_NAMES)
    assert m[C.MORPHOLOGY_CLASS_VOTES].notna().any()  # the synthetic survey carries votes
    info = json.loads((dest / "embedding_map.json").read_text())
    assert info["n"] == 40 and info["perplexity"] == 5 and info["flagged"] == int(m[C.OUTLIER_FLAG].sum())
    assert (dest / "embedding_map.png").stat().st_size > 10_000
    capsys.readouterr()
    assert embed_catalogue.main(["--catalogue", str(out), "--like", "1003", "--k", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert "look like 1003" in lines[0] and len(lines) == 4 and "1003 " not in " ".join(lines[1:])
    assert embed_catalogue.main(["--catalogue", str(out), "--like", "7"]) == 2


def test_embedding_job_names_a_catalogue_without_embeddings(tmp_path):
    with pytest.raises(SystemExit, match="--save-embeddings"):
        embed_catalogue.main(["--catalogue", str(tmp_path), "--output", str(tmp_path / "o")])

