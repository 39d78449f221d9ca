"""The survey job end to end: real local Ray, real S3 (moto server) through s3fs."""

import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import s3fs
from PIL import Image

from catalog_xai import columns as C
from catalog_xai import storage
from catalog_xai.cli import classify_survey
from catalog_xai.storage.validate import validate_catalogue


def _put(fs, table, path):
    buf = io.BytesIO()
    pq.write_table(table, buf)
    fs.pipe(path, buf.getvalue())


def _png(size):
    buf = io.BytesIO()
    Image.fromarray(np.full((size, size, 3), 40, np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def test_survey_on_s3_every_row_out_bad_shard_named(ray_session, s3_bucket, synthetic_table, tiny_checkpoint,
                                                    tmp_path):
    bucket, opts = s3_bucket
    fs = s3fs.S3FileSystem(endpoint_url=opts["endpoint_url"])
    t = synthetic_table
    _put(fs, t.slice(0, 3), f"{bucket}/survey/a/shard-0.parquet")
    _put(fs, t.slice(3, 2), f"{bucket}/survey/shard-1.parquet")
    bad = t.slice(5, 3).to_pydict()
    bad[C.IMAGE][0] = b"not a jpeg at all"
    bad[C.REDSHIFT][1] = None
    bad[C.IMAGE][2] = _png(100)  # wrong size for GZ2, still square
    _put(fs, pa.table(bad, schema=t.schema), f"{bucket}/survey/shard-2.parquet")
    _put(fs, t.slice(0, 2).drop_columns([C.IMAGE]), f"{bucket}/survey/shard-3.parquet")

    rc = classify_survey.main([
        "--input", f"{bucket}/survey/", "--output", f"{bucket}/vac/", "--checkpoint", tiny_checkpoint,
        "--storage-options", json.dumps(opts), "--n-samples", "4", "--tl", "5", "--batch-size", "2",
        "--max-actors", "2", "--save-maps", "bar_saliency_threshold>=0",
        "--precision", "fp32",  # auto measures per process: the recomputation below must match it
        "--save-embeddings", "--cam", "gradcam", "--cam-answer", "edge_on_yes",
    ])
    assert rc == 1  # one shard failed; the others completed

    summary = json.loads(fs.cat(f"{bucket}/vac/_summary.json"))
    failed = [r for r in summary["per_shard"] if r["error"]]
    assert len(failed) == 1 and failed[0]["shard"].endswith("shard-3.parquet")
    assert "required column 'image' is missing" in failed[0]["error"]
    assert summary["galaxies"] == 8

    outs = sorted(fs.find(f"{bucket}/vac/"))
    assert [o.split("/vac/")[1] for o in outs if o.endswith(".parquet") and "/_" not in o] == [
        "a/shard-0.parquet", "shard-1.parquet", "shard-2.parquet"]
    for name, rows in (("a/shard-0.parquet", t.slice(0, 3)), ("shard-1.parquet", t.slice(3, 2))):
        out = pq.read_table(fs.open(f"{bucket}/vac/{name}", "rb"))
        assert out.column(C.OBJID).to_pylist() == rows.column(C.OBJID).to_pylist()
        assert out.column("true_bar_length_pix").to_pylist() == rows.column("true_bar_length_pix").to_pylist()
        assert C.IMAGE not in out.column_names
        assert set(out.column(C.STATUS).to_pylist()) == {"ok"}
        assert out.schema.field(C.BAR_LENGTH_KPC).metadata[b"unit"] == b"kpc"
    out = pq.read_table(fs.open(f"{bucket}/vac/shard-2.parquet", "rb")).to_pydict()
    assert out[C.OBJID] == bad[C.OBJID]
    assert out[C.STATUS][0] == "image could not be decoded" and out["bar_yes_fraction"][0] is None
    assert out[C.STATUS][1] == "no redshift: kpc not computed" and out[C.BAR_LENGTH_KPC][1] is None
    assert out[C.BAR_LENGTH_ARCSEC][1] is not None
    assert out[C.STATUS][2] == "ok" and out[C.BAR_LENGTH_PIX][2] is not None

    # The maps of the selected galaxies (all with a map here) sit beside each committed shard, on the frame
    # the model saw: the saved map is the one the catalogue measured, recomputed here from the image.
    from catalog_xai import storage
    from catalog_xai.cluster.maps import decode_map
    from catalog_xai.core.catalogue import ensemble_mean_maps, run_ensemble
    from catalog_xai.core.params import MethodParams
    from catalog_xai.core.preprocess import crop_pixels

    assert summary["maps_saved"] == 7  # 8 rows, one undecodable image
    maps = pq.read_table(fs.open(f"{bucket}/vac/_maps/shard-2.parquet", "rb")).to_pylist()
    assert [m[C.OBJID] for m in maps] == bad[C.OBJID][1:]
    ens = storage.load_ensemble(tiny_checkpoint)
    again = run_ensemble(ens, objid=bad[C.OBJID][1:], image=bad[C.IMAGE][1:],
                         params=MethodParams(n_samples=4, precision="fp32"),
                         petro_r90=bad[C.PETRO_R90][1:])
    for m, expected in zip(maps, ensemble_mean_maps(again)):
        np.testing.assert_allclose(decode_map(m[C.MAP], m["map_side"]), expected, atol=2e-3)  # float16
    assert maps[1]["image_side"] == 100 and maps[0]["image_side"] == 424
    crop = crop_pixels(100, ens.spec.crop_fraction)  # native framing: the central crop of the 100-px image
    assert abs(maps[1]["map_pixel_pix"] * maps[1]["map_side"] - crop) < 1e-3
    assert maps[1]["map_origin_pix"] == (100 - crop) // 2
    assert maps[0]["cam_method"] == "gradcam:edge_on_yes" and len(maps[0][C.CAM_PLUS]) == 2 * maps[0]["cam_side"] ** 2
    # each galaxy the models could use has its features, one block per member (seed 004's embedding)
    from catalog_xai.cluster.maps import read_embeddings

    emb_ids, feats = read_embeddings(pq.read_table(fs.open(f"{bucket}/vac/_embeddings/shard-2.parquet", "rb")))
    assert list(emb_ids) == bad[C.OBJID][1:] and len(feats) == len(ens.models)
    np.testing.assert_allclose(feats[0], ens.embed(again.framed.x)[0].numpy(), rtol=2e-3, atol=2e-3)
    marker = json.loads(fs.cat(f"{bucket}/vac/_committed/shard-2.parquet.json"))
    assert marker["rows"] == 3

    # The gallery of that catalogue: a static page with a row and an image per galaxy.
    from catalog_xai.cli import gallery

    page_dir = tmp_path / "gallery"
    assert gallery.main(["--catalogue", f"{bucket}/vac/", "--output", str(page_dir), *["--storage-options",
                                                                                      json.dumps(opts)]]) == 0
    page = (page_dir / "index.html").read_text()
    assert page.count("<tr data-objid=") == 8 and page.count('<img src="img/') == 7
    assert "image unavailable: image could not be decoded" in page
    assert all((page_dir / "img" / f"{m[C.OBJID]}.png").stat().st_size > 1000 for m in maps)

    # The validator finds every row of the good shards, and names the shard that failed.
    res = validate_catalogue(f"{bucket}/survey/", f"{bucket}/vac/", opts)
    assert res["rows_in"] == 10 and res["rows_out"] == 8
    assert len(res["problems"]) == 1 and "shard-3.parquet: no catalogue shard" in res["problems"][0]

    # The validation and release jobs, object storage in and out.
    from astropy.io import fits

    from catalog_xai.cli import make_release
    from catalog_xai.cli import validate_catalogue as validate_job

    so = ["--storage-options", json.dumps(opts)]
    assert validate_job.main(["--input", f"{bucket}/survey/", "--output", f"{bucket}/vac/", *so]) == 1
    assert make_release.main(["--catalogue", f"{bucket}/vac/", "--release", f"{bucket}/dr1/", "--name", "vac",
                              *so]) == 0
    fs.invalidate_cache()
    released = pq.read_table(fs.open(f"{bucket}/dr1/vac.parquet", "rb"))
    assert sorted(released.column(C.OBJID).to_pylist()) == sorted(t.slice(0, 8).column(C.OBJID).to_pylist())
    with fs.open(f"{bucket}/dr1/vac.fits", "rb") as f, fits.open(io.BytesIO(f.read()), checksum=True) as hdul:
        assert list(hdul["CATALOGUE"].data["objid"]) == released.column(C.OBJID).to_pylist()
        assert hdul["CATALOGUE"].header["HIERARCH CXAI ENSEMBLE"] == "tiny-test"
    assert len(fs.cat(f"{bucket}/dr1/SHA256SUMS").decode().splitlines()) == 2


def test_demo_default_runs_with_the_shipped_ensemble(ray_session, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rc = classify_survey.main(["--demo", "synthetic", "--demo-galaxies", "4", "--n-samples", "8"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "runs/demo/vac-synthetic" in out and "galaxies:        4" in out
    table = pq.read_table(tmp_path / "runs/demo/vac-synthetic")
    assert table.num_rows == 4 and set(table.column(C.STATUS).to_pylist()) == {"ok"}
    assert np.all(np.asarray(table.column(C.BAR_LENGTH_KPC)) > 0)


def test_bad_parameters_exit_with_a_message(capsys):
    assert classify_survey.main(["--tc", "2"]) == 2
    assert "tc must be in" in capsys.readouterr().err


def test_resume_skips_committed_shards_and_refuses_other_configs(ray_session, tmp_path, synthetic_table,
                                                                 tiny_checkpoint, capsys):
    survey, out = tmp_path / "survey", tmp_path / "vac"
    survey.mkdir()
    for k in range(3):
        pq.write_table(synthetic_table.slice(2 * k, 2), survey / f"s{k}.parquet")
    base = ["--input", str(survey), "--output", str(out), "--checkpoint", tiny_checkpoint, "--n-samples", "2",
            "--tl", "5", "--max-actors", "1", "--precision", "fp32"]  # auto is measured per actor: may differ
    assert classify_survey.main(base) == 0
    first = pq.read_table(out / "s1.parquet")
    # s1: the job died after publishing, before committing. s2: a half-written file, never committed.
    (out / "_committed" / "s1.parquet.json").unlink()
    (out / "_committed" / "s2.parquet.json").unlink()
    (out / "s2.parquet").write_bytes(b"PAR1 half")
    capsys.readouterr()
    assert classify_survey.main(base) == 0
    text = capsys.readouterr().out
    assert "resuming: 1 of 3 shards already committed" in text
    redone = {r["shard"].rsplit("/", 1)[1]: r["rows_out"] for r in json.loads((out / "_summary.json").read_text())[
        "per_shard"]}
    assert redone == {"s1.parquet": 2, "s2.parquet": 2}  # s0 was committed: not redone
    assert pq.read_table(out / "s1.parquet").to_pandas().equals(first.to_pandas())  # same seed, same result
    assert pq.read_table(out / "s2.parquet").num_rows == 2
    summary = json.loads((out / "_summary.json").read_text())
    assert summary["shards_skipped_committed"] == 1
    # Another configuration must not mix with this catalogue ...
    assert classify_survey.main(base + ["--tc", "0.8"]) == 2
    assert "another configuration" in capsys.readouterr().err
    # ... unless told to overwrite it.
    assert classify_survey.main(base + ["--tc", "0.8", "--overwrite"]) == 0
    assert json.loads((out / "_summary.json").read_text())["shards_skipped_committed"] == 0
    assert validate_catalogue(str(survey), str(out))["ok"]

    # A release from that catalogue reads back the same through astropy and pandas.
    import hashlib
    import warnings

    import pandas as pd
    from astropy.io import fits
    from astropy.table import Table

    from catalog_xai.storage.release import make_release

    res = make_release(str(out), str(tmp_path / "release"), name="vac")
    assert res["rows"] == 6 and res["duplicated_objids"] == 0
    df = pd.read_parquet(tmp_path / "release" / "vac.parquet")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a bad CHECKSUM/DATASUM would warn
        with fits.open(tmp_path / "release" / "vac.fits", checksum=True) as hdul:
            header = hdul["CATALOGUE"].header
            ft = Table(hdul["CATALOGUE"].data)
    assert list(ft["objid"]) == list(df["objid"]) == synthetic_table.column("objid").to_pylist()[:6]
    np.testing.assert_allclose(np.asarray(ft["bar_length_kpc"]), df["bar_length_kpc"].to_numpy(), equal_nan=True)
    assert [s.strip() for s in ft["status"]] == list(df["status"])
    # the edge flag: 1 / 0 in FITS, null (TNULL) where the Parquet flag is null
    with fits.open(tmp_path / "release" / "vac.fits") as hdul:
        edge = Table.read(hdul["CATALOGUE"])["bar_reaches_edge"]
    want = [None if v is None or v is pd.NA else int(v) for v in df["bar_reaches_edge"]]
    assert [None if np.ma.is_masked(v) else int(v) for v in edge] == want
    assert header["HIERARCH CXAI PARAM TC"] == 0.8 and header["HIERARCH CXAI PARAM N_SAMPLES"] == 2
    units = {header[k]: header[k.replace("TTYPE", "TUNIT")] for k in header
             if k.startswith("TTYPE") and k.replace("TTYPE", "TUNIT") in header}
    assert units["bar_length_kpc"] == "kpc" and units["bar_length_arcsec"] == "arcsec"
    for line in (tmp_path / "release" / "SHA256SUMS").read_text().split("\n")[:-1]:
        digest, fname = line.split()
        assert hashlib.sha256((tmp_path / "release" / fname).read_bytes()).hexdigest() == digest


def test_default_demo_runs_on_the_shipped_real_sample(ray_session, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert classify_survey.main([]) == 0  # exactly the README's demo
    out = capsys.readouterr().out
    assert "36 real SDSS barred galaxies with redshifts" in out
    assert "ensemble sdss-finetuned, saliency maps and bar lengths from saliency-evidence" in out
    table = pq.read_table(tmp_path / "runs/demo/vac-bars")
    prov = json.loads(table.schema.metadata[b"catalog_xai.provenance"])
    assert (prov["ensemble"], prov["bar_ensemble"]) == ("sdss-finetuned", "saliency-evidence")
    assert prov["params"]["tc"] == 0.1 and prov["params"]["linearity"] == "eigen"  # the bar ensemble's read-out
    own = storage.read_manifest(storage.DEFAULT_BAR_CHECKPOINT)["method"]  # and its SmoothGrad, from its manifest
    assert {k: prov["params"][k] for k in own} == own and own.get("symmetry") == "dihedral"
    t = table.to_pandas()
    assert len(t) == 36 and t["human_bar_length_arcsec"].notna().all()  # the humans' lengths ride along
    assert set(t[C.STATUS]) == {"ok"}  # spectroscopic redshifts: every length in kpc too
    assert t[C.BAR_LENGTH_ARCSEC].notna().all() and t[C.BAR_LENGTH_KPC].notna().all()
    assert "=== bar lengths beside the humans' (Hoyle et al. 2011; 36 galaxies) ===" in out
    rho = float(out.split("Pearson rho (arcsec) ")[1].split()[0])
    assert abs(rho - np.corrcoef(t[C.BAR_LENGTH_ARCSEC], t["human_bar_length_arcsec"])[0, 1]) < 0.01


def test_empty_shard_and_duplicated_objids_keep_every_row(ray_session, tmp_path, synthetic_table, tiny_checkpoint):
    survey, out = tmp_path / "survey", tmp_path / "vac"
    survey.mkdir()
    pq.write_table(synthetic_table.slice(0, 0), survey / "empty.parquet")
    dup = pa.concat_tables([synthetic_table.slice(0, 2), synthetic_table.slice(0, 1)])  # objid repeated within
    pq.write_table(dup, survey / "dup.parquet")
    pq.write_table(synthetic_table.slice(1, 1), survey / "dup_across.parquet")  # and across shards
    odd = synthetic_table.slice(2, 2)  # a row with no objid, and redshifts stored as text
    odd = odd.set_column(odd.schema.get_field_index(C.OBJID), C.OBJID, pa.array([None, 103], pa.int64()))
    odd = odd.set_column(odd.schema.get_field_index(C.REDSHIFT), C.REDSHIFT, pa.array(["0.05", "n/a"]))
    pq.write_table(odd, survey / "odd.parquet")
    rc = classify_survey.main(["--input", str(survey), "--output", str(out), "--checkpoint", tiny_checkpoint,
                               "--n-samples", "2", "--tl", "5"])
    assert rc == 0
    assert pq.read_table(out / "empty.parquet").num_rows == 0
    d = pq.read_table(out / "dup.parquet").column(C.OBJID).to_pylist()
    assert d == dup.column(C.OBJID).to_pylist()  # nothing dropped, nothing merged
    o = pq.read_table(out / "odd.parquet")
    assert o.column(C.OBJID).to_pylist() == [None, 103]
    assert o.column(C.REDSHIFT).to_pylist() == ["0.05", "n/a"]  # the user's values, as given
    assert o.column(C.STATUS).to_pylist() == ["objid missing: row not processed",
                                              "redshift 'n/a' unusable: kpc not computed"]
    res = validate_catalogue(str(survey), str(out))
    assert res["rows_in"] == res["rows_out"] == 6
    assert any("duplicated objid" in p for p in res["problems"]) and any("appears in" in p for p in res["problems"])
