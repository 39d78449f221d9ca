"""Bar-grounded models (issue 12, round F): the bar answer read from a bar-evidence map."""

import math

import pytest
import torch

from catalog_xai import columns as C
from catalog_xai.core import models
from catalog_xai.core.training import TrainConfig, photometric_jitter, train_model


def _model(size=112):
    torch.manual_seed(0)
    return models.create_model(models.default_spec("silu_bar_evidence", input_size=size)).eval()


def test_bar_answer_depends_on_the_image_only_through_the_evidence_map():
    m = _model(64)
    x = torch.rand(3, 3, 64, 64, requires_grad=True)
    logits, evidence = m(x, return_evidence=True)
    assert logits.shape == (3, 37) and evidence.shape == (3, 1, 16, 16)
    # the linear head's own bar row is not used
    with torch.no_grad():
        m.head.weight[C.BAR_YES_INDEX] += 5.0
        m.head.bias[C.BAR_YES_INDEX] += 5.0
    again = m(x)
    assert torch.allclose(again[:, C.BAR_YES_INDEX], logits[:, C.BAR_YES_INDEX])
    # an evidence head blind to the image makes the bar answer blind to it too: zero input gradient
    with torch.no_grad():
        m.backbone.evidence[-1].weight.zero_()
    (g,) = torch.autograd.grad(m(x)[:, C.BAR_YES_INDEX].sum(), x)
    assert float(g.abs().max()) == 0.0
    (g_other,) = torch.autograd.grad(m(x)[:, 0].sum(), x)
    assert float(g_other.abs().max()) > 0


def test_evidence_pool_gradient_lies_where_the_model_sees_a_bar():
    pool = models.EvidencePool()
    z = torch.full((1, 1, 16, 16), -10.0)
    z[0, 0, 6:10, 3:13] = 4.0  # a bar 10 cells long
    z.requires_grad_(True)
    (g,) = torch.autograd.grad(pool(z).sum(), z)
    inside = g[0, 0, 6:10, 3:13]
    outside = g.clone()
    outside[0, 0, 6:10, 3:13] = 0
    assert float(outside.abs().max()) < 1e-3 * float(inside.min())
    # more bar, larger answer
    longer = z.detach().clone()
    longer[0, 0, 6:10, 1:15] = 4.0
    assert float(pool(longer).detach()) > float(pool(z).detach())


def test_dirichlet_head_is_refused():
    with pytest.raises(ValueError, match="sigmoid head"):
        models.create_model(models.default_spec("silu_bar_evidence", head="dirichlet"))


def test_silu_slim_weights_start_the_encoder_and_head():
    torch.manual_seed(1)
    slim = models.create_model("silu_slim")
    m = _model()
    missing, unexpected = m.load_state_dict(models.bar_evidence_state_from_silu_slim(slim.state_dict()), strict=False)
    assert not unexpected and missing and all(k.startswith(("backbone.evidence.", "bar_pool.")) for k in missing)
    assert torch.equal(m.backbone.stem[0][0].weight, slim.backbone[0][0].weight)
    assert torch.equal(m.backbone.deep[4][0].weight, slim.backbone[11][0].weight)
    assert torch.equal(m.head.weight, slim.head.weight)
    x = torch.rand(2, 3, 112, 112)
    with torch.no_grad():  # the same features: every answer but the bar is the classifier's
        out, ref = m.eval()(x), slim.eval()(x)
    keep = [i for i in range(37) if i != C.BAR_YES_INDEX]
    assert torch.allclose(out[:, keep], ref[:, keep], atol=1e-5)


def _bars(n=48, size=32, seed=0):
    """Images with a bright bar at a random angle on half of them, its mask, and a bar label."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size) - size / 2 + 0.5, torch.arange(size) - size / 2 + 0.5, indexing="ij")
    x = torch.zeros(n, 3, size, size)
    masks = torch.zeros(n, size, size)
    y = torch.full((n, 37), float("nan"))
    for i in range(n):
        blob = torch.exp(-(xx**2 + yy**2) / 40.0)
        x[i] = 0.3 * blob
        if i % 2 == 0:
            a = float(torch.rand((), generator=g)) * math.pi
            half = 5 + 5 * float(torch.rand((), generator=g))
            u, v = xx * math.cos(a) + yy * math.sin(a), -xx * math.sin(a) + yy * math.cos(a)
            bar = ((u / half) ** 2 + (v / 1.8) ** 2) < 1
            x[i] += 0.6 * bar
            masks[i] = bar.float()
        y[i, C.BAR_YES_INDEX] = 0.8 if i % 2 == 0 else 0.05
    return (x.clamp(0, 1) * 255).to(torch.uint8), (masks * 255).to(torch.uint8), y


def test_evidence_training_learns_the_bar_masks():
    x, masks, y = _bars(64)
    torch.manual_seed(0)
    m = models.create_model(models.default_spec("silu_bar_evidence", input_size=32))
    cfg = TrainConfig(epochs=8, batch_size=16, lr=1e-3, seed=0, max_shift=0.0, evidence_weight=1.0,
                      brightness=(1.0, 1.0))
    h = train_model(m, x, y, cfg, masks_u8=masks, log=lambda s: None)["history"]["evidence_loss"]
    # (the weights kept are those of the best vote RMSE, so the curve is what shows the learning)
    assert len(h) == 8 and min(h[2:]) < 0.8 * h[0] and sum(h[-3:]) / 3 < 0.9 * h[0]


def test_galaxies_without_masks_stay_out_of_the_evidence_loss():
    x, masks, y = _bars(16)
    m = models.create_model(models.default_spec("silu_bar_evidence", input_size=32))
    cfg = TrainConfig(epochs=1, batch_size=16, seed=0, evidence_weight=1.0)
    res = train_model(m, x, y, cfg, masks_u8=masks, mask_known=torch.zeros(16, dtype=torch.bool), log=lambda s: None)
    assert "evidence_loss" not in res["history"]  # real galaxies: no mask, not an empty one
    with pytest.raises(ValueError, match="bar-evidence map"):
        train_model(models.create_model(models.default_spec("small_vgg", input_size=32)), x, y, cfg, masks_u8=masks)
    with pytest.raises(ValueError, match="needs the bar masks"):
        train_model(m, x, y, cfg)


def test_photometric_jitter_is_seeded_in_range_and_changes_colour_and_sharpness():
    x = torch.rand(64, 3, 32, 32) * 0.5 + 0.25
    a = photometric_jitter(x, torch.Generator().manual_seed(3))
    b = photometric_jitter(x, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.shape == x.shape and float(a.min()) >= 0 and float(a.max()) <= 1
    colour = (a.mean((2, 3)) / x.mean((2, 3)))  # per-channel gain and gamma change the balance
    assert float((colour[:, 0] / colour[:, 2]).std()) > 0.02
    # the blurred third: less pixel-to-pixel variance than the input
    rough = lambda t: (t[..., 1:, :] - t[..., :-1, :]).pow(2).mean((1, 2, 3))  # noqa: E731
    assert int((rough(a) < 0.5 * rough(x)).sum()) >= 8


def test_short_reach_evidence_head_sees_less_of_the_frame_with_the_same_weights():
    """silu_bar_evidence_hdc (round M) is silu_bar_evidence with dilations 1, 2, 3: the same weights
    load into it, and one evidence pixel's input gradient reaches fewer pixels."""
    def reach(arch: str) -> float:
        torch.manual_seed(0)
        m = models.create_model(models.default_spec(arch, input_size=112)).eval()
        if arch.endswith("_hdc"):
            m.load_state_dict(_model().state_dict())  # a silu_bar_evidence member initialises it
        x = torch.rand(1, 3, 112, 112, requires_grad=True)
        _, z = m(x, return_evidence=True)
        (g,) = torch.autograd.grad(z[0, 0, 14, 14], x)
        rows, cols = torch.nonzero(g[0].abs().sum(0) > 0, as_tuple=True)
        return float(torch.maximum((rows.float() - 57.5).abs(), (cols.float() - 57.5).abs()).max())

    short, long_ = reach("silu_bar_evidence_hdc"), reach("silu_bar_evidence")
    assert short <= 45 and long_ >= short + 12, (short, long_)  # the long reach runs off the 112-px frame
