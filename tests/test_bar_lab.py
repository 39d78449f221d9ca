"""The pieces of the saliency lab and of saliency-first training (issue 12): pure numpy/torch."""

import numpy as np
import pytest
import torch

from catalog_xai.core.evaluation import length_agreement
from catalog_xai.core.isophotes import isophote_bar_length
from catalog_xai.core.models import BlurPool, create_model
from catalog_xai.core.training import augment, mask_saliency_loss


def _barred_disk(size=160, bar_a=30.0, angle=0.6, q=0.25):
    """A round exponential disk with a Ferrers bar of semi-major axis ``bar_a`` px."""
    yy, xx = np.indices((size, size)) - (size - 1) / 2
    r = np.hypot(xx, yy)
    u = xx * np.cos(angle) + yy * np.sin(angle)
    v = -xx * np.sin(angle) + yy * np.cos(angle)
    m2 = (u / bar_a) ** 2 + (v / (q * bar_a)) ** 2
    bar = np.where(m2 < 1, (1 - np.minimum(m2, 1)) ** 2, 0)
    img = np.exp(-r / 18.0) + 0.8 * bar + 1.5 * np.exp(-r / 2.5)
    return np.arcsinh(40 * img / img.max()) / np.arcsinh(40)


def test_isophote_baseline_finds_the_bar_and_no_bar_in_a_round_disk():
    """Erwin's ellipticity-peak criterion is a lower limit on steep (Ferrers n = 2) bars: lengths come out
    short of the truth but grow with it."""
    lengths = []
    for a in (20.0, 30.0, 45.0):
        res = isophote_bar_length(_barred_disk(bar_a=a))
        assert res.status == "ok"
        assert 0.3 * 2 * a < res.length_pix < 1.3 * 2 * a, res
        lengths.append(res.length_pix)
    assert lengths == sorted(lengths)
    yy, xx = np.indices((160, 160)) - 79.5
    round_disk = np.exp(-np.hypot(xx, yy) / 18.0)
    none = isophote_bar_length(round_disk)
    assert np.isnan(none.length_pix) and none.status.startswith("no bar")
    with pytest.raises(ValueError, match="square"):
        isophote_bar_length(np.zeros((10, 12)))


def test_length_agreement_figures():
    rng = np.random.default_rng(0)
    true = rng.uniform(10, 60, 200)
    angle = rng.uniform(0, 180, 200)
    perfect = length_agreement(0.8 * true, true, angle_deg=angle)
    assert perfect["pearson"] == pytest.approx(1.0) and perfect["median_ratio"] == pytest.approx(0.8)
    assert perfect["worst_angle_over_median"] == pytest.approx(1.0)
    noisy = 0.8 * true * np.where(angle < 30, 2.0, 1.0) * rng.normal(1, 0.05, 200)
    res = length_agreement(noisy, true, angle_deg=angle)
    lo, hi = res["pearson_ci95"]
    assert lo <= res["pearson"] <= hi and hi - lo > 0.01
    assert res["worst_angle_over_median"] > 2  # the 0-30 deg slice is twice as wrong
    missing = length_agreement(np.where(np.arange(200) < 5, np.nan, true), true)
    assert missing["n_missing"] == 5 and missing["n_measured"] == 195


def test_blur_pool_halves_and_keeps_a_flat_image_flat():
    pool = BlurPool(3)
    x = torch.full((2, 3, 16, 16), 0.7)
    y = pool(x)
    assert y.shape == (2, 3, 8, 8) and torch.allclose(y, torch.full_like(y, 0.7))


def test_mask_saliency_loss_rewards_maps_that_cover_the_bar():
    """A linear score whose weights are the mask scores better than one that looks elsewhere or at a dot,
    and the loss reaches the weights (double back-propagation)."""
    mask = torch.zeros(1, 1, 24, 24)
    mask[..., 10:14, 4:20] = 1.0

    class Linear(torch.nn.Module):
        def __init__(self, w):
            super().__init__()
            self.w = torch.nn.Parameter(w)

        def forward(self, x):
            return (x * self.w).flatten(1).sum(1, keepdim=True).repeat(1, 7) ** 2

    x = torch.rand(1, 3, 24, 24)
    on_bar = Linear(mask.expand(1, 3, 24, 24).clone())
    dot = torch.zeros(1, 3, 24, 24)
    dot[..., 12, 12] = 1.0
    losses = {k: float(mask_saliency_loss(m, x, mask, 6).detach()) for k, m in
              (("bar", on_bar), ("dot", Linear(dot)), ("noise", Linear(torch.rand(1, 3, 24, 24))))}
    assert losses["bar"] < 0.2 < losses["dot"] and losses["bar"] < losses["noise"]
    model = Linear(torch.rand(1, 3, 24, 24))
    mask_saliency_loss(model, x, mask, 6).backward()
    assert model.w.grad is not None and model.w.grad.abs().sum() > 0


def test_augment_moves_masks_with_their_images():
    x = torch.zeros(4, 3, 32, 32)
    x[:, :, 14:18, 4:28] = 1.0
    masks = x[:, :1].clone()
    gen = torch.Generator().manual_seed(0)
    xa, ma = augment(x, gen, 0.05, (0.7, 1.3), masks=masks)
    bright = xa.mean(1, keepdim=True) / xa.mean(1, keepdim=True).amax(dim=(2, 3), keepdim=True)
    assert torch.corrcoef(torch.stack([bright.flatten(), ma.flatten()]))[0, 1] > 0.95
    assert ma.max() <= 1.0 + 1e-6  # masks are not brightness-scaled


@pytest.mark.parametrize("arch", ["silu_wide", "silu_slim"])
def test_saliency_first_models_give_37_logits_and_smooth_gradients(arch):
    torch.manual_seed(0)
    model = create_model(arch).eval()
    x = torch.rand(2, 3, 112, 112, requires_grad=True)
    out = model(x)
    assert out.shape == (2, 37)
    (g,) = torch.autograd.grad(out[:, 6].sum(), x)
    assert torch.isfinite(g).all() and (g.abs().sum(1) > 0).float().mean() > 0.99  # every pixel reached
