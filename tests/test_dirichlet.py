"""Dirichlet heads (seed 002 §2): the likelihood against scipy, its gradient, and the read-out."""

import numpy as np
import pytest
import torch
from scipy.stats import dirichlet_multinomial

from catalog_xai import columns as C
from catalog_xai.core import dirichlet, labels
from catalog_xai.core.ensemble import Ensemble
from catalog_xai.core.models import ModelSpec, create_model, default_spec, output_fractions
from catalog_xai.core.training import TrainConfig, train_model


def _counts(rng, n):
    k = rng.integers(0, 25, (n, C.N_OUTPUTS)).astype(np.float64)
    k[0, C.question_slices()["bar"]] = 0  # a question nobody reached
    return k


def test_likelihood_matches_scipy_and_skips_unreached_questions():
    rng = np.random.default_rng(0)
    z = torch.randn(5, C.N_OUTPUTS, dtype=torch.float64)
    k = _counts(rng, 5)
    nll = dirichlet.dirichlet_multinomial_nll(z, torch.from_numpy(k), reduce=False).numpy()
    alpha = dirichlet.concentrations(z).numpy()
    ref = np.zeros(5)
    for i in range(5):
        for sl in C.question_slices().values():
            if k[i, sl].sum() > 0:
                ref[i] -= dirichlet_multinomial.logpmf(k[i, sl], alpha[i, sl], k[i, sl].sum())
    np.testing.assert_allclose(nll, ref, rtol=1e-10, atol=1e-9)
    # the unreached bar question contributes nothing: any z there gives the same likelihood
    z2 = z.clone()
    z2[0, C.question_slices()["bar"]] += 3.0
    assert dirichlet.dirichlet_multinomial_nll(z2, torch.from_numpy(k), reduce=False)[0] == pytest.approx(nll[0])


def test_likelihood_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    z = torch.randn(3, C.N_OUTPUTS, dtype=torch.float64, requires_grad=True)
    k = torch.from_numpy(_counts(rng, 3))
    assert torch.autograd.gradcheck(lambda t: dirichlet.dirichlet_multinomial_nll(t, k), (z,), eps=1e-6, atol=1e-6)


def test_concentrations_bounded_and_moments_are_the_dirichlet_ones():
    z = torch.tensor([[-40.0] * C.N_OUTPUTS, [40.0] * C.N_OUTPUTS])
    a = dirichlet.concentrations(z)
    assert float(a.min()) >= 1.0 and float(a.max()) <= 101.0
    z = torch.randn(4, C.N_OUTPUTS)
    mean, var = dirichlet.per_question_moments(z)
    alpha = dirichlet.concentrations(z)
    sl = C.question_slices()["smooth_or_featured"]
    a0 = alpha[:, sl].sum(1, keepdim=True)
    torch.testing.assert_close(mean[:, sl], alpha[:, sl] / a0)
    torch.testing.assert_close(var[:, sl], alpha[:, sl] * (a0 - alpha[:, sl]) / (a0**2 * (a0 + 1)))
    for s in C.question_slices().values():  # every question's means sum to 1
        torch.testing.assert_close(mean[:, s].sum(1), torch.ones(4))


def test_cumulative_agrees_with_the_numpy_tree_algebra():
    mean, _ = dirichlet.per_question_moments(torch.randn(6, C.N_OUTPUTS, dtype=torch.float64))
    np.testing.assert_allclose(dirichlet.cumulative(mean).numpy(), labels.cumulative_from_conditional(mean.numpy()),
                               rtol=1e-12)


def test_head_in_spec_round_trips_and_unknown_head_is_refused():
    spec = default_spec("small_vgg", head="dirichlet")
    assert ModelSpec.from_dict(spec.to_dict()).head == "dirichlet"
    old = spec.to_dict()
    del old["head"]  # a manifest written before heads existed
    assert ModelSpec.from_dict(old).head == "sigmoid"
    with pytest.raises(ValueError, match="unknown head 'beta'"):
        default_spec("small_vgg", head="beta")


def test_ensemble_reads_each_members_head():
    torch.manual_seed(0)
    sig = create_model(default_spec("small_vgg", input_size=32))
    dir_ = create_model(default_spec("small_vgg", input_size=32, head="dirichlet"))
    ens = Ensemble([sig, dir_])
    x = torch.rand(3, 3, 32, 32)
    frac, var = ens.predict_moments(x)
    with torch.no_grad():
        expected = output_fractions(dir_(x), dir_.spec)[0]
    torch.testing.assert_close(frac[1], expected, atol=1e-5, rtol=1e-4)
    assert torch.isnan(var[0]).all() and (var[1] > 0).all()
    per_q = labels.conditional_from_cumulative(frac[1].numpy())
    np.testing.assert_allclose(per_q[:, C.question_slices()["smooth_or_featured"]].sum(1), 1, atol=1e-5)


def test_training_a_dirichlet_head_lowers_the_likelihood_and_needs_counts():
    torch.manual_seed(0)
    rng = np.random.default_rng(2)
    n = 48
    x = torch.from_numpy(rng.integers(0, 255, (n, 3, 32, 32), dtype=np.uint8))
    k = torch.from_numpy(_counts(rng, n).astype(np.float32))
    y = torch.from_numpy(labels.cumulative_from_conditional(k.numpy()).astype(np.float32))
    model = create_model(default_spec("small_vgg", input_size=32, head="dirichlet"))
    with pytest.raises(ValueError, match="vote counts"):
        train_model(model, x, y, TrainConfig(epochs=1), log=lambda m: None)
    with torch.no_grad():
        before = float(dirichlet.dirichlet_multinomial_nll(model(x.float() / 255), k))
    train_model(model, x, y, TrainConfig(epochs=4, batch_size=16, lr=3e-3), log=lambda m: None, counts=k)
    with torch.no_grad():
        after = float(dirichlet.dirichlet_multinomial_nll(model(x.float() / 255), k))
    assert after < before
