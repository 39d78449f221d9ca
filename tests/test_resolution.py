"""Resolution bias (seed 003): the bias model, the theta fit, CV14/CV18, the DDB loss, and the columns."""

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from catalog_xai import columns as C
from catalog_xai.core import resolution as R
from catalog_xai.core.params import MethodParams


def _biased_sample(n, theta, rng, f_disk=0.6):
    """Labels drawn from seed 003's noise model: truth, biased labels, alpha, an intrinsic property."""
    a = rng.uniform(0.5, 20, n)
    disk = rng.random(n) < f_disk
    flipped = disk & (rng.random(n) < R.bias_curve(a, theta))
    truth = np.stack([~disk, disk], 1).astype(float)
    biased = np.stack([~disk | flipped, disk & ~flipped], 1).astype(float)
    return truth, biased, a, rng.normal(size=(n, 1))


def test_theta_fit_recovers_the_bias_of_the_labels():
    rng = np.random.default_rng(0)
    _, biased, a, _ = _biased_sample(40_000, 5.0, rng)
    b = R.binned_fractions(biased, a, n_bins=40, min_count=50)
    fit = R.fit_theta(b["mid"], b["fractions"][:, 0])
    assert fit["theta"] == pytest.approx(5.0, rel=0.05)
    assert fit["f_d"] == pytest.approx(0.6, abs=0.03)
    with pytest.raises(ValueError, match="at least 3"):
        R.fit_theta([1.0, 2.0], [0.5, 0.4])


def test_cv14_and_cv18_see_the_bias_and_not_the_truth():
    rng = np.random.default_rng(1)
    truth, biased, a, intr = _biased_sample(20_000, 5.0, rng)
    t14, b14 = R.cv14(truth, a), R.cv14(biased, a)
    assert t14 < 0.02 < 0.1 < b14
    t18, b18 = R.cv18(truth, a, intr, n_bins=5), R.cv18(biased, a, intr, n_bins=5)
    assert t18 < 0.03 < 0.1 < b18
    err = R.bootstrap(lambda idx: R.cv14(biased[idx], a[idx]), len(a), n_boot=20)
    assert 0 < err < 0.02
    # the definition: rms over classes of the rms over bins of the deviation from the best-resolved bin
    f = R.binned_fractions(biased, a, 10, 20)["fractions"]
    assert b14 == pytest.approx(np.sqrt((((f - f[-1]) ** 2).mean(axis=0)).mean()))


def test_bins_hold_equal_counts_and_skip_thin_bins():
    a = np.arange(100.0)
    b = R.binned_fractions(np.tile([[1.0, 0.0]], (100, 1)), a, n_bins=4, min_count=30)
    assert list(b["counts"]) == [25, 25, 25, 25] and np.isnan(b["fractions"]).all()
    assert R.hard_labels(np.array([0.6, 0.2, np.nan, 0]), np.array([0.3, 0.7, 0.5, 0]))[:2].tolist() == [[1, 0], [0, 1]]


def test_ddb_loss_is_the_seed_likelihood_stable_and_minimised_by_the_truth():
    logits = torch.tensor([[0.3, -0.2], [2.0, 1.0], [-1.0, 3.0]])
    obs = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.7, 0.3]])
    a = torch.tensor([3.0, 8.0, 5.0])
    theta = 4.0
    p = torch.softmax(logits, 1)
    e = torch.exp(-a**2 / (2 * theta**2))
    naive = -(obs[:, 0] * torch.log(p[:, 0] + p[:, 1] * e) + obs[:, 1] * torch.log(p[:, 1] * (1 - e))).mean()
    torch.testing.assert_close(R.ddb_loss(logits, obs, a, theta), naive)
    for extreme in (0.0, 1e4):  # e = 1 and e = 0: finite, with finite gradients
        z = logits.clone().requires_grad_(True)
        loss = R.ddb_loss(z, obs, torch.full((3,), extreme), theta)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(z.grad).all()
    # volunteers who call 40 % of disks smooth at this alpha: the loss is lowest at the true disk fraction
    e0, true_disk = 0.4, 0.6
    seen_smooth = (1 - true_disk) + true_disk * e0
    a0 = torch.tensor([np.sqrt(-2 * theta**2 * np.log(e0))], dtype=torch.float32)
    z = torch.zeros(1, 2, requires_grad=True)
    opt = torch.optim.Adam([z], lr=0.05)
    for _ in range(600):
        opt.zero_grad()
        R.ddb_loss(z, torch.tensor([[seen_smooth, 1 - seen_smooth]]), a0, theta).backward()
        opt.step()
    assert float(torch.softmax(z.detach(), 1)[0, 1]) == pytest.approx(true_disk, abs=0.01)


def test_radial_profile_and_class_averages():
    yy, xx = np.mgrid[0:33, 0:33]
    img = np.hypot(yy - 16, xx - 16)
    r, prof = R.radial_profile(img, n_bins=8)
    assert np.all(np.abs(prof - r) < 1.5)
    maps = np.stack([np.ones((4, 4)), 3 * np.ones((4, 4)), np.zeros((4, 4))])
    avg = R.class_average_maps(maps, np.array([0, 0, 1]))
    assert avg[0].mean() == 2 and avg[1].mean() == 0


def test_alpha_in_the_catalogue_and_the_bias_job(tmp_path, tiny_ensemble, tiny_checkpoint):
    from catalog_xai.cli import resolution_bias
    from catalog_xai.cluster.shard import process_shard
    from catalog_xai.importers.synthetic import synthetic_shard_table

    survey, out = tmp_path / "survey", tmp_path / "cat"
    survey.mkdir()
    t = synthetic_shard_table(120, seed=9, first_objid=1, resolution_theta=4.0)
    assert C.PSF_FWHM in t.column_names
    pq.write_table(t, survey / "s.parquet")
    res = process_shard(str(survey / "s.parquet"), input_url=str(survey), output_url=str(out), ensemble=tiny_ensemble,
                        params=MethodParams(n_samples=1, tl=5), batch_size=64)
    assert res.error == ""
    cat = pq.read_table(out / "s.parquet").to_pandas()
    expected = t.column(C.PETRO_R90).to_numpy() / t.column(C.PSF_FWHM).to_numpy()
    np.testing.assert_allclose(cat[C.RESOLUTION_ALPHA], expected, rtol=1e-5)
    assert set(cat[C.RESOLUTION_ALPHA_SOURCE]) == {"petroR90_r"}
    assert resolution_bias.main(["--catalogue", str(out), "--output", str(tmp_path / "bias"), "--bins", "4",
                                 "--fit-bins", "5", "--min-count", "10", "--bootstrap", "5",
                                 "--truth-column", "true_is_disk", "--intrinsic", "redshift",
                                 "--survey", str(survey), "--checkpoint", tiny_checkpoint, "--cam-galaxies", "30"]) == 0
    table = (tmp_path / "bias" / "bias_table.csv").read_text()
    assert "volunteers" in table and "truth" in table and (tmp_path / "bias" / "smooth_vs_alpha.png").exists()
    import json

    result = json.loads((tmp_path / "bias" / "bias.json").read_text())
    profiles = result["class_average_profiles"]["ensemble"]
    assert set(profiles) == {"smooth", "disk"} and (tmp_path / "bias" / "class_average_gradcam.png").exists()
    assert any(np.isfinite(v).all() for v in profiles.values())


def test_a_survey_without_psf_has_no_alpha_columns_and_a_missing_psf_is_a_status(tmp_path, tiny_ensemble,
                                                                                   synthetic_table):
    import pyarrow as pa

    from catalog_xai.core.catalogue import classify_batch

    d = synthetic_table.slice(0, 2).to_pydict()
    out = classify_batch(tiny_ensemble, objid=d[C.OBJID], image=d[C.IMAGE], redshift=d[C.REDSHIFT],
                         petro_r90=d[C.PETRO_R90], params=MethodParams(n_samples=1, tl=5))
    assert C.RESOLUTION_ALPHA not in out
    assert C.RESOLUTION_ALPHA not in C.output_schema(synthetic_table.schema).names
    with_psf = synthetic_table.schema.append(pa.field(C.PSF_FWHM, pa.float64()))
    assert C.RESOLUTION_ALPHA in C.output_schema(with_psf).names
    out = classify_batch(tiny_ensemble, objid=d[C.OBJID], image=d[C.IMAGE], redshift=d[C.REDSHIFT],
                         petro_r90=[None, None], pixel_scale_arcsec=[0.4, 0.4], psf_fwhm=[1.4, None],
                         params=MethodParams(n_samples=1, tl=5))
    assert out[C.RESOLUTION_ALPHA_SOURCE][0] == "measured R90" and np.isfinite(out[C.RESOLUTION_ALPHA][0])
    assert "resolution_alpha not computed" in out[C.STATUS][1] and out[C.FLAGS][1] & C.FLAG["no_resolution"]


def test_ddb_training_gives_a_debias_checkpoint_and_the_debiased_pair(tmp_path, tiny_ensemble, tiny_checkpoint):
    import json

    from catalog_xai.cli import train_ensemble
    from catalog_xai.cluster.shard import process_shard
    from catalog_xai.cluster.survey import JobError, SurveyJob, plan_survey
    from catalog_xai.importers.synthetic import synthetic_shard_table

    survey = tmp_path / "survey"
    survey.mkdir()
    pq.write_table(synthetic_shard_table(40, seed=4, first_objid=1, resolution_theta=4.0), survey / "s.parquet")
    ckpt = tmp_path / "ddb"
    assert train_ensemble.main(["--train", str(survey), "--architectures", "small_vgg", "--output", str(ckpt),
                                "--epochs", "1", "--workers", "0", "--ddb-theta", "4.0"]) == 0
    manifest = json.loads((ckpt / "manifest.json").read_text())
    assert manifest["ddb"] == {"theta": 4.0, "question": "smooth_or_featured"}
    from catalog_xai import storage

    ddb = storage.load_ensemble(str(ckpt))
    res = process_shard(str(survey / "s.parquet"), input_url=str(survey), output_url=str(tmp_path / "cat"),
                        ensemble=tiny_ensemble, debias_ensemble=ddb, debias_checkpoint=str(ckpt),
                        params=MethodParams(n_samples=1, tl=5), batch_size=64)
    assert res.error == ""
    cat = pq.read_table(tmp_path / "cat" / "s.parquet")
    s, d = (cat.column(c).to_numpy() for c in C.DEBIASED_COLUMNS)
    np.testing.assert_allclose(s + d, 1, atol=1e-5)
    prov = json.loads(cat.schema.metadata[b"catalog_xai.provenance"])
    assert prov["debias_theta"] == 4.0 and prov["debias_checkpoint"] == str(ckpt)
    # an ensemble not trained with DDB is refused before any work, with the reason
    job = SurveyJob(input_url=str(survey), output_url=str(tmp_path / "c2"), checkpoint=tiny_checkpoint,
                    debias_checkpoint=tiny_checkpoint)
    with pytest.raises(JobError, match="not trained with the DDB loss"):
        plan_survey(job, {"CPU": 2}, dry_run=True)
    # and DDB training needs every galaxy's alpha
    t = pq.read_table(survey / "s.parquet").drop_columns([C.PSF_FWHM])
    (tmp_path / "nopsf").mkdir()
    pq.write_table(t, tmp_path / "nopsf" / "s.parquet")
    with pytest.raises(SystemExit, match="needs every training galaxy's alpha"):
        train_ensemble.main(["--train", str(tmp_path / "nopsf"), "--architectures", "small_vgg", "--output",
                             str(tmp_path / "x"), "--epochs", "1", "--workers", "0", "--ddb-theta", "4.0"])
