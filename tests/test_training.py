import math

import torch

from catalog_xai.core.models import create_model, default_spec
from catalog_xai.core.training import TrainConfig, augment, rmse, train_model


def test_rmse_ignores_missing_labels_and_weighs_by_votes():
    pred = torch.tensor([[0.5, 0.5], [0.5, 0.5]])
    target = torch.tensor([[0.5, float("nan")], [1.0, 0.5]])
    assert math.isclose(float(rmse(pred, target)), math.sqrt(0.25 / 3), rel_tol=1e-6)
    w = torch.tensor([[40.0, 40.0], [2.0, 40.0]])  # the wrong answer was given by 2 volunteers
    assert float(rmse(pred, target, w)) < float(rmse(pred, target))


def test_augment_keeps_shape_and_range_and_is_seeded():
    x = torch.rand(4, 3, 32, 32)
    a = augment(x, torch.Generator().manual_seed(1), 0.05, (0.7, 1.3))
    b = augment(x, torch.Generator().manual_seed(1), 0.05, (0.7, 1.3))
    assert a.shape == x.shape and float(a.min()) >= 0 and float(a.max()) <= 1
    assert torch.equal(a, b)
    assert not torch.equal(a, augment(x, torch.Generator().manual_seed(2), 0.05, (0.7, 1.3)))  # the draws are used
    assert not torch.allclose(a, x, atol=0.05)  # it transforms at all


_SIZE = 48
_BLOB_OFFSETS = ((-12.0, 5.0), (6.0, 10.0), (8.0, -9.0))  # (dy, dx) from the frame centre, one blob per channel


def _coords(size=_SIZE):
    """Row and column offsets of the pixel centres from the frame centre (the centre of rotation)."""
    r = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    return torch.meshgrid(r, r, indexing="ij")


def _gaussian(dy, dx, sigma, peak, size=_SIZE):
    yy, xx = _coords(size)
    return peak * torch.exp(-((yy - dy) ** 2 + (xx - dx) ** 2) / (2 * sigma**2))


def _centroids(imgs):
    """(B, C, H, W) -> (B, C, 2): each channel's (dy, dx) centroid from the frame centre."""
    yy, xx = _coords(imgs.shape[-1])
    w = imgs / imgs.sum(dim=(-2, -1), keepdim=True)
    return torch.stack([(w * yy).sum((-2, -1)), (w * xx).sum((-2, -1))], -1)


def test_augment_rotates_through_all_angles_and_flips_rigidly():
    """Rotation 0-360 deg and flips: an off-centre blob visits every quadrant, distances are kept
    (one rigid resample), and mirror images (a flip) occur as often as proper rotations."""
    x = torch.stack([_gaussian(dy, dx, 1.5, 0.5) for dy, dx in _BLOB_OFFSETS])[None].repeat(128, 1, 1, 1)
    out = augment(x, torch.Generator().manual_seed(0), 0.0, (1.0, 1.0))
    assert out.shape == x.shape and float(out.min()) >= 0 and float(out.max()) <= 1
    changed = (out - x).abs().amax(dim=(1, 2, 3)) > 0.1
    assert float(changed.float().mean()) > 0.9  # nearly every draw moves the blobs
    p, p0 = _centroids(out), _centroids(x[:1])[0]
    for i, j in ((0, 1), (0, 2), (1, 2)):  # an isometry: the blobs keep their distances
        torch.testing.assert_close((p[:, i] - p[:, j]).norm(dim=-1), (p0[i] - p0[j]).norm().expand(128),
                                   atol=0.3, rtol=0)
    torch.testing.assert_close(p.norm(dim=-1), p0.norm(dim=-1).expand(128, 3), atol=0.3, rtol=0)  # about the centre
    quadrants = set(zip((p[:, 0, 0] > 0).tolist(), (p[:, 0, 1] > 0).tolist()))
    assert len(quadrants) == 4
    angle = torch.sort(torch.atan2(p[:, 0, 0], p[:, 0, 1])).values
    gaps = torch.diff(torch.cat([angle, angle[:1] + 2 * math.pi]))
    assert float(gaps.max()) < math.radians(45)  # angles cover the whole circle, not a few fixed ones
    ab, ac = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
    mirrored = (ab[:, 0] * ac[:, 1] - ab[:, 1] * ac[:, 0]) * (
        (p0[1] - p0[0])[0] * (p0[2] - p0[0])[1] - (p0[1] - p0[0])[1] * (p0[2] - p0[0])[0]) < 0
    assert 0.3 < float(mirrored.float().mean()) < 0.7  # flipped half the time (x and y flips at 1/2 each)


def test_augment_shifts_up_to_max_shift():
    """Shifts: none at max_shift=0; with max_shift=0.2 a centred blob moves, by up to 0.2 of the size per axis."""
    x = _gaussian(0.0, 0.0, 2.5, 0.4).expand(128, 3, _SIZE, _SIZE).clone()
    still = _centroids(augment(x, torch.Generator().manual_seed(1), 0.0, (1.0, 1.0)))[:, 0]
    assert float(still.norm(dim=-1).max()) < 0.1
    moved = _centroids(augment(x, torch.Generator().manual_seed(1), 0.2, (1.0, 1.0)))[:, 0].norm(dim=-1)
    limit = math.sqrt(2) * 0.2 * _SIZE  # the shift is drawn per axis before the rotation
    assert float(moved.max()) <= limit + 0.3 and float(moved.max()) > 0.6 * 0.2 * _SIZE
    assert float(moved.min()) < float(moved.max()) - 3  # shifts vary from draw to draw


def test_augment_scales_brightness_and_clamps_to_one():
    """Brightness x(lo..hi): a rotationally symmetric centred image with brightness=(2, 2) doubles (clamped at 1),
    and gains drawn in (0.5, 1.5) stay in that range and vary."""
    g = _gaussian(0.0, 0.0, 4.0, 0.4).expand(16, 3, _SIZE, _SIZE).clone()
    ratio = augment(g, torch.Generator().manual_seed(2), 0.0, (2.0, 2.0)).mean((1, 2, 3)) / g.mean((1, 2, 3))
    torch.testing.assert_close(ratio, torch.full((16,), 2.0), atol=0.02, rtol=0)
    bright = augment(2 * g, torch.Generator().manual_seed(2), 0.0, (2.0, 2.0))  # peak 0.8 -> 1.6, clamped
    assert float(bright.max()) == 1.0 and float(bright.min()) >= 0
    torch.testing.assert_close(bright, (4 * g).clamp(0, 1), atol=0.03, rtol=0)
    ratio = augment(g, torch.Generator().manual_seed(3), 0.0, (0.5, 1.5)).mean((1, 2, 3)) / g.mean((1, 2, 3))
    assert float(ratio.min()) >= 0.5 - 0.01 and float(ratio.max()) <= 1.5 + 0.01
    assert float(ratio.max() - ratio.min()) > 0.5


def test_training_reduces_loss_on_a_learnable_task():
    torch.manual_seed(0)
    n = 96
    x = torch.zeros(n, 3, 32, 32, dtype=torch.uint8)
    y = torch.full((n, 37), float("nan"))
    bright = torch.arange(n) % 2 == 0
    x[bright, :, 8:24, 8:24] = 255
    y[:, 0] = bright.float() * 0.8 + 0.1  # one learnable label; the rest are missing
    model = create_model(default_spec("small_vgg", input_size=32))
    res = train_model(model, x, y, TrainConfig(epochs=8, batch_size=16, seed=0, max_shift=0.0), log=lambda m: None)
    h = res["history"]
    assert h["val_rmse"][-1] < h["val_rmse"][0] and math.isfinite(res["best_val_rmse"])


def _learnable(n=64, size=32):
    x = torch.zeros(n, 3, size, size, dtype=torch.uint8)
    y = torch.full((n, 37), float("nan"))
    bright = torch.arange(n) % 2 == 0
    x[bright, :, size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 255
    y[:, 0] = bright.float() * 0.8 + 0.1
    return x, y


def test_interrupted_training_resumes_to_the_same_weights(tmp_path):
    """Stop after epoch 2, reload the saved state from disk, continue: same weights as never stopping."""
    from catalog_xai.storage.checkpoints import load_train_state, save_train_state

    x, y = _learnable()
    cfg = TrainConfig(epochs=4, batch_size=16, seed=3)
    spec = default_spec("small_vgg", input_size=32)

    torch.manual_seed(0)
    straight = create_model(spec)
    ref = train_model(straight, x, y, cfg, log=lambda m: None)

    class Interrupted(Exception):
        pass

    def stop_after_two(state):
        save_train_state(state, str(tmp_path / "state.pt"))
        if state["epoch"] == 2:
            raise Interrupted

    torch.manual_seed(0)
    first = create_model(spec)
    try:
        train_model(first, x, y, cfg, log=lambda m: None, on_epoch=stop_after_two)
    except Interrupted:
        pass
    state = load_train_state(str(tmp_path / "state.pt"))
    assert state["epoch"] == 2 and not state["finished"]
    resumed = create_model(spec)  # fresh process: weights come from the state only
    res = train_model(resumed, x, y, cfg, log=lambda m: None, resume=state)
    assert res["history"]["epoch"] == [1, 2, 3, 4]
    assert res["history"]["val_rmse"] == ref["history"]["val_rmse"]
    for k, v in straight.state_dict().items():
        assert torch.equal(v, resumed.state_dict()[k]), k


def test_train_job_fine_tunes_with_vote_weights_and_holdout(tmp_path, tiny_ensemble):
    import json

    from catalog_xai import storage
    from catalog_xai.cli import train_ensemble
    from catalog_xai.importers.synthetic import generate_survey

    generate_survey(str(tmp_path / "s"), n_galaxies=16, shard_size=8, seed=8)
    storage.save_ensemble(tiny_ensemble.models, str(tmp_path / "init"), name="tiny", training_data="none")
    rc = train_ensemble.main(["--train", str(tmp_path / "s"), "--init", str(tmp_path / "init"), "--output",
                              str(tmp_path / "ft"), "--epochs", "2", "--batch-size", "4", "--weight-by-votes",
                              "--holdout-fraction", "0.25", "--lr", "3e-4", "--name", "ft-test",
                              "--workers", "0"])
    assert rc == 0
    log = json.loads((tmp_path / "ft" / "training_log.json").read_text())
    assert log["n_train"] + log["n_test"] == 16 and log["n_test"] == len(log["holdout_objids"]) > 0
    assert log["weight_by_votes"] and log["init"].endswith("init")
    assert (tmp_path / "ft" / "learning_curves.png").read_bytes()[:4] == b"\x89PNG"
    ft = storage.load_ensemble(str(tmp_path / "ft"))
    assert ft.manifest["name"] == "ft-test" and "fine-tuned from" in ft.manifest["training_data"]
    before = tiny_ensemble.models[0].state_dict()["head.weight"]
    assert not torch.equal(ft.models[0].state_dict()["head.weight"], before)  # it trained
    assert ft.spec.input_size == 48  # kept the initial ensemble's architecture and framing
