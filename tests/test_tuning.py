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


def test_axis_profile_grid_measures_as_the_catalogue_and_its_rows_round_trip():
    from catalog_xai.core.bars import keep_near_centre, measure_bar_profile

    halves = [10, 14, 18, 20, 12, 16]
    m = np.zeros((2, len(halves), 64, 64))
    for k, h in enumerate(halves):
        m[:, k, 30:34, 32 - h:32 + h] = 1.0  # a central bar 2h px long in every map
    m[0, 1, 30:34, 18:26] = 0.2  # one member's bar fades at one end
    out = tuning.method_lengths(m, ["a", "b"], [0.15, 0.3], [4, 8], near_centre=0.18, readout="axis_profile")
    assert out["maps (iv)"].shape == (len(halves), 2, 2)
    mean = keep_near_centre(m.mean(0), 0.18)[1]
    assert out["maps (iv)"][1, 1, 0] == measure_bar_profile(mean, fraction=0.3, width=4, near_centre=0.18).length_pix
    assert out["member:a"][1, 0, 0] > out["member:a"][1, 1, 0]  # the faded end counts at 0.15, not at 0.3
    ref = 2.0 * np.array(halves)
    grey = np.ones((len(halves), 64, 64), np.float32)
    rows, best = tuning.search_grid({0.0: m}, grey, np.ones(len(halves)), ref, np.arange(len(halves)) < 3,
                                    ["a", "b"], tcs=[0.5], tls=[10], linearities=["eigen"], x_inputs=(False,),
                                    readouts=("algorithm1", "axis_profile"), fractions=[0.3], widths=[8])
    assert {r["readout"] for r in rows} == {"algorithm1", "axis_profile"} and len(rows) == 2 * 4
    prof = next(r for r in rows if r["readout"] == "axis_profile" and r["method"] == "maps (iv)")
    assert tuning.row_setting(prof) == {"readout": "axis_profile", "profile_fraction": 0.3, "profile_width": 8,
                                        "profile_symmetric": False}
    assert prof["rho_test"] > 0.99  # the profile measures these bars
    alg = next(r for r in rows if r["readout"] == "algorithm1")
    assert tuning.row_setting(alg) == {"readout": "algorithm1", "linearity": "eigen", "tc": 0.5, "tl": 10}
    assert np.allclose(tuning.row_lengths(m, grey, ["a", "b"], prof),
                       [measure_bar_profile(mm, fraction=0.3, width=8).length_pix for mm in m.mean(0)])
    # the ensemble's point-symmetric profile is searched as it reads: member a's bar, bright on one
    # side of the centre only, is read as twice its shorter bright half; symmetric bars read the same
    sym = tuning.method_lengths(m, ["a", "b"], [0.3], [8], near_centre=0.18, readout="axis_profile",
                                profile_symmetric=True)
    assert sym["member:a"][1, 0, 0] <= out["member:a"][1, 1, 1] - 6
    assert np.array_equal(sym["member:b"][:, 0, 0], out["member:b"][:, 1, 1])
    rows_s, _ = tuning.search_grid({0.0: m}, grey, np.ones(len(halves)), ref, np.arange(len(halves)) < 3, ["a", "b"],
                                   tcs=[0.5], tls=[10], linearities=["eigen"], x_inputs=(False,),
                                   readouts=("axis_profile",), fractions=[0.3], widths=[8], profile_symmetric=True)
    row = next(r for r in rows_s if r["method"] == "member:a")
    assert tuning.row_setting(row)["profile_symmetric"] is True
    assert np.allclose(tuning.row_lengths(m, grey, ["a", "b"], row), sym["member:a"][:, 0, 0])


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
                         "0.9", "--grid-tl", "2", "5", "--control", "--control-epochs", "1", "--zoom-steps", "2"])
    assert rc == 0
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    methods = {r["method"] for r in res["grid"]}
    assert methods == {"member:small_vgg", "member:small_resnet", "member:small_xception", "maps (iv)", "lengths (v)"}
    assert len(res["grid"]) == 2 * 2 * 3 * 5  # S_noise x X_input x (2 linearity criteria + axis profile) x methods
    assert res["tune"] == 4 and res["test"] == 8 and res["control"]["tested_on"] == 8
    job = read_job_file(str(tmp_path / "out" / "job.yaml"))
    assert job.pop("checkpoint") == str(tmp_path / "ckpt")
    params = MethodParams.from_dict(job)
    best = res["best"]
    assert params.s_noise == best["s_noise"] and params.readout == best["readout"]
    for field, value in tuning.row_setting(best).items():  # the chosen cell's read-out, whichever it is
        assert getattr(params, field) == value
    assert params.ensemble_method == best["ensemble_method"] and params.n_samples == 2 and params.length_scale > 0
    assert params.framing == "native"  # the tiny ensemble's own
    for f in res["figures"]:
        assert (tmp_path / "out" / f).stat().st_size > 1000
    assert "fig_error_vs_angle.png" in res["figures"]
    assert "Control CNN" in (tmp_path / "out" / "report.md").read_text()
    # the grid reads zoom 1; the job keeps the zoom scan, and its own lengths on the test set are reported
    assert params.zoom_steps == 2 and res["job_test"]["n"] + res["job_test"]["n_skipped"] == res["test"]
    assert "zooms of its framing" in (tmp_path / "out" / "report.md").read_text()
