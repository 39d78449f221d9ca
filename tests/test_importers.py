"""Survey importers on the real Galaxy Zoo fixtures (catalog_xai/importers/, jobs/import_survey.py)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from catalog_xai import columns as C
from catalog_xai import importers as imp
from catalog_xai import storage
from catalog_xai.core import labels

REPO = Path(__file__).resolve().parents[1]


def _data_root() -> Path | None:
    for cand in (Path(__file__).resolve().parents[2] / "shared" / "data", Path("/work/shared/data")):
        if cand.is_dir():
            return cand
    return None


DATA = _data_root()
pytestmark = pytest.mark.skipif(DATA is None, reason="shared/data (real Galaxy Zoo fixtures) not on this machine")
FIX = (DATA / "fixtures" / "gz_fixtures_lbignone") if DATA else None


def _fixture(*parts) -> Path:
    p = FIX.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"fixture {p} not present")
    return p


def _read(out) -> pd.DataFrame:
    """All shards under ``out``, checked against the input contract, in order."""
    urls = storage.list_shards(str(out))
    for u in urls:
        storage.open_shard(u)  # raises if the input contract is broken
    return pd.concat([pq.read_table(u).to_pandas() for u in urls], ignore_index=True)


def _question_sums_match(df: pd.DataFrame) -> int:
    """Each question's cumulative answers sum to the parent answer's; returns #checks."""
    lab = df[list(C.LABEL_COLUMNS)].to_numpy(np.float64)
    checked = 0
    for q in C.GZ2_TREE:
        sl = C.question_slices()[q.name]
        parent = np.ones(len(df)) if q.parent is None else lab[:, C.KAGGLE_IDS.index(q.parent)]
        s = lab[:, sl].sum(axis=1)
        ok = np.isfinite(s)
        np.testing.assert_allclose(s[ok], parent[ok], atol=1e-5, err_msg=q.name)
        checked += int(ok.sum())
    return checked


# ------------------------------------------------------------------------------ ids
def test_objid_rules():
    assert imp.objid_from_id("587737825678131439") == 587737825678131439
    assert imp.objid_from_id(" 100008 ") == 100008
    # a stable 63-bit hash for non-integer ids (pinned: changing it would renumber surveys)
    assert imp.objid_from_id("J084235.76+241231.3") == 1887519297840145131
    assert 0 <= imp.hash_objid("x" * 100) < 2**63
    assert imp.objid_from_id("99999999999999999999") == imp.hash_objid("99999999999999999999")


def test_cumulative_from_conditional_tree():
    per_q = np.full((1, C.N_OUTPUTS), np.nan)
    sl = C.question_slices()
    per_q[0, sl["smooth_or_featured"]] = [0.2, 0.6, 0.2]
    per_q[0, sl["edge_on"]] = [0.25, 0.75]
    per_q[0, sl["bar"]] = [0.8, 0.4]  # does not sum to 1: renormalised to 2/3, 1/3
    cum = labels.cumulative_from_conditional(per_q)[0]
    assert cum[C.KAGGLE_IDS.index("3.1")] == pytest.approx(2 / 3 * 0.75 * 0.6)
    assert np.isnan(cum[C.KAGGLE_IDS.index("4.1")])  # absent question


# --------------------------------------------------------------------------- Kaggle
def test_kaggle_fixture(tmp_path):
    src = _fixture("galaxy_zoo_challenge", "dummy_data", "galaxy_zoo_challenge")
    s = imp.import_kaggle(str(src), str(tmp_path / "out"), shard_size=2)
    assert (s.rows, s.shards, s.rows_without_image) == (3, 2, 0)
    df = _read(tmp_path / "out")
    csv = pd.read_csv(src / "training_solutions_rev1.csv")
    assert df[C.OBJID].tolist() == csv["GalaxyID"].tolist() == [100008, 100023, 100053]
    assert df["source_id"].tolist() == ["100008", "100023", "100053"]
    np.testing.assert_allclose(df["vote_bar_yes_cumulative_fraction"], csv["Class3.1"], atol=1e-6)
    for kid, col in zip(C.KAGGLE_IDS, C.LABEL_COLUMNS):
        np.testing.assert_allclose(df[col], csv[f"Class{kid}"], atol=1e-6, err_msg=col)
    assert df[C.REDSHIFT].isna().all() and df[C.PIXEL_SCALE].isna().all()
    assert df[C.IMAGE][0] == (src / "images_training_rev1" / "100008.jpg").read_bytes()


def test_kaggle_extra_csv_and_missing_image(tmp_path):
    src = _fixture("galaxy_zoo_challenge", "dummy_data", "galaxy_zoo_challenge")
    # a copy with one image gone: the row stays, with a null image, and is counted
    work = tmp_path / "kaggle"
    (work / "images_training_rev1").mkdir(parents=True)
    (work / "training_solutions_rev1.csv").write_bytes((src / "training_solutions_rev1.csv").read_bytes())
    for gid in ("100008", "100053"):
        name = f"images_training_rev1/{gid}.jpg"
        (work / name).write_bytes((src / name).read_bytes())
    (tmp_path / "extra.csv").write_text("GalaxyID,redshift,petroR90_r\n100008,0.05,12.5\n100023,0.1,\n")
    s = imp.import_kaggle(str(work), str(tmp_path / "out"), extra_csv=str(tmp_path / "extra.csv"))
    assert (s.rows, s.rows_without_image) == (3, 1)
    df = _read(tmp_path / "out")
    assert df[C.IMAGE].isna().tolist() == [False, True, False]
    np.testing.assert_allclose(df[C.REDSHIFT], [0.05, 0.1, np.nan])
    np.testing.assert_allclose(df[C.PETRO_R90], [12.5, np.nan, np.nan])


# ------------------------------------------------------------------------------ GZ2
def _hart(df: pd.DataFrame, task: str, kind: str) -> np.ndarray:
    cols = [c for c in df.columns if c.startswith(task + "_") and c.endswith("_" + kind)
            and not (kind == "fraction" and c.endswith("weighted_fraction"))]
    return df[cols].to_numpy(np.float64)


def test_gz2_hart16_with_filename_mapping(tmp_path):
    src = _fixture("galaxy_zoo_2", "dummy_data", "galaxy_zoo_2")
    s = imp.import_gz2(str(src), str(tmp_path / "out"), fractions="raw")
    table = pd.read_csv(src / "gz2_hart16.csv")
    assert (s.rows, s.rows_without_image) == (len(table), 0)
    df = _read(tmp_path / "out")
    assert df[C.OBJID].tolist() == table["dr7objid"].tolist()
    mapping = pd.read_csv(src / "gz2_filename_mapping.csv").set_index("objid")["asset_id"]
    assert df["asset_id"].tolist() == mapping.loc[table["dr7objid"]].tolist()
    assert df[C.IMAGE][0] == (src / "images" / f"{mapping[table['dr7objid'][0]]}.jpg").read_bytes()
    # cumulative bar = t03 bar x t02 not-edge-on x t01 features (each question renormalised)
    t01, t02, t03 = (_hart(table, t, "fraction") for t in ("t01", "t02", "t03"))
    with np.errstate(invalid="ignore"):
        expected = (t03[:, 0] / t03.sum(axis=1)) * (t02[:, 1] / t02.sum(axis=1)) * (t01[:, 1] / t01.sum(axis=1))
    has_bar_votes = _hart(table, "t03", "count").sum(axis=1) > 0
    bar_yes = df["vote_bar_yes_cumulative_fraction"]
    np.testing.assert_allclose(bar_yes[has_bar_votes], expected[has_bar_votes], rtol=1e-5)
    plain = t03[:, 0] * t02[:, 1] * t01[:, 1]  # the unnormalised product: equal to rounding
    np.testing.assert_allclose(df["vote_bar_yes_cumulative_fraction"][has_bar_votes], plain[has_bar_votes], atol=5e-3)
    assert df["vote_bar_yes_cumulative_fraction"][~has_bar_votes].isna().all()  # nobody answered: NaN
    assert _question_sums_match(df) >= 25  # of 3 rows x 11 questions
    assert df["votes_bar_yes_count"].tolist() == table["t03_bar_a06_bar_count"].tolist()
    assert "t03_bar_a06_bar_debiased" in df.columns and "t03_bar_a06_bar_count" not in df.columns
    # --unreached zero: the unanswered bar question of a galaxy not reaching it is 0, not NaN
    imp.import_gz2(str(src), str(tmp_path / "zero"), unreached="zero")
    z = _read(tmp_path / "zero")
    assert (z["vote_bar_yes_cumulative_fraction"][~has_bar_votes] == 0).all()


def test_gz2_sdss_cutouts_layout(tmp_path):
    src = DATA / "sdss_gz2_cutouts"
    if not (src / "labels_gz2_hart16.csv").exists():
        pytest.skip("sdss_gz2_cutouts not present")
    s = imp.import_gz2(str(src), str(tmp_path / "out"), pixel_scale=0.2, limit=10, shard_size=4)
    assert (s.rows, s.shards, s.rows_without_image) == (10, 3, 0)
    assert [pq.ParquetFile(u).metadata.num_rows for u in s.shard_urls] == [4, 4, 2]
    df = _read(tmp_path / "out")
    table = pd.read_csv(src / "labels_gz2_hart16.csv", nrows=10)
    assert df["source_id"].tolist() == table["image_filename"].tolist()
    assert df[C.OBJID].tolist() == [imp.hash_objid(f) for f in table["image_filename"]]
    assert (df[C.PIXEL_SCALE] == 0.2).all() and df[C.REDSHIFT].isna().all()
    # debiased (default): renormalised per question, so the tree sums hold
    assert _question_sums_match(df) >= 80  # of 10 rows x 9 questions
    arms = [c for c in C.LABEL_COLUMNS if c.startswith(("vote_arm_winding", "vote_arm_count"))]
    assert df[arms].isna().all().all()  # t10/t11 are not in this table
    assert df["votes_arm_count_2_count"].isna().all()
    assert df[C.IMAGE][0] == (src / table["image_filename"][0]).read_bytes()


# --------------------------------------------------------------------------- DECaLS
def test_decals_fixture(tmp_path):
    src = _fixture("galaxy_zoo_decals", "dummy_data", "galaxy_zoo_decals")
    s = imp.import_decals(str(src), str(tmp_path / "out"))
    v12 = pd.read_csv(src / "gz_decals_volunteers_1_and_2.csv")
    v5 = pd.read_csv(src / "gz_decals_volunteers_5.csv")
    assert (s.rows, s.rows_without_image) == (len(v12) + len(v5), 0)
    df = _read(tmp_path / "out")
    assert df["source_id"].tolist() == v12["iauname"].tolist() + v5["iauname"].tolist()
    np.testing.assert_allclose(df[C.REDSHIFT], pd.concat([v12, v5])["redshift"])
    assert df[C.PIXEL_SCALE].isna().all()
    yes = df["vote_bar_yes_cumulative_fraction"].to_numpy(float)
    no = df["vote_bar_no_cumulative_fraction"].to_numpy(float)
    # conditional bar fraction = (strong + weak) / total for DR5, yes / total for DR1-2
    bar_votes = np.concatenate([v12["bar_total-votes"], v5["bar_total-votes"]])
    cond = np.concatenate([v12["bar_yes"] / v12["bar_total-votes"],
                           (v5["bar_strong"] + v5["bar_weak"]) / v5["bar_total-votes"]])
    ok = bar_votes > 0
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose((yes / (yes + no))[ok & (yes + no > 0)], cond[ok & (yes + no > 0)], atol=1e-6)
    assert np.isnan(yes[~ok]).all() and (~ok).sum() == 2  # zero bar votes -> NaN
    # cumulative: bar yes = (strong + weak)/N_bar x edge-on no x featured
    r = v5.iloc[3]
    cum = ((r["bar_strong"] + r["bar_weak"]) / r["bar_total-votes"]
           * r["disk-edge-on_no"] / r["disk-edge-on_total-votes"]
           * r["smooth-or-featured_featured-or-disk"] / r["smooth-or-featured_total-votes"])
    assert yes[len(v12) + 3] == pytest.approx(cum, rel=1e-5)
    assert _question_sums_match(df) > 20
    assert df[[c for c in C.LABEL_COLUMNS if c.startswith("vote_bulge_prominence")]].isna().all().all()
    assert "decals_bar_strong" in df.columns and "decals_bar_yes" in df.columns
    assert not any(c.startswith("bar_") for c in df.columns)  # would clash with catalogue columns
    assert df["decals_bar_strong"][len(v12):].tolist() == v5["bar_strong"].tolist()


# ----------------------------------------------------------------------------- FITS
def _write_fits(path: Path, data, header: dict, gz: bool = False):
    from astropy.io import fits

    hdu = fits.PrimaryHDU(np.asarray(data))
    for k, v in header.items():
        hdu.header[k] = v
    buf = io.BytesIO()
    hdu.writeto(buf)
    raw = buf.getvalue()
    if gz:
        import gzip

        raw = gzip.compress(raw)
    path.write_bytes(raw)


def test_fits_wcs_and_bad_files(tmp_path):
    from PIL import Image

    src = tmp_path / "fits"
    src.mkdir()
    rng = np.random.default_rng(0)
    img = rng.normal(0, 1, (24, 24)).astype(np.float32)
    img[0, 0] = 50.0  # first FITS row: bottom of the picture
    wcs = {"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CRVAL1": 150.0, "CRVAL2": 2.0, "CRPIX1": 12.5,
           "CRPIX2": 12.5, "CDELT1": -0.262 / 3600, "CDELT2": 0.262 / 3600, "CUNIT1": "deg", "CUNIT2": "deg"}
    _write_fits(src / "a_grey.fits", img, {**wcs, "OBJID": 1234567, "REDSHIFT": 0.05})
    _write_fits(src / "b_colour.fits.gz", rng.normal(0, 1, (3, 16, 20)), {}, gz=True)  # non-square, no WCS
    (src / "c_broken.fits").write_bytes(b"not a fits file")
    s = imp.import_fits(str(src), str(tmp_path / "out"))
    assert (s.rows, s.rows_without_image) == (3, 1)
    df = _read(tmp_path / "out")
    assert df[C.OBJID].tolist() == [1234567, imp.hash_objid("b_colour"), imp.hash_objid("c_broken")]
    assert df[C.PIXEL_SCALE][0] == pytest.approx(0.262, rel=1e-9)
    assert np.isnan(df[C.PIXEL_SCALE][1]) and np.isnan(df[C.PIXEL_SCALE][2])
    assert df[C.REDSHIFT][0] == pytest.approx(0.05)
    a = np.asarray(Image.open(io.BytesIO(df[C.IMAGE][0])))
    assert a.shape == (24, 24, 3) and a.dtype == np.uint8 and (a[..., 0] == a[..., 1]).all()
    assert a[-1, 0, 0] == 255  # the bright first row is at the bottom
    b = Image.open(io.BytesIO(df[C.IMAGE][1]))
    assert b.format == "PNG" and b.size == (20, 16) and b.mode == "RGB"
    assert df[C.IMAGE][2] is None and "OSError" in df["fits_error"][2]


def test_fits_gz3d_fixture(tmp_path):
    from PIL import Image

    src = _fixture("galaxy_zoo_3d", "dummy_data", "galaxyzoo3d")
    s = imp.import_fits(str(src), str(tmp_path / "out"), limit=1)
    assert (s.rows, s.rows_without_image) == (1, 0)
    df = _read(tmp_path / "out")
    im = Image.open(io.BytesIO(df[C.IMAGE][0]))
    assert im.size == (525, 525) and im.mode == "RGB"
    assert df["source_id"][0] == "gz3d_1-1243_19_14709532"
    assert df[C.PIXEL_SCALE][0] == pytest.approx(0.099, rel=1e-6)  # 2.75e-5 deg from the PC matrix


# ---------------------------------------------------------------------------- folder
def test_folder_sdss_cutouts_with_csv(tmp_path):
    src = DATA / "sdss_gz2_cutouts"
    if not (src / "images" / "1.jpg").exists():
        pytest.skip("sdss_gz2_cutouts not present")
    cat = tmp_path / "cat.csv"
    cat.write_text("name,n,z,status,mag\ngal-a,1,0.05,x,17.1\ngal-b,3,,y,16.2\ngal-c,999999,0.2,z,15.0\n")
    s = imp.import_folder(str(src), str(tmp_path / "out"), csv=str(cat), id_column="name",
                          image_pattern="images/{n}.jpg", redshift_column="z", pixel_scale=0.2)
    assert (s.rows, s.rows_without_image) == (3, 1)
    df = _read(tmp_path / "out")
    assert df["source_id"].tolist() == ["gal-a", "gal-b", "gal-c"]
    assert df[C.IMAGE][0] == (src / "images" / "1.jpg").read_bytes()
    assert df[C.IMAGE][2] is None  # missing file: row kept
    np.testing.assert_allclose(df[C.REDSHIFT], [0.05, np.nan, 0.2])
    assert (df[C.PIXEL_SCALE] == 0.2).all()
    assert df["mag"].tolist() == [17.1, 16.2, 15.0] and df["n"].tolist() == [1, 3, 999999]
    assert df["source_status"].tolist() == ["x", "y", "z"]  # 'status' is a catalogue column
    assert "z" not in df.columns and "name" not in df.columns


# ------------------------------------------------------------------------------- CLI
def test_cli_summary_errors_and_determinism(tmp_path, capsys):
    from catalog_xai.cli.import_survey import main

    src = _fixture("galaxy_zoo_challenge", "dummy_data", "galaxy_zoo_challenge")
    out = tmp_path / "out"
    assert main(["kaggle", "--input", str(src), "--output", str(out), "--shard-size", "2", "--quiet"]) == 0
    assert "wrote 3 rows in 2 shards" in capsys.readouterr().out
    first = [(out / f"part-0000{k}.parquet").read_bytes() for k in range(2)]
    assert main(["kaggle", "--input", str(src), "--output", str(out), "--quiet"]) == 2  # shards already there
    assert "--overwrite" in capsys.readouterr().err
    assert main(["kaggle", "--input", str(src), "--output", str(out), "--shard-size", "2", "--overwrite",
                 "--quiet"]) == 0
    assert [(out / f"part-0000{k}.parquet").read_bytes() for k in range(2)] == first
    assert main(["kaggle", "--input", str(tmp_path / "nowhere"), "--output", str(tmp_path / "o2")]) == 2
    assert "training_solutions_rev1.csv" in capsys.readouterr().err
    assert main(["folder", "--input", str(src), "--csv", "training_solutions_rev1.csv", "--id-column", "objid",
                 "--output", str(tmp_path / "o3")]) == 2
    assert "'objid'" in capsys.readouterr().err
