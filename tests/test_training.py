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
    import sys
    from pathlib import Path

    from catalog_xai import storage
    from catalog_xai.importers.synthetic import generate_survey

    from catalog_xai.cli import train_ensemble

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
