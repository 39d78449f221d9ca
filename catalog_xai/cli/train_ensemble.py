"""Train a CNN ensemble on a survey with volunteer vote fractions; write a checkpoint.

    python jobs/train_ensemble.py --train ./surveys/train --test ./surveys/test \
        --architectures small_vgg small_resnet small_xception --output catalog_xai/weights/synthetic-small

Each architecture is trained with the paper's protocol (catalog_xai.training); the
checkpoint is safetensors weights plus a manifest, written to any fsspec URL.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch

from catalog_xai import columns as C
from catalog_xai import storage
from catalog_xai.core.models import HEADS, default_spec
from catalog_xai.core.params import FRAMINGS
from catalog_xai.core.resolution import alpha as resolution_alpha
from catalog_xai.core.training import (
    TrainConfig,
    evaluate_rmse,
    frame_for_training,
    member_config,
    new_member,
    train_model,
)
from catalog_xai.core.units import r90_pixels


def vote_weights(counts: np.ndarray) -> np.ndarray:
    """Per-label weights: the number of volunteers who answered each label's question.

    A fraction from 2 answers is weaker evidence than one from 40 (binomial variance ~1/n);
    capped at 40 so that a few heavily voted galaxies do not dominate.
    """
    w = np.zeros_like(counts, dtype=np.float32)
    for _, sl in C.question_slices().items():
        n_q = np.nansum(counts[:, sl], axis=1, keepdims=True)
        w[:, sl] = np.minimum(n_q, 40.0)
    return w


def load_labelled(url: str, spec, weight_by_votes: bool = False, need_counts: bool = False):
    """Framed (as ``spec`` says) uint8 images, labels (NaN where missing), weights or None, vote
    counts (with ``need_counts``) or None, objids, and each galaxy's resolution alpha (NaN where the
    survey has no psf_fwhm_arcsec or size) of a survey."""
    images, labels, counts, objids, r90, alphas = [], [], [], [], [], []
    for shard in storage.list_shards(url):
        fs, path = storage.filesystem(shard)
        t = pq.read_table(fs.open(path, "rb"))
        missing = [c for c in C.LABEL_COLUMNS if c not in t.column_names]
        if missing and all(c in t.column_names for c in C.LEGACY_LABEL_COLUMNS):
            raise SystemExit(f"error: {shard} has contract-1 label columns (vote_<answer>_fraction, cumulative); "
                             "contract 2 names them vote_<answer>_cumulative_fraction: re-import the survey "
                             "with cxai-import, or rename the 37 columns")
        if missing:
            raise SystemExit(f"error: {shard} has no label column(s) {missing[:3]}... "
                             "(vote_<answer>_cumulative_fraction)")
        images += t.column(C.IMAGE).to_pylist()
        objids += t.column(C.OBJID).to_pylist()
        labels.append(np.stack([t.column(c).to_numpy(zero_copy_only=False) for c in C.LABEL_COLUMNS],
                               1).astype(np.float64))
        if weight_by_votes or need_counts:
            if not all(c in t.column_names for c in C.VOTE_COUNT_COLUMNS):
                why = "--weight-by-votes" if weight_by_votes else "--head dirichlet (trained on raw vote counts)"
                raise SystemExit(f"error: {why} needs the votes_<answer>_count columns, missing in {shard}")
            counts.append(np.stack([t.column(c).to_numpy(zero_copy_only=False) for c in C.VOTE_COUNT_COLUMNS],
                                   1).astype(float))
        def floats(name, t=t):
            have = name in t.column_names
            return t.column(name).to_numpy(zero_copy_only=False).astype(float) if have else np.full(t.num_rows, np.nan)

        r90.append(r90_pixels(floats(C.PETRO_R90), floats(C.PIXEL_SCALE)))
        size = np.where(floats(C.PETRO_R50) > 0, floats(C.PETRO_R50), floats(C.PETRO_R90))
        alphas.append(resolution_alpha(size, floats(C.PSF_FWHM)))
    x, ok = frame_for_training(images, spec, np.concatenate(r90))
    y = torch.from_numpy(np.concatenate(labels)[ok].astype(np.float32))
    w = torch.from_numpy(vote_weights(np.concatenate(counts))[ok]) if weight_by_votes else None
    k = torch.from_numpy(np.nan_to_num(np.concatenate(counts)[ok]).astype(np.float32)) if need_counts else None
    return x, y, w, k, np.asarray(objids)[ok], np.concatenate(alphas)[ok]


def holdout_mask(objids: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A deterministic held-out subset chosen by objid (the same galaxies whatever the order)."""
    if fraction <= 0:
        return np.zeros(len(objids), bool)
    h = np.array([int(np.random.SeedSequence([seed, int(o) & 0xFFFFFFFF, int(o) >> 32]).generate_state(1)[0])
                  for o in objids])
    return (h % 10_000) < fraction * 10_000


def write_learning_curves(report: dict, url: str) -> None:
    """The training log as a plot (training and validation RMSE per epoch), to any fsspec URL."""
    import io

    from catalog_xai.core import figures

    fig = figures.learning_curves({a: e["history"] for a, e in report["models"].items()})
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    fs, path = storage.filesystem(url)
    with fs.open(path, "wb") as f:
        f.write(buf.getvalue())


def train_with_ray(args, specs, init, x, y, w, k, cfg, report):
    """Data-parallel training with Ray Train, resumable: the run is named after its configuration
    and lives under <output>/_ray_train, so submitting the same job again continues it."""
    import hashlib

    import ray

    from catalog_xai.cluster.train import fit_ensemble

    key = json.dumps({k: v for k, v in sorted(vars(args).items())
                      if k not in ("workers", "use_gpu", "threads_per_worker", "ray_address", "threads")},
                     sort_keys=True, default=str)
    run_name = f"{args.name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    if not ray.is_initialized():
        ray.init(address=args.ray_address, logging_level="WARNING", include_dashboard=False,
                 runtime_env={"env_vars": {"PYTHONPATH": str(Path(__file__).resolve().parents[2])}})
    models, progress = fit_ensemble(
        specs, x, y, cfg, weights=w, counts=k, init_states=[m.state_dict() for m in init.models] if init else None,
        num_workers=args.workers, use_gpu=args.use_gpu, threads_per_worker=args.threads_per_worker,
        storage_url=storage.join(args.output, "_ray_train"), run_name=run_name)
    report["ray_train"] = {"run": storage.join(args.output, "_ray_train", run_name), "workers": args.workers,
                           "use_gpu": args.use_gpu, "resumed_at": progress["resumed_at"]}
    for arch, epoch in progress["resumed_at"]:
        print(f"{arch}: resumed from the checkpoint of epoch {epoch}")
    results = [{"best_val_rmse": m["best_val_rmse"], "history": m["history"]} for m in progress["finished_members"]]
    return models, results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", required=True, help="training survey prefix (with vote_*_cumulative_fraction columns)")
    ap.add_argument("--test", help="held-out survey prefix for the reported RMSE")
    ap.add_argument("--architectures", nargs="+", default=["small_vgg", "small_resnet", "small_xception"])
    ap.add_argument("--output", required=True, help="checkpoint directory (local path or fsspec URL)")
    ap.add_argument("--name", default="synthetic-small")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    ap.add_argument("--time-limit", type=float, default=float("inf"), help="seconds per model")
    ap.add_argument("--init", help="start from this ensemble (built-in name or URL): fine-tuning; "
                                   "its architectures replace --architectures")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--framing", choices=FRAMINGS, default=None,
                    help="how to frame the training cutouts; recorded in each model's spec, so inference frames "
                         "the same way (default: the --init ensemble's framing, else native)")
    ap.add_argument("--weight-by-votes", action="store_true",
                    help="weigh each label by the number of volunteers who answered its question")
    ap.add_argument("--head", choices=HEADS, default=None,
                    help="how the 37 outputs read: sigmoid fractions trained on RMSE (the paper), or per-question "
                         "Dirichlet concentrations trained on the raw vote counts (seed 002; needs votes_*_count "
                         "columns). Default: the --init ensemble's head, else sigmoid")
    ap.add_argument("--ddb-theta", type=float, default=0.0,
                    help="train smooth/featured with seed 003's de-biasing loss at this theta (from cxai-bias's fit); "
                         "needs psf_fwhm_arcsec and petroR50_r or petroR90_r in the survey. The checkpoint is then "
                         "a --debias-checkpoint")
    ap.add_argument("--holdout-fraction", type=float, default=0.0,
                    help="keep this fraction of --train (chosen by objid) out of training, as the test set")
    ap.add_argument("--workers", type=int, default=1,
                    help="Ray Train data-parallel workers (one GPU each with --use-gpu); 0 trains in this "
                         "process without Ray and without checkpoints to resume from")
    ap.add_argument("--use-gpu", action="store_true", help="one GPU per Ray Train worker")
    ap.add_argument("--threads-per-worker", type=int, default=1, help="CPUs (torch threads) per worker")
    ap.add_argument("--ray-address", default=None, help="Ray cluster to join (default: the job's, or a local one)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    init = storage.load_ensemble(args.init) if args.init else None
    specs = [m.spec for m in init.models] if init else [default_spec(a) for a in args.architectures]
    if args.framing:
        specs = [replace(s, framing=args.framing) for s in specs]
    if args.head:
        specs = [replace(s, head=args.head) for s in specs]
    need_counts = any(s.head == "dirichlet" for s in specs)
    geo = {(s.input_size, s.crop_fraction, s.framing) for s in specs}
    if len(geo) != 1:
        ap.error(f"architectures must share input size, crop and framing to form an ensemble, got {sorted(geo)}")
    size, _, framing = geo.pop()
    t0 = time.perf_counter()
    x, y, w, k, ids, alpha = load_labelled(args.train, specs[0], args.weight_by_votes, need_counts)
    alpha_t = None
    if args.ddb_theta:
        if not np.isfinite(alpha).all():
            missing = int((~np.isfinite(alpha)).sum())
            raise SystemExit(f"error: --ddb-theta needs every training galaxy's alpha: {missing} of {len(alpha)} "
                             "have no psf_fwhm_arcsec or petroR50_r/petroR90_r")
        alpha_t = torch.from_numpy(alpha.astype(np.float32))
    xt = yt = None
    held = holdout_mask(ids, args.holdout_fraction, args.seed)
    if held.any():
        hold = torch.from_numpy(held)
        xt, yt = x[hold], y[hold]
        x, y = x[~hold], y[~hold]
        w, k = (None if w is None else w[~hold]), (None if k is None else k[~hold])
        alpha_t = None if alpha_t is None else alpha_t[~hold]
    elif args.test:
        xt, yt, _, _, _, _ = load_labelled(args.test, specs[0], args.weight_by_votes)
    print(f"training set: {len(x)} galaxies framed to {size}px; test set: {0 if xt is None else len(xt)} "
          f"({time.perf_counter() - t0:.0f} s)")
    report = {"train": args.train, "test": args.test or f"held out of {args.train}", "n_train": len(x),
              "init": args.init, "framing": framing, "weight_by_votes": args.weight_by_votes,
              "heads": [s.head for s in specs],
              "holdout_objids": [int(i) for i in ids[held]], "models": {}}
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
                      time_limit_s=args.time_limit, lr=args.lr, ddb_theta=args.ddb_theta)
    if args.workers > 0 and args.ddb_theta:
        raise SystemExit("error: --ddb-theta trains in this process: add --workers 0")
    if args.workers > 0:
        models, results = train_with_ray(args, specs, init, x, y, w, k, cfg, report)
    else:
        models, results = [], []
        for i, spec in enumerate(specs):
            member_cfg = member_config(cfg, i)
            model = new_member(spec, member_cfg.seed, init.models[i].state_dict() if init else None)
            res = train_model(model, x, y, member_cfg, weights=w, counts=k, alpha=alpha_t)
            models.append(model)
            results.append(res)
    for spec, model, res in zip(specs, models, results):
        entry = {"best_val_rmse": res["best_val_rmse"], "history": res["history"]}
        if xt is not None:
            entry["test_rmse"] = evaluate_rmse(model, xt, yt)
        report["models"][spec.architecture] = entry
    if xt is not None:
        from catalog_xai.core.training import predict_fractions, rmse

        preds = torch.stack([predict_fractions(m, xt) for m in models]).mean(0)
        report["ensemble_test_rmse"] = float(rmse(preds, yt))
        report["n_test"] = len(xt)
    manifest = storage.save_ensemble(
        models, args.output, name=args.name,
        training_data=f"{args.train} ({len(x)} galaxies{', fine-tuned from ' + args.init if args.init else ''})",
        extra={"metrics": {a: {k: v for k, v in e.items() if k != "history"} for a, e in report["models"].items()}
               | {"ensemble_test_rmse": report.get("ensemble_test_rmse")},
               **({"ddb": {"theta": args.ddb_theta, "question": "smooth_or_featured"}} if args.ddb_theta else {})},
    )
    storage.write_json(report, storage.join(args.output, "training_log.json"))
    write_learning_curves(report, storage.join(args.output, "learning_curves.png"))
    print(json.dumps({"checkpoint": args.output, "ensemble_test_rmse": report.get("ensemble_test_rmse"),
                      "models": manifest["metrics"]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
