import pytest
import torch

from catalog_xai.core import models

# Keras applications' total parameter counts (include_top, 1000 classes, BN statistics counted).
KERAS_PARAMS = {"vgg16": 138_357_544, "resnet50v2": 25_613_800, "xception": 22_910_480}


def _keras_count(m):
    n = sum(p.numel() for p in m.parameters())
    return n + sum(b.numel() for name, b in m.named_buffers() if "running_" in name)


@pytest.mark.parametrize("name", sorted(KERAS_PARAMS))
def test_paper_architectures_match_keras(name):
    with torch.device("meta"):
        m = models.create_model(models.default_spec(name, num_outputs=1000))
        assert m(torch.empty(2, 3, 224, 224)).shape == (2, 1000)
    assert _keras_count(m) == KERAS_PARAMS[name]


@pytest.mark.parametrize("name", models.available_models())
def test_every_model_gives_37_finite_logits(name):
    spec = models.default_spec(name)
    if spec.input_size > 128:
        spec = models.default_spec(name, input_size=96 if name != "xception" else 80)
    m = models.create_model(spec).eval()
    with torch.no_grad():
        out = m(torch.rand(2, 3, spec.input_size, spec.input_size))
    assert out.shape == (2, 37) and torch.isfinite(out).all()


def test_unknown_architecture_lists_known_ones():
    with pytest.raises(ValueError, match="small_vgg"):
        models.create_model("resnet9000")
