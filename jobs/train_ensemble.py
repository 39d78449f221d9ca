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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import torch  # noqa: E402

from catalog_xai import columns as C  # noqa: E402
from catalog_xai import io as cio  # noqa: E402
from catalog_xai.models import create_model, default_spec  # noqa: E402
from catalog_xai.training import TrainConfig, evaluate_rmse, frame_for_training, train_model  # noqa: E402


def load_labelled(url: str, input_size: int, crop: float):
    images, labels = [], []
    for shard in cio.list_shards(url):
        fs, path = cio.filesystem(shard)
        t = pq.read_table(fs.open(path, "rb"), columns=[C.IMAGE, *C.LABEL_COLUMNS])
        images += t.column(C.IMAGE).to_pylist()
        labels.append(np.stack([t.column(c).to_numpy() for c in C.LABEL_COLUMNS], 1))
    x, ok = frame_for_training(images, input_size, crop)
    y = torch.from_numpy(np.concatenate(labels)[ok].astype(np.float32))
    return x, y


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", required=True, help="training survey prefix (with vote_*_fraction columns)")
    ap.add_argument("--test", help="held-out survey prefix for the reported RMSE")
    ap.add_argument("--architectures", nargs="+", default=["small_vgg", "small_resnet", "small_xception"])
    ap.add_argument("--output", required=True, help="checkpoint directory (local path or fsspec URL)")
    ap.add_argument("--name", default="synthetic-small")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    ap.add_argument("--time-limit", type=float, default=float("inf"), help="seconds per model")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    specs = [default_spec(a) for a in args.architectures]
    geo = {(s.input_size, s.crop_fraction) for s in specs}
    if len(geo) != 1:
        ap.error(f"architectures must share input size and crop to form an ensemble, got {sorted(geo)}")
    size, crop = geo.pop()
    t0 = time.perf_counter()
    x, y = load_labelled(args.train, size, crop)
    print(f"training set: {len(x)} galaxies framed to {size}px ({time.perf_counter() - t0:.0f} s)")
    xt = yt = None
    if args.test:
        xt, yt = load_labelled(args.test, size, crop)
    models, report = [], {"train": args.train, "test": args.test, "n_train": len(x), "models": {}}
    for i, spec in enumerate(specs):
        torch.manual_seed(args.seed + i)
        model = create_model(spec)
        cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, seed=args.seed + i, time_limit_s=args.time_limit)
        res = train_model(model, x, y, cfg)
        entry = {"best_val_rmse": res["best_val_rmse"], "history": res["history"]}
        if xt is not None:
            entry["test_rmse"] = evaluate_rmse(model, xt, yt)
        report["models"][spec.architecture] = entry
        models.append(model)
    if xt is not None:
        with torch.no_grad():
            preds = torch.stack([torch.sigmoid(m(xt.float() / 255)) for m in models]).mean(0)
        report["ensemble_test_rmse"] = float(torch.sqrt(((preds - yt) ** 2).mean()))
        report["n_test"] = len(xt)
    manifest = cio.save_ensemble(
        models, args.output, name=args.name, training_data=f"{args.train} ({len(x)} galaxies)",
        extra={"metrics": {a: {k: v for k, v in e.items() if k != "history"} for a, e in report["models"].items()}
               | {"ensemble_test_rmse": report.get("ensemble_test_rmse")}},
    )
    cio.write_json(report, cio.join(args.output, "training_log.json"))
    print(json.dumps({"checkpoint": args.output, "ensemble_test_rmse": report.get("ensemble_test_rmse"),
                      "models": manifest["metrics"]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
