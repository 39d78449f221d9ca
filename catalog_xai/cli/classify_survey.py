"""Classify a survey and measure its bars: Parquet shards in, catalogue shards out.

On a cluster:
    ray job submit --working-dir . -- python jobs/classify_survey.py \
        --input s3://bucket/survey/ --output s3://bucket/vac/

On a laptop (starts a local Ray; with no --input it generates a small sample survey):
    python jobs/classify_survey.py

Every method parameter defaults to the value of Bhambra, Joachimi & Lahav (2022).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from catalog_xai import __version__
from catalog_xai import storage
from catalog_xai.core.catalogue import ENSEMBLE_METHODS, FRAMINGS, MethodParams
from catalog_xai.core.bars import LINEARITY_CRITERIA
from catalog_xai.cluster.pool import PoolConfig, run_survey

DEMO_SURVEY = "runs/demo/survey"
DEMO_OUTPUT = "runs/demo/vac-{demo}"
SAMPLE_SURVEY = str(Path(__file__).resolve().parents[1] / "data" / "sdss_sample")


def parse_args(argv=None):
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--params-file")
    known, _ = pre.parse_known_args(argv)
    d = MethodParams()
    if known.params_file:  # tuned parameters (jobs/tune_bars.py) become the defaults; flags still win
        from catalog_xai import storage as _io

        fs, path = _io.filesystem(known.params_file)
        with fs.open(path, "r") as f:
            d = MethodParams.from_dict({k: v for k, v in json.load(f).items() if k != "comment"})
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    io_ = ap.add_argument_group("data")
    io_.add_argument("--input", help="survey prefix or shard (local path or fsspec URL); default: the demo survey")
    io_.add_argument("--demo", choices=("sdss", "synthetic"), default="sdss",
                     help="with no --input: sdss = 36 real SDSS galaxies shipped with the package (framed from "
                          f"their measured size); synthetic = generate a survey at {DEMO_SURVEY}")
    io_.add_argument("--output", help=f"catalogue prefix (default with no --input: {DEMO_OUTPUT.format(demo='sdss')} "
                                      "or ...-synthetic)")
    io_.add_argument("--checkpoint", default=None,
                     help=f"ensemble: built-in name {storage.BUILTIN_CHECKPOINTS} or a directory URL with manifest.json "
                          f"(default {storage.DEFAULT_CHECKPOINT}; synthetic-small for --demo synthetic)")
    io_.add_argument("--storage-options", default="{}", type=json.loads,
                     help='JSON fsspec options without secrets, e.g. \'{"endpoint_url": "http://..."}\'')
    io_.add_argument("--demo-galaxies", type=int, default=32, help="size of the generated sample survey")
    m = ap.add_argument_group("method (paper values by default)")
    m.add_argument("--params-file", help="JSON of method parameters (e.g. from jobs/tune_bars.py) used as defaults")
    m.add_argument("--length-scale", type=float, default=d.length_scale,
                   help="calibration factor applied to every bar length (1 = raw SmoothGrad lengths)")
    m.add_argument("--n-samples", type=int, default=d.n_samples, help="SmoothGrad N")
    m.add_argument("--noise-level", type=float, default=d.noise_level, help="S_noise, relative to each image's range")
    m.add_argument("--x-input", action=argparse.BooleanOptionalAction, default=d.multiply_by_input,
                   help="multiply maps by the greyscale image (X_input)")
    m.add_argument("--tc", type=float, default=d.tc, help="linearity threshold Tc")
    m.add_argument("--tl", type=int, default=d.tl, help="minimum pixel count Tl")
    m.add_argument("--linearity", choices=LINEARITY_CRITERIA, default=d.linearity)
    m.add_argument("--ensemble-method", choices=ENSEMBLE_METHODS, default=d.ensemble_method,
                   help="maps: average the maps (paper iv); lengths: average the lengths (paper v)")
    m.add_argument("--framing", choices=FRAMINGS, default=None,
                   help="native: cutouts already in the models' (GZ2) framing; petrosian: reframe from petroR90_r; "
                        f"measured: reframe from a size measured on each image (default {d.framing}; "
                        "measured for the SDSS demo)")
    m.add_argument("--cosmology", default=d.cosmology, help="astropy realization name")
    m.add_argument("--kpc-h", action=argparse.BooleanOptionalAction, default=d.kpc_h,
                   help="also write bar_length_kpc_h (h^-1 kpc)")
    m.add_argument("--seed", type=int, default=d.seed, help="SmoothGrad noise seed")
    m.add_argument("--precision", choices=("fp32", "bf16"), default=d.precision)
    r = ap.add_argument_group("resources")
    r.add_argument("--batch-size", type=int, default=16, help="galaxies per ensemble call")
    r.add_argument("--chunk-size", type=int, default=d.chunk_size, help="noisy images per forward/backward pass")
    r.add_argument("--min-actors", type=int, default=1)
    r.add_argument("--max-actors", type=int, default=0, help="0: one per GPU, or per CPU without GPUs")
    r.add_argument("--gpus-per-actor", type=float, default=None, help="default 1 if the cluster has GPUs, else 0")
    r.add_argument("--cpus-per-actor", type=float, default=1.0)
    r.add_argument("--address", default=None, help="Ray address (default: RAY_ADDRESS, else a local Ray)")
    io_.add_argument("--overwrite", action="store_true",
                     help="replace a catalogue made with another configuration at --output")
    r.add_argument("--compile", action="store_true", help="torch.compile the ensemble in each actor")
    r.add_argument("--verbose", action="store_true", help="show Ray Data's own progress and logs")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    demo = args.input is None
    if args.framing is None:
        args.framing = "measured" if demo and args.demo == "sdss" else MethodParams().framing
    if args.checkpoint is None:
        args.checkpoint = "synthetic-small" if demo and args.demo == "synthetic" else storage.DEFAULT_CHECKPOINT
    try:
        params = MethodParams(
            n_samples=args.n_samples, noise_level=args.noise_level, multiply_by_input=args.x_input, tc=args.tc,
            tl=args.tl, linearity=args.linearity, ensemble_method=args.ensemble_method, cosmology=args.cosmology,
            kpc_h=args.kpc_h, seed=args.seed, chunk_size=args.chunk_size, precision=args.precision,
            length_scale=args.length_scale, framing=args.framing,
        )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    import ray

    t0 = time.perf_counter()
    runtime_env = None
    if args.address is None and not os.environ.get("RAY_ADDRESS"):
        # A local Ray started here: let its workers import this checkout even when it is not
        # pip-installed (under `ray job submit --working-dir .` the working dir does this).
        root = str(Path(__file__).resolve().parents[2])
        runtime_env = {"env_vars": {"PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}}
    ray.init(address=args.address, logging_level="WARNING", ignore_reinit_error=True, runtime_env=runtime_env)
    input_url, output_url = args.input, args.output
    if demo and args.demo == "sdss":
        input_url, output_url = SAMPLE_SURVEY, output_url or DEMO_OUTPUT.format(demo=args.demo)
        print(f"no --input: the shipped sample of 36 real SDSS galaxies ({input_url}; see its README.md)")
    elif demo:
        from catalog_xai.datasets import generate_survey

        input_url, output_url = DEMO_SURVEY, output_url or DEMO_OUTPUT.format(demo=args.demo)
        print(f"no --input: generating a sample survey of {args.demo_galaxies} synthetic galaxies at {input_url}")
        generate_survey(input_url, n_galaxies=args.demo_galaxies, shard_size=max(1, args.demo_galaxies // 2), seed=12345)
    if output_url is None:
        print("error: --output is required with --input", file=sys.stderr)
        return 2
    input_url, output_url = storage.absolute(input_url), storage.absolute(output_url)
    if args.checkpoint not in storage.BUILTIN_CHECKPOINTS:
        args.checkpoint = storage.absolute(args.checkpoint)
    try:
        so = storage.check_storage_options(args.storage_options)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    shards = storage.list_shards(input_url, so)
    if not shards:
        print(f"error: no .parquet shards under {input_url}", file=sys.stderr)
        return 2
    manifest = storage.load_ensemble(args.checkpoint, so).manifest  # fail fast, before any actor starts
    job_hash = storage.config_hash(params.to_dict(), manifest, input_url)
    job = {"config_hash": job_hash, "catalog_xai_version": __version__, "input": input_url,
           "checkpoint": args.checkpoint, "ensemble": manifest.get("name"), "ensemble_hash": storage.ensemble_hash(manifest),
           "params": params.to_dict()}
    try:
        resuming = storage.claim_output(output_url, job, overwrite=args.overwrite, storage_options=so)
    except storage.ConfigMismatch as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    all_shards = shards
    if resuming:
        done = storage.committed_outputs(output_url, job_hash, so)
        shards = [s for s in shards if storage.output_path(s, input_url, output_url) not in done]
        print(f"resuming: {len(all_shards) - len(shards)} of {len(all_shards)} shards already committed")

    res = ray.cluster_resources()
    gpus = args.gpus_per_actor if args.gpus_per_actor is not None else (1.0 if res.get("GPU", 0) >= 1 else 0.0)
    per_node = res.get("GPU", 0) / gpus if gpus else res.get("CPU", 1) / args.cpus_per_actor
    max_actors = args.max_actors or max(1, min(len(shards), int(per_node)))
    pool = PoolConfig(min_actors=min(args.min_actors, max_actors), max_actors=max_actors, gpus_per_actor=gpus,
                      cpus_per_actor=args.cpus_per_actor, batch_size=args.batch_size, compile_models=args.compile)
    print(f"catalog_xai {__version__}: {len(shards)} shards from {input_url} -> {output_url}; "
          f"ensemble {args.checkpoint}; actors {pool.min_actors}..{pool.max_actors} "
          f"({'GPU' if gpus else 'CPU'}); N={params.n_samples} S_noise={params.noise_level} Tc={params.tc} Tl={params.tl}")

    def progress(row, done, total, elapsed):
        what = f"FAILED: {row['error']}" if row["error"] else f"{row['rows_out']} rows, {row['rows_not_ok']} not ok"
        print(f"[{done}/{total} shards, {elapsed:.0f} s] {row['shard']}: {what}", flush=True)

    results = run_survey(shards, input_url=input_url, output_url=output_url, checkpoint=args.checkpoint,
                         params=params, pool=pool, storage_options=so, on_shard=progress, verbose=args.verbose,
                         job_hash=job_hash) if shards else []
    wall = time.perf_counter() - t0
    failed = [r for r in results if r["error"]]
    n_rows = sum(r["rows_out"] for r in results)
    summary = {
        "catalog_xai_version": __version__,
        "finished": datetime.now(timezone.utc).isoformat(),
        "input": input_url, "output": output_url, "checkpoint": args.checkpoint,
        "params": params.to_dict(), "config_hash": job_hash, "shards": len(all_shards),
        "shards_skipped_committed": len(all_shards) - len(shards), "shards_failed": len(failed),
        "galaxies": n_rows, "rows_not_ok": sum(r["rows_not_ok"] for r in results),
        "statuses": sum((Counter(json.loads(r["statuses"])) for r in results), Counter()),
        "wall_seconds": wall, "galaxies_per_second": n_rows / wall if wall else 0.0,
        "per_shard": results,
    }
    storage.write_json(summary, storage.join(output_url, "_summary.json"), so)
    print("\n=== catalog_xai summary ===")
    print(f"galaxies:        {n_rows} in {len(shards) - len(failed)}/{len(shards)} shards processed now"
          + (f" ({len(all_shards) - len(shards)} committed earlier)" if len(all_shards) > len(shards) else ""))
    print(f"rows not ok:     {summary['rows_not_ok']} (see the 'status' column)")
    for reason, count in summary["statuses"].most_common(5):
        print(f"  {count:>8}  {reason}")
    for r in failed:
        print(f"failed shard:    {r['shard']}: {r['error']}")
    print(f"time:            {wall:.1f} s ({summary['galaxies_per_second']:.2f} galaxies/s)")
    print(f"catalogue:       {output_url} (one Parquet file per input shard; _summary.json)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
