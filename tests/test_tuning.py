import numpy as np

from catalog_xai.core import tuning
from catalog_xai.core.bars import measure_bar


def test_correlation_grid_matches_numpy():
    rng = np.random.default_rng(0)
    ref = rng.uniform(10, 50, 40)
    L = ref[:, None, None] * rng.uniform(0.5, 1.5, (1, 2, 3)) + rng.normal(0, 2, (40, 2, 3))
    rho, rmse = tuning.correlation_grid(L, ref)
    assert rho.shape == (2, 3)
    assert np.isclose(rho[1, 2], np.corrcoef(L[:, 1, 2], ref)[0, 1])
    assert np.isclose(rmse[0, 0], np.sqrt(np.mean((L[:, 0, 0] - ref) ** 2)))


def test_decile_errors_give_each_galaxy_its_decile_mean():
    a = np.arange(100, dtype=float)
    b = a + np.where(a < 50, 1.0, 3.0)
    err = tuning.decile_errors(a, b)
    assert np.allclose(err[:40], 1.0) and np.allclose(err[-40:], 3.0)


def test_method_lengths_cover_members_average_map_and_average_length():
    rng = np.random.default_rng(1)
    maps = rng.random((3, 4, 24, 24))
    out = tuning.method_lengths(maps, ["a", "b", "c"], [0.8, 0.9], [5, 10])
    assert set(out) == {"member:a", "member:b", "member:c", "maps (iv)", "lengths (v)"}
    assert out["maps (iv)"].shape == (4, 2, 2)
    assert out["member:b"][2, 0, 1] == measure_bar(maps[1, 2], tc=0.8, tl=10).length_pix
    assert np.allclose(out["lengths (v)"], (out["member:a"] + out["member:b"] + out["member:c"]) / 3)
    xin = tuning.with_input(maps, rng.random((4, 24, 24)).astype(np.float32))
    assert xin.shape == maps.shape and np.isclose(xin.max(), 1.0)
    # near_centre: members' maps and the mean map are measured on their central pieces, as the catalogue does
    m = np.zeros((2, 1, 112, 112))
    m[:, 0, 54:58, 36:76] = 1.0  # a central 40-px bar
    m[:, 0, 10:16, 95:101] = 0.9  # a bright neighbour
    every = tuning.method_lengths(m, ["a", "b"], [0.1], [10], "eigen")
    near = tuning.method_lengths(m, ["a", "b"], [0.1], [10], "eigen", near_centre=0.18)
    assert every["maps (iv)"][0, 0, 0] > 75 and every["member:a"][0, 0, 0] > 75
    assert 38 <= near["maps (iv)"][0, 0, 0] <= 41 and 38 <= near["member:b"][0, 0, 0] <= 41


def test_tune_job_end_to_end(tmp_path, tiny_ensemble):
    """The tuning job on a small barred survey: grid, control model, params file, figures, report."""
    import json

    from catalog_xai import storage
    from catalog_xai.cli import tune_bars
    from catalog_xai.cli.options import read_job_file
    from catalog_xai.core.params import MethodParams
    from catalog_xai.importers.synthetic import generate_survey

    generate_survey(str(tmp_path / "s"), n_galaxies=12, shard_size=6, seed=4, barred_only=True)
    storage.save_ensemble(tiny_ensemble.models, str(tmp_path / "ckpt"), name="tiny", training_data="none")
    rc = tune_bars.main(["--survey", str(tmp_path / "s"), "--output", str(tmp_path / "out"), "--checkpoint",
                         str(tmp_path / "ckpt"), "--n-samples", "2", "--grid-s-noise", "0.1", "0.2", "--grid-tc", "0.8",
                         "0.9", "--grid-tl", "2", "5", "--control", "--control-epochs", "1"])
    assert rc == 0
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    methods = {r["method"] for r in res["grid"]}
    assert methods == {"member:small_vgg", "member:small_resnet", "member:small_xception", "maps (iv)", "lengths (v)"}
    assert len(res["grid"]) == 2 * 2 * 2 * 5  # S_noise x X_input x criteria x methods
    assert res["tune"] == 4 and res["test"] == 8 and res["control"]["tested_on"] == 8
    job = read_job_file(str(tmp_path / "out" / "job.yaml"))
    assert job.pop("checkpoint") == str(tmp_path / "ckpt")
    params = MethodParams.from_dict(job)
    best = res["best"]
    assert (params.tc, params.tl, params.s_noise, params.linearity) == (best["tc"], best["tl"], best["s_noise"],
                                                                         best["linearity"])
    assert params.ensemble_method == best["ensemble_method"] and params.n_samples == 2 and params.length_scale > 0
    assert params.framing == "native"  # the tiny ensemble's own
    for f in res["figures"]:
        assert (tmp_path / "out" / f).stat().st_size > 1000
    assert "fig_error_vs_angle.png" in res["figures"]
    assert "Control CNN" in (tmp_path / "out" / "report.md").read_text()
