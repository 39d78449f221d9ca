"""The GPU run, ready to go: the paper-size ensemble's SmoothGrad and a short survey job.

    python -m benchmarks gpu            # on a machine with a CUDA GPU: under five minutes on one H100
    python -m benchmarks gpu --smoke    # the same path on the CPU, tiny sizes (what CI runs)

1. SmoothGrad of VGG16, ResNet50v2 and Xception at 224 px (randomly initialised: no
   paper-size weights ship, and untrained weights cost the same), N = 256, precision auto
   (bf16 on GPUs that run it natively), chunk size measured: seconds per galaxy per GPU.
2. The survey job (``jobs/classify_survey.py``) on a generated survey with that ensemble
   saved as a checkpoint: galaxies per second per GPU, end to end through Ray Data and S3-less
   local Parquet, start-up included.

Writes benchmarks/results/gpu.json (or gpu_smoke.json) with the GPU's name, the date and the
machine, and prints the table.  The issue-14 target: <= 0.15 s per galaxy at N = 256 (the
compute floor is about 0.025 s on an H100).
"""

from __future__ import annotations

import io
import json
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

PAPER_MODELS = ("vgg16", "resnet50v2", "xception")


def add_parser(sub) -> None:
    p = sub.add_parser("gpu", help="paper-size SmoothGrad and a short survey job on the GPU (issue 14)")
    p.add_argument("--smoke", action="store_true", help="tiny sizes on whatever device there is (CI)")
    p.add_argument("--galaxies", type=int, default=32, help="galaxies in the SmoothGrad timing")
    p.add_argument("--survey-galaxies", type=int, default=256, help="galaxies in the survey job")
    p.add_argument("--n-samples", type=int, default=256)
    p.add_argument("--workdir", default=None, help="where the survey and catalogue go (default: a temp dir)")
    p.add_argument("--results", type=Path, default=None, help="folder for the JSON (default benchmarks/results)")


def bench_gpu(args) -> dict:
    import numpy as np
    import torch

    from catalog_xai import columns as C
    from catalog_xai import storage
    from catalog_xai.core import hardware
    from catalog_xai.core.ensemble import Ensemble
    from catalog_xai.core.models import create_model, default_spec
    from catalog_xai.core.saliency import galaxy_seeds, smoothgrad

    from .__main__ import _save

    device = "cuda" if torch.cuda.is_available() else "cpu"
    gpus = torch.cuda.device_count() if device == "cuda" else 0
    size = 64 if args.smoke else 224  # the smoke run builds the same architectures, smaller
    n = 2 if args.smoke else args.n_samples
    g = 2 if args.smoke else args.galaxies
    torch.manual_seed(0)
    models = [create_model(default_spec(a, input_size=size)) for a in PAPER_MODELS]
    ens = Ensemble(models, {"name": "paper-size-untrained"}).to(device)
    t0 = time.perf_counter()
    # what an actor decides at start; the smoke run times one small chunk instead of searching
    precision, chunk = hardware.choose(ens.members, input_size=size, device=device, precision="auto",
                                       chunk_size=8 if args.smoke else 0, target=C.BAR_YES_INDEX)
    dtype = torch.bfloat16 if precision == "bf16" else None
    t_choose = time.perf_counter() - t0
    x = torch.rand((g, 3, size, size), generator=torch.Generator().manual_seed(1)).to(device)
    seeds = galaxy_seeds(range(g), 0)

    def timed_smoothgrad() -> tuple[torch.Tensor, float]:
        """The maps of all g galaxies and their seconds, after a one-galaxy warm-up."""
        smoothgrad(ens.members, x[:1], n_samples=n, seeds=seeds[:1], chunk_size=chunk, autocast_dtype=dtype)
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = smoothgrad(ens.members, x, n_samples=n, seeds=seeds, chunk_size=chunk, autocast_dtype=dtype)
        if device == "cuda":
            torch.cuda.synchronize()
        return out, time.perf_counter() - t0

    maps, t_sg = timed_smoothgrad()
    assert maps.shape == (len(PAPER_MODELS), g, size, size) and bool(torch.isfinite(maps).all())
    rows = [{"what": f"SmoothGrad, {'+'.join(PAPER_MODELS)} at {size} px, N={n}, {precision}, chunk {chunk}",
             "galaxies": g, "seconds": t_sg, "s_per_galaxy": t_sg / g, "galaxies_per_s_per_gpu": g / t_sg}]
    if device == "cuda":  # cuDNN's own algorithm search per shape: is it worth turning on in the actors?
        torch.backends.cudnn.benchmark = True
        t_bench = timed_smoothgrad()[1]
        torch.backends.cudnn.benchmark = False
        rows.append({"what": rows[0]["what"] + ", cudnn.benchmark on", "galaxies": g, "seconds": t_bench,
                     "s_per_galaxy": t_bench / g, "galaxies_per_s_per_gpu": g / t_bench})
    # The job's actor shares this GPU: hand back what this process holds (a driver holds none on a cluster).
    maps = x = None
    ens.to("cpu")
    if device == "cuda":
        torch.cuda.empty_cache()

    # The survey job on a generated survey, the ensemble saved as a checkpoint as a user would.
    import ray

    from catalog_xai.cli import classify_survey
    from catalog_xai.importers.synthetic import generate_survey

    work = Path(args.workdir or tempfile.mkdtemp(prefix="cxai-gpu-"))
    ckpt = work / "paper-size"
    storage.save_ensemble([m.cpu() for m in models], str(ckpt), name="paper-size-untrained",
                          training_data="none (random initialisation: a timing run)")
    galaxies = 4 if args.smoke else args.survey_galaxies
    survey = work / "survey"
    generate_survey(str(survey), n_galaxies=galaxies, shard_size=max(1, galaxies // max(4, 2 * max(gpus, 1))),
                    seed=7)
    ray.init(ignore_reinit_error=True, logging_level="ERROR", include_dashboard=False)
    t0 = time.perf_counter()
    log = io.StringIO()
    with redirect_stdout(log):
        rc = classify_survey.main(["--input", str(survey), "--output", str(work / "catalogue"), "--checkpoint",
                                   str(ckpt), "--n-samples", str(n), "--overwrite", "--progress-seconds", "600"])
    t_job = time.perf_counter() - t0
    summary = json.loads((work / "catalogue" / "_summary.json").read_text())
    rows.append({"what": f"survey job (classify_survey), {galaxies} generated galaxies, N={n}, start-up included",
                 "galaxies": summary["galaxies"], "seconds": t_job, "s_per_galaxy": t_job / max(1, galaxies),
                 "galaxies_per_s_per_gpu": summary["galaxies"] / t_job / max(1, gpus)})
    name = torch.cuda.get_device_name(0) if gpus else "no GPU (CPU path)"
    notes = {"gpu": name, "gpus": gpus, "precision": precision, "bf16_native": hardware.native_bf16(device)[1],
             "chunk_size": chunk, "chunk_choice_seconds": t_choose, "job_rc": rc,
             "job_devices": dict(summary.get("devices", {})),
             "target": "<= 0.15 s per galaxy at N = 256 for the paper-size ensemble (floor ~0.025 s on an H100)",
             "job_log_tail": log.getvalue().splitlines()[-6:]}
    _save("gpu_smoke" if args.smoke else "gpu", rows, notes, args.results)
    if rc != 0 or summary["galaxies"] != galaxies or not np.isfinite(t_job):
        raise RuntimeError(f"the survey job did not process every galaxy (rc {rc}): {notes['job_log_tail']}")
    return {"rows": rows, **notes}
