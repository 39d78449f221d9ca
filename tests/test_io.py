import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from catalog_xai import columns as C
from catalog_xai import storage
from catalog_xai.core.models import create_model, default_spec


def test_checkpoint_roundtrip_through_s3(s3_bucket, tiny_ensemble):
    url, opts = s3_bucket
    storage.save_ensemble(tiny_ensemble.models, f"{url}/ens", name="tiny", training_data="test", storage_options=opts)
    loaded = storage.load_ensemble(f"{url}/ens", opts)
    x = torch.rand(2, 3, 48, 48)
    torch.testing.assert_close(loaded.predict(x), tiny_ensemble.predict(x))
    assert loaded.manifest["name"] == "tiny" and len(loaded) == 3


def test_checkpoint_checksum_and_missing_manifest(tmp_path, tiny_ensemble):
    storage.save_ensemble(tiny_ensemble.models, str(tmp_path / "e"), name="t", training_data="x")
    f = tmp_path / "e" / "small_vgg.safetensors"
    f.write_bytes(f.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(ValueError, match="checksum mismatch"):
        storage.load_ensemble(str(tmp_path / "e"))
    with pytest.raises(FileNotFoundError, match="manifest.json"):
        storage.load_ensemble(str(tmp_path / "nothing"))


def test_checkpoint_is_not_a_pickle(tmp_path):
    m = create_model(default_spec("small_vgg", input_size=32))
    storage.save_ensemble([m], str(tmp_path / "e"), name="t", training_data="x")
    assert (tmp_path / "e" / "small_vgg.safetensors").read_bytes()[:1] != b"\x80"  # no pickle protocol header


def test_missing_column_is_refused_with_its_name_and_file(tmp_path, synthetic_table):
    bad = synthetic_table.drop_columns([C.REDSHIFT])
    path = str(tmp_path / "bad.parquet")
    pq.write_table(bad, path)
    with pytest.raises(storage.ShardError, match=r"bad\.parquet: required column 'redshift' is missing"):
        storage.open_shard(path)
    noscale = synthetic_table.drop_columns([C.PETRO_R90])
    pq.write_table(noscale, path)
    with pytest.raises(storage.ShardError, match="pixel_scale_arcsec"):
        storage.open_shard(path)


def test_not_parquet_is_refused(tmp_path):
    p = tmp_path / "x.parquet"
    p.write_bytes(b"hello")
    with pytest.raises(storage.ShardError, match="not a readable Parquet"):
        storage.open_shard(str(p))


def test_output_paths_are_deterministic_and_inside_the_prefix():
    assert storage.output_path("s3://b/in/a/s1.parquet", "s3://b/in/", "s3://b/out") == "s3://b/out/a/s1.parquet"
    assert storage.output_path("/d/in/s1.parquet", "/d/in/s1.parquet", "/d/out") == "/d/out/s1.parquet"


def test_write_is_atomic_and_lists_only_shards(tmp_path):
    t = pa.table({"a": [1, 2]})
    storage.write_table_atomic(t, str(tmp_path / "o" / "x.parquet"))
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["x.parquet"]
    (tmp_path / "o" / "_summary.parquet").write_bytes(b"")
    assert storage.list_shards(str(tmp_path / "o")) == [str(tmp_path / "o" / "x.parquet")]


def test_validator_catches_missing_rows_duplicates_and_units(tmp_path, synthetic_table):
    from catalog_xai.storage.validate import check_schema, validate_catalogue

    pq.write_table(synthetic_table.slice(0, 3), tmp_path / "in.parquet")
    (tmp_path / "out").mkdir()
    ids = synthetic_table.column(C.OBJID).to_pylist()[:3]
    bad = pa.table({C.OBJID: pa.array([ids[0], ids[0]], pa.int64()), C.STATUS: ["ok", "ok"]})
    pq.write_table(bad, tmp_path / "out" / "in.parquet")
    res = validate_catalogue(str(tmp_path / "in.parquet"), str(tmp_path / "out"))
    text = "\n".join(res["problems"])
    assert not res["ok"]
    assert "2 rows for 3 input rows" in text and "duplicated objid" in text and "'bar_length_kpc' is missing" in text
    wrong_unit = C.output_schema().set(
        C.output_schema().get_field_index(C.BAR_LENGTH_KPC),
        pa.field(C.BAR_LENGTH_KPC, pa.float32(), metadata={"unit": "Mpc"}))
    assert any("unit 'Mpc'" in p for p in check_schema(wrong_unit, "x"))


def test_credentials_are_refused_as_storage_options():
    assert storage.check_storage_options({"endpoint_url": "http://x", "client_kwargs": {"region_name": "eu"}})
    for bad in ({"secret": "s"}, {"key": "AKIA"}, {"client_kwargs": {"aws_secret_access_key": "s"}}, {"token": "t"}):
        with pytest.raises(ValueError, match="looks like a credential"):
            storage.check_storage_options(bad)


def test_config_hash_ignores_an_option_added_later_at_its_old_value():
    """Catalogues made before ``gradients`` or ``symmetry`` existed resume: at their old values
    ("abs", "none") they are not in the hash; any other value is."""
    from catalog_xai.core.params import MethodParams
    from catalog_xai.storage.commits import config_hash

    manifest = {"models": [{"sha256": "a"}]}
    now = MethodParams().to_dict()
    before = {k: v for k, v in now.items() if k not in ("gradients", "symmetry")}
    assert config_hash(now, manifest, "s3://b/s") == config_hash(before, manifest, "s3://b/s")
    assert config_hash({**now, "gradients": "var"}, manifest, "s3://b/s") != config_hash(now, manifest, "s3://b/s")
    assert config_hash({**now, "symmetry": "dihedral"}, manifest, "s3://b/s") != config_hash(now, manifest, "s3://b/s")
