"""Class-activation maps (seeds 002, 003): they show the region the output uses, and the weights matter."""

import numpy as np
import pytest
import torch
from torch import nn

from catalog_xai import columns as C
from catalog_xai.core import cam
from catalog_xai.core.models import create_model, default_spec
from catalog_xai.core.synth import render_galaxy, sample_truth


class _Mask(nn.Module):
    """Keeps only the top-left quadrant of a feature map: the output depends on that region alone."""

    def forward(self, a):
        m = torch.zeros_like(a)
        h, w = a.shape[-2:]
        m[..., : h // 2, : w // 2] = 1
        return a * m


def _region_model():
    torch.manual_seed(0)
    backbone = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), _Mask(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    model = nn.Sequential()
    model.backbone, model.head = backbone, nn.Linear(8, 2)
    model.forward = lambda x: model.head(model.backbone(x))
    with torch.no_grad():
        model.head.weight.abs_()  # the score rises with the masked region's activations
    return model.eval()


def test_hirescam_stays_on_the_region_the_output_uses_and_gradcam_need_not():
    model = _region_model()
    x = torch.rand(2, 3, 16, 16)
    plus, minus = cam.class_activation_maps(model, x, 0, method="hirescam", layer="backbone.1", upsample=False)
    inside = np.zeros((16, 16), bool)
    inside[:8, :8] = True
    total = (plus + minus).numpy()
    assert total[:, ~inside].max() == 0 and total[:, inside].sum() > 0
    g_plus, g_minus = cam.class_activation_maps(model, x, 0, method="gradcam", layer="backbone.1", upsample=False)
    assert (g_plus + g_minus).numpy()[:, ~inside].sum() > 0  # Grad-CAM's channel average spreads it (Draelos & Carin)


def test_hirescam_sums_to_the_score_for_a_pooled_linear_head():
    model = _region_model()
    x = torch.rand(3, 3, 16, 16)
    plus, minus = cam.class_activation_maps(model, x, 1, method="hirescam", layer="backbone.2", upsample=False)
    with torch.no_grad():
        score = model(x)[:, 1] - model.head.bias[1]
    torch.testing.assert_close((plus - minus).sum((1, 2)), score, atol=1e-5, rtol=1e-5)


def test_maps_change_when_the_weights_are_randomised():
    """Adebayo et al. 2018: a map that survives randomising the model explains nothing about it."""
    t = sample_truth(np.random.default_rng(3))
    img = render_galaxy(t, np.random.default_rng(4), size=64)
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    target = C.ANSWER_NAMES.index("smooth_or_featured_smooth")

    def maps(seed):
        torch.manual_seed(seed)
        m = create_model(default_spec("small_vgg", input_size=64)).eval()
        p, n = cam.class_activation_maps(m, x, target)
        return (p - n).flatten().numpy()

    a, a_again, b = maps(0), maps(0), maps(1)
    np.testing.assert_allclose(a, a_again, atol=1e-6)
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.9
    assert a.shape == (64 * 64,)


def test_default_layer_is_the_last_spatial_block_and_bad_names_are_refused():
    m = create_model(default_spec("small_vgg", input_size=48)).eval()
    name = cam.default_layer(m, 48)
    assert name.startswith("backbone.")
    with pytest.raises(ValueError, match="not a module"):
        cam.class_activation_maps(m, torch.rand(1, 3, 48, 48), 0, layer="backbone.nope")
    with pytest.raises(ValueError, match="unknown CAM method"):
        cam.class_activation_maps(m, torch.rand(1, 3, 48, 48), 0, method="scorecam")
    plus, minus = cam.ensemble_cams([m, m], torch.rand(2, 3, 48, 48), 0)
    assert plus.shape == (2, 48, 48) and float(torch.maximum(plus, minus).amax()) <= 1 + 1e-6
