"""Data-parallel training with Ray Train: a thin layer over ``training.train_model``.

One Ray Train run (``TorchTrainer``, DDP: gloo on CPUs, NCCL on GPUs) trains the ensemble's
members one after the other. Rank 0 reports the training state (finished members and the
member in training) as a checkpoint after every epoch to the run's storage (any fsspec URL),
so a run that is interrupted -- a worker or node lost, or the
driver killed and the job submitted again -- continues from its last epoch: Ray Train
restarts lost workers itself (``FailureConfig``), and a new submission with the same
output finds the run by name and resumes it.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict

import torch

from ..core.models import ModelSpec, create_model
from ..core.training import TrainConfig, member_config, new_member, train_model
from ..storage.checkpoints import load_train_state, save_train_state

STATE_FILE = "train_state.pt"


def _pyarrow_storage(storage_url: str, storage_options: dict | None):
    """Ray Train's (path, pyarrow filesystem) for any fsspec URL (S3 endpoints included)."""
    import pyarrow.fs as pafs

    from .. import storage

    fs, path = storage.filesystem(storage.absolute(storage_url), storage_options)
    fs.makedirs(path, exist_ok=True)
    return path, pafs.PyFileSystem(pafs.FSSpecHandler(fs))


def _worker_loop(config: dict) -> None:
    """Train the ensemble's members one after the other; every epoch is a checkpoint."""
    import ray
    import ray.train
    import ray.train.torch

    rank = ray.train.get_context().get_world_rank()
    torch.set_num_threads(config["threads_per_worker"])
    x, y, w, counts = ray.get(config["data"])
    init_states = ray.get(config["init_states"]) if config["init_states"] is not None else None
    device = ray.train.torch.get_device()
    log = print if rank == 0 else (lambda m: None)

    progress = {"finished_members": [], "current": None, "resumed_at": []}
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            progress = load_train_state(os.path.join(d, STATE_FILE))

    for i, spec_dict in enumerate(config["specs"]):
        if i < len(progress["finished_members"]):
            continue
        spec = ModelSpec(**spec_dict)
        cfg = member_config(TrainConfig(**config["cfg"]), i)
        model = new_member(spec, cfg.seed, None if init_states is None else init_states[i])
        model = ray.train.torch.prepare_model(model)
        resume = progress["current"]
        if resume is not None:
            progress["resumed_at"].append([spec.architecture, resume["epoch"]])

        def on_epoch(state: dict, i: int = i, spec: ModelSpec = spec) -> None:
            done = state["finished"]
            snapshot = {**progress, "current": None if done else state,
                        "finished_members": progress["finished_members"]
                        + ([{"architecture": spec.architecture, "best_model": state["best_model"] or state["model"],
                             "history": state["history"], "best_val_rmse": state["best"]}] if done else [])}
            metrics = {"member": i, "epoch": state["epoch"], "val_rmse": state["history"]["val_rmse"][-1],
                       "member_finished": done}
            if rank == 0:  # parameters are identical on every worker: one copy is the checkpoint
                with tempfile.TemporaryDirectory() as d:
                    save_train_state(snapshot, os.path.join(d, STATE_FILE))
                    ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(d))
            else:
                ray.train.report(metrics)
            progress.update(snapshot)

        train_model(model, x, y, cfg, log=log, weights=w, resume=resume, on_epoch=on_epoch, device=device,
                    counts=counts)


def fit_ensemble(specs: list[ModelSpec], images_u8: torch.Tensor, labels: torch.Tensor, cfg: TrainConfig, *,
                 weights: torch.Tensor | None = None, counts: torch.Tensor | None = None,
                 init_states: list[dict] | None = None,
                 num_workers: int = 1, use_gpu: bool = False, threads_per_worker: int = 1,
                 storage_url: str, run_name: str, storage_options: dict | None = None,
                 max_failures: int = 3) -> tuple[list[torch.nn.Module], dict]:
    """Train the members with Ray Train; returns (models at their best validation epoch, progress).

    ``storage_url``/``run_name`` identify the run: if it holds a checkpoint from an earlier,
    interrupted submission, training continues from it (finished members are not retrained;
    the member in training resumes at its last epoch). ``progress["resumed_at"]`` lists
    where it resumed.  ``counts`` (N, 37) votes per answer: what Dirichlet heads train on.
    """
    import ray
    import ray.train
    from ray.train.torch import TorchTrainer

    path, fs = _pyarrow_storage(storage_url, storage_options)
    config = {"data": ray.put((images_u8, labels, weights, counts)), "specs": [asdict(s) for s in specs],
              "cfg": asdict(cfg), "threads_per_worker": threads_per_worker,
              "init_states": None if init_states is None else ray.put(init_states)}
    trainer = TorchTrainer(
        _worker_loop,
        train_loop_config=config,
        scaling_config=ray.train.ScalingConfig(num_workers=num_workers, use_gpu=use_gpu,
                                               resources_per_worker={"CPU": threads_per_worker}),
        run_config=ray.train.RunConfig(
            name=run_name, storage_path=path, storage_filesystem=fs,
            failure_config=ray.train.FailureConfig(max_failures=max_failures),
            checkpoint_config=ray.train.CheckpointConfig(num_to_keep=2),
        ),
    )
    result = trainer.fit()
    with result.checkpoint.as_directory() as d:
        progress = load_train_state(os.path.join(d, STATE_FILE))
    models = []
    for spec, member in zip(specs, progress["finished_members"]):
        model = create_model(spec)
        model.load_state_dict(member["best_model"])
        models.append(model.eval())
    return models, progress
