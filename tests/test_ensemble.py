import pytest
import torch

from catalog_xai import storage
from catalog_xai.core.ensemble import Ensemble
from catalog_xai.core.models import create_model, default_spec


def test_members_must_share_framing():
    a = create_model(default_spec("small_vgg"))
    b = create_model(default_spec("small_resnet", input_size=96))
    with pytest.raises(ValueError, match="share input size, crop and framing"):
        Ensemble([a, b])
    with pytest.raises(ValueError, match="at least one model"):
        Ensemble([])


def test_parameters_are_frozen_and_compile_keeps_results(tiny_ensemble):
    assert not any(p.requires_grad for m in tiny_ensemble.models for p in m.parameters())
    x = torch.rand(2, 3, 48, 48)
    ens = Ensemble([create_model(default_spec("small_vgg", input_size=48))])
    before = ens.predict(x)
    ens.compile(backend="eager")  # the plumbing; inductor itself is exercised in benchmarks
    torch.testing.assert_close(ens.predict(x), before)
    assert ens.members[0] is not ens.models[0]


def test_shipped_ensemble_loads_and_classifies():
    ens = storage.load_ensemble("synthetic-small")
    assert [m.spec.architecture for m in ens.models] == ["small_vgg", "small_resnet", "small_xception"]
    assert ens.manifest["output_columns"][5] == "bar_yes_fraction"
    p = ens.predict(torch.zeros(1, 3, 112, 112))
    assert p.shape == (3, 1, 37) and float(p.min()) >= 0 and float(p.max()) <= 1
