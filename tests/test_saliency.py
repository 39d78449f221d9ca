import numpy as np
import pytest
import torch
from torch import nn

from catalog_xai import columns as C
from catalog_xai.core.saliency import ensemble_mean_map, galaxy_seeds, smoothgrad


class Linear37(nn.Module):
    """Logits linear in the input: the input gradient is the weight, whatever the noise."""

    def __init__(self, h, w, seed):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w = nn.Parameter(torch.randn(C.N_OUTPUTS, 3, h, w, generator=g))

    def forward(self, x):
        return torch.einsum("bchw,kchw->bk", x, self.w)


class Squares(nn.Module):
    """Nonlinear: d/dx sum(w x^2) = 2 w x, so the map depends on the noise."""

    def __init__(self, h, w):
        super().__init__()
        self.w = nn.Parameter(torch.rand(C.N_OUTPUTS, 3, h, w))

    def forward(self, x):
        return torch.einsum("bchw,kchw->bk", x * x, self.w)


def test_linear_model_map_is_normalised_abs_weight():
    m = Linear37(8, 8, 0).requires_grad_(False)
    x = torch.rand(3, 3, 8, 8)
    maps = smoothgrad([m], x, n_samples=5, s_noise=0.2)
    expect = m.w[C.BAR_YES_INDEX].abs().amax(0)
    expect = (expect - expect.min()) / (expect.max() - expect.min())
    assert maps.shape == (1, 3, 8, 8)
    for b in range(3):
        torch.testing.assert_close(maps[0, b], expect, atol=1e-5, rtol=1e-5)


def test_noise_is_relative_to_each_image_range():
    """Scaling an image and its noise together leaves a scale-free model's map unchanged."""
    m = Squares(6, 6).requires_grad_(False)
    x = torch.rand(1, 3, 6, 6)
    seeds = [11]
    a = smoothgrad([m], x, n_samples=64, s_noise=0.3, seeds=seeds)
    b = smoothgrad([m], 10 * x, n_samples=64, s_noise=0.3, seeds=seeds)
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    c = smoothgrad([m], x, n_samples=64, s_noise=0.0, seeds=seeds)
    assert not torch.allclose(a, c, atol=1e-3)


def test_batch_invariance_and_seeding():
    m = Squares(6, 6).requires_grad_(False)
    x = torch.rand(4, 3, 6, 6)
    seeds = galaxy_seeds([10, 11, 12, 13], seed=5)
    full = smoothgrad([m, m], x, n_samples=16, seeds=seeds, chunk_size=7)
    alone = smoothgrad([m, m], x[2:3], n_samples=16, seeds=seeds[2:3], chunk_size=64)
    torch.testing.assert_close(full[:, 2:3], alone, atol=1e-6, rtol=1e-5)
    again = smoothgrad([m, m], x, n_samples=16, seeds=seeds, chunk_size=64)
    torch.testing.assert_close(full, again, atol=1e-6, rtol=1e-5)
    other = smoothgrad([m, m], x, n_samples=16, seeds=galaxy_seeds([10, 11, 12, 13], seed=6))
    assert not torch.allclose(full, other)
    assert galaxy_seeds([1, 2], 0) != galaxy_seeds([2, 1], 0)


def test_x_input_and_ensemble_mean():
    m = Linear37(8, 8, 1).requires_grad_(False)
    x = torch.zeros(1, 3, 8, 8)
    x[..., 4, :] = 1.0
    maps = smoothgrad([m], x, n_samples=2, x_input=True)
    assert float(maps[0, 0, 4].max()) == pytest.approx(1.0)
    assert float(maps[0, 0, :4].abs().max()) == 0.0
    two = torch.stack([torch.zeros(1, 4, 4), torch.ones(1, 4, 4)])
    assert np.allclose(ensemble_mean_map(two).numpy(), 0.5)


def test_rejects_bad_arguments():
    m = Linear37(4, 4, 0)
    with pytest.raises(ValueError, match="n_samples"):
        smoothgrad([m], torch.rand(1, 3, 4, 4), n_samples=0)
    with pytest.raises(ValueError, match="one seed per image"):
        smoothgrad([m], torch.rand(2, 3, 4, 4), seeds=[1])


def test_padding_never_holds_the_bar():
    """A padded frame: the step at the cutout's edge outshines a fainter bar inside it."""
    from catalog_xai.core.bars import measure_bars
    from catalog_xai.core.saliency import restrict_to_data

    h = 64
    yy, xx = np.mgrid[:h, :h] + 0.5 - h / 2
    maps = np.zeros((2, h, h), np.float32)
    side = 32  # cutout fills the centred 32 x 32: edge at |x| or |y| = 16
    edge = (np.maximum(np.abs(yy), np.abs(xx)) > side / 2 - 1) & (np.maximum(np.abs(yy), np.abs(xx)) < side / 2 + 1)
    bar = (np.abs(yy) < 1.5) & (np.abs(xx) < 8)  # 16 px along x
    for b in range(2):
        maps[b][edge] = 1.0
        maps[b][bar] = 0.6
    unpadded = np.array([side, h])  # the second map says its frame is all data
    raw = measure_bars(maps, tc=0.8, tl=10)["length_pix"]
    restricted = restrict_to_data(maps, unpadded)
    assert np.isnan(restricted[0][np.abs(xx) > side / 2]).all()
    assert np.nanmax(restricted[0]) == 1.0 and np.nanmin(restricted[0]) == 0.0
    np.testing.assert_array_equal(restricted[1], maps[1])  # not padded: unchanged
    fixed = measure_bars(restricted, tc=0.8, tl=10)["length_pix"]
    assert raw[0] > 40  # the edge square's diagonal
    assert 14 <= fixed[0] <= 18  # the bar
    assert fixed[1] == raw[1]


def test_smoothgrad_squared_and_vargrad_from_the_gradients_of_the_copies():
    """For Squares the gradient of copy k is 2 w (x + e_k): the four aggregations are checked
    against the same noisy copies computed by hand."""
    m = Squares(5, 5).requires_grad_(False)
    x = torch.rand(2, 3, 5, 5)
    n, s = 32, 0.2
    w = 2 * m.w[C.BAR_YES_INDEX]
    sigma = s * (x.amax(dim=(1, 2, 3)) - x.amin(dim=(1, 2, 3)))
    w = w * torch.where(torch.arange(3) == 1, -1.0, 1.0)[:, None, None]  # signed: one band lowers the score
    m.w[C.BAR_YES_INDEX] = w / 2
    for gradients in ("abs", "square", "var", "positive"):
        maps = smoothgrad([m], x, n_samples=n, s_noise=s, seeds=[3, 4], gradients=gradients, chunk_size=8)
        for b, seed in enumerate((3, 4)):
            eps = torch.randn((n, 3, 5, 5), generator=torch.Generator().manual_seed(seed))
            g = w * (x[b] + eps * sigma[b])
            agg = {"abs": g.abs().mean(0), "square": (g * g).mean(0), "var": g.var(0, unbiased=False),
                   "positive": g.mean(0)}[gradients]
            # positive: brightening a pixel in every band, so the bands' sum, then only what raises the score
            expect = agg.sum(0).clamp_min(0) if gradients == "positive" else agg.amax(0)
            expect = (expect - expect.min()) / (expect.max() - expect.min())
            torch.testing.assert_close(maps[0, b], expect, atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="gradients must be one of"):
        smoothgrad([m], x, n_samples=2, gradients="signed")


def test_dihedral_symmetry_averages_the_network_over_rotations_and_mirrors():
    """A linear model's gradient is its weight; seen under symmetry k it is the inverse image of
    the weight, so the dihedral map is the mean of |weight| over the 8 inverse transforms: a map
    that is itself symmetric, whatever the chunking, and differs from the paper's."""
    from catalog_xai.core.saliency import dihedral

    m = Linear37(8, 8, 2).requires_grad_(False)
    x = torch.rand(2, 3, 8, 8)
    maps = smoothgrad([m], x, n_samples=16, seeds=[1, 2], symmetry="dihedral", chunk_size=5)
    w = m.w[C.BAR_YES_INDEX]
    inverse = []
    for k in range(8):
        probe = torch.zeros(3, 8, 8, requires_grad=True)
        (dihedral(probe, k) * w).sum().backward()
        inverse.append(probe.grad.abs())
    expect = torch.stack(inverse).mean(0).amax(0)
    expect = (expect - expect.min()) / (expect.max() - expect.min())
    for b in range(2):
        torch.testing.assert_close(maps[0, b], expect, atol=1e-5, rtol=1e-5)
        for k in range(8):  # invariant under every symmetry of the square
            torch.testing.assert_close(dihedral(maps[0, b], k), maps[0, b], atol=1e-5, rtol=1e-5)
    plain = smoothgrad([m], x, n_samples=16, seeds=[1, 2])
    assert not torch.allclose(plain, maps, atol=1e-2)
    with pytest.raises(ValueError, match="square"):
        smoothgrad([m], torch.rand(1, 3, 8, 6), symmetry="dihedral")
    with pytest.raises(ValueError, match="symmetry must be one of"):
        smoothgrad([m], x, symmetry="rot45")


class Counting(nn.Module):
    """A non-linear model (so its gradient depends on the view) that counts the images it sees."""

    def __init__(self):
        super().__init__()
        self.seen = 0
        torch.manual_seed(3)
        self.conv = nn.Conv2d(3, 37, 3, padding=1).requires_grad_(False)

    def forward(self, x):
        self.seen += x.shape[0]
        return torch.tanh(self.conv(x)).pow(2).mean(dim=(2, 3))


@pytest.mark.parametrize("symmetry,distinct", [("dihedral", 8), ("none", 1)])
def test_noise_free_maps_run_each_distinct_view_once(symmetry, distinct):
    """At S_noise 0 copy k repeats copy k mod 8 (or copy 0): N = 64 gives the map of one round,
    from one round of passes; an N that is not a whole number of rounds runs every copy."""
    m = Counting()
    x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    for gradients in ("abs", "var"):
        one = smoothgrad([m], x, n_samples=distinct, s_noise=0.0, symmetry=symmetry, gradients=gradients)
        m.seen = 0
        many = smoothgrad([m], x, n_samples=64, s_noise=0.0, symmetry=symmetry, gradients=gradients, chunk_size=24)
        assert m.seen == 2 * distinct
        torch.testing.assert_close(many, one)
    if symmetry == "dihedral":
        m.seen = 0
        uneven = smoothgrad([m], x, n_samples=12, s_noise=0.0, symmetry=symmetry)  # 4 views twice, 4 once
        assert m.seen == 2 * 12 and not torch.allclose(uneven, one, atol=1e-4)
