"""Classify a survey and measure its bars: Parquet shards in, catalogue shards out.

On a cluster:
    ray job submit --working-dir . -- python jobs/classify_survey.py \
        --input s3://bucket/survey/ --output s3://bucket/vac/

On a laptop (starts a local Ray; with no --input it generates a small sample survey):
    python jobs/classify_survey.py

Every method parameter defaults to the value of Bhambra, Joachimi & Lahav (2022); cutouts are
framed as the ensemble was trained (its manifest).  --config JOB.yaml runs a job file (e.g. the
one cxai-tune writes); --print-config writes this job as one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from catalog_xai import __version__, storage
from catalog_xai.cli.options import add_config_arguments, add_method_arguments, method_params, parse_job, print_job

DEMO_SURVEY = "runs/demo/survey"
DEMO_OUTPUT = "runs/demo/vac-{demo}"
DATA = Path(__file__).resolve().parents[1] / "data"
#: The shipped real samples (--demo): name -> (folder, what it is).
SAMPLES = {
    "bars": (DATA / "hoyle_bars", "36 real SDSS barred galaxies with redshifts and human bar lengths "
                                  "(Hoyle et al. 2011)"),
    "sdss": (DATA / "sdss_sample", "36 real SDSS galaxies with Galaxy Zoo 2 votes (no redshifts)"),
}
#: The demo's human lengths, set beside the catalogue's at the end.
HUMAN_LENGTH = "human_bar_length_arcsec"


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(ap)
    io_ = ap.add_argument_group("data")
    io_.add_argument("--input", help="survey prefix or shard (local path or fsspec URL); default: the demo survey")
    io_.add_argument("--demo", choices=(*SAMPLES, "synthetic"), default="bars",
                     help="with no --input: bars = " + SAMPLES["bars"][1] + "; sdss = " + SAMPLES["sdss"][1]
                          + f"; synthetic = generate a survey at {DEMO_SURVEY}")
    io_.add_argument("--output", help=f"catalogue prefix (default with no --input: {DEMO_OUTPUT.format(demo='bars')}, "
                                      "...-sdss or ...-synthetic)")
    io_.add_argument("--checkpoint", default=None,
                     help=f"ensemble: built-in name {storage.BUILTIN_CHECKPOINTS} "
                          "or a directory URL with manifest.json "
                          f"(default {storage.DEFAULT_CHECKPOINT}; synthetic-small for --demo synthetic); it gives "
                          "the vote fractions")
    io_.add_argument("--bar-checkpoint", default=None,
                     help="ensemble whose saliency maps give the bar lengths, or 'same' for --checkpoint's "
                          f"(default: {storage.DEFAULT_BAR_CHECKPOINT} when --checkpoint is not given, else 'same'); "
                          "its manifest's method parameters (Tc, Tl, ...) are the defaults")
    io_.add_argument("--storage-options", default={}, type=json.loads,
                     help='JSON fsspec options without secrets, e.g. \'{"endpoint_url": "http://..."}\'')
    io_.add_argument("--demo-galaxies", type=int, default=32, help="size of the generated sample survey")
    io_.add_argument("--save-maps", default="none", metavar="SELECTION",
                     help="keep the saliency maps of: all, none (default), random:<fraction>, or "
                          "'<column> >= <value>' (e.g. 'bar_yes_fraction>=0.5'); written to <output>/_maps/, "
                          "view them with cxai-gallery")
    io_.add_argument("--debias-checkpoint", default=None,
                     help="an ensemble trained with the DDB loss (cxai-train --ddb-theta): adds seed 003's "
                          "de-biased smooth_or_featured_*_debiased_fraction pair beside the ordinary fractions")
    io_.add_argument("--save-embeddings", action="store_true",
                     help="write each galaxy's pooled last-layer features per ensemble member (float16, by objid) "
                          "to <output>/_embeddings/: the input of cxai-embed (t-SNE map, outliers, look-alikes)")
    io_.add_argument("--overwrite", action="store_true",
                     help="replace a catalogue made with another configuration at --output")
    add_method_arguments(ap)
    r = ap.add_argument_group("resources")
    r.add_argument("--batch-size", type=int, default=16, help="galaxies per ensemble call")
    r.add_argument("--min-actors", type=int, default=1,
                   help="actors to start with (default 1); as many as fit on the cluster's resources now start "
                        "at once")
    r.add_argument("--max-actors", type=int, default=0, help="0: one per GPU, or per CPU without GPUs")
    r.add_argument("--gpus-per-actor", type=float, default=None,
                   help="default 1 if the cluster has GPUs or its autoscaler can start GPU nodes, else 0")
    r.add_argument("--cpus-per-actor", type=float, default=1.0)
    r.add_argument("--address", default=None, help="Ray address (default: RAY_ADDRESS, else a local Ray)")
    r.add_argument("--compile", nargs="?", const="default", default=None,
                   choices=["default", "max-autotune-no-cudagraphs", "max-autotune", "reduce-overhead"],
                   help="torch.compile the ensembles in each actor, in this mode (a compile per input shape: "
                        "15-20 s each in the benchmark); max-autotune-no-cudagraphs is the fastest measured on "
                        "CPUs with AMX (docs/performance.md)")
    r.add_argument("--verbose", action="store_true", help="show Ray Data's own progress and logs")
    r.add_argument("--progress-seconds", type=float, default=30.0,
                   help="at most one progress line per this many seconds (failures are always shown)")
    r.add_argument("--dry-run", action="store_true",
                   help="list the shards, check the first one's schema, print the resources and actor plan; "
                        "write nothing")
    ap.add_argument("--version", action="version", version=_version())
    return ap


def _version() -> str:
    from catalog_xai.columns import CONTRACT_VERSION

    return f"catalog_xai {__version__} (column contract {CONTRACT_VERSION})"


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class Progress:
    """Progress lines a user can read on a long run: shards and galaxies done, rate and ETA, at
    most one line per ``every`` seconds (the first shard, each failure and the last always).

    The survey's size in galaxies is the shards' mean so far times their number (marked ~)
    until every shard is in."""

    def __init__(self, every: float, out=sys.stdout):
        self.every, self.out = every, out
        self.galaxies, self.shards_read, self.last = 0, 0, -float("inf")

    def __call__(self, res, done: int, total: int, elapsed: float) -> None:
        self.galaxies += res.rows_out
        self.shards_read += res.rows_in >= 0
        if res.error:
            print(f"[shard failed] {res.shard}: {res.error}", file=self.out, flush=True)
        if not (done == 1 or done == total or res.error or elapsed - self.last >= self.every):
            return
        self.last = elapsed
        rate = self.galaxies / elapsed if elapsed > 0 else 0.0
        if done == total:
            expected, approx = self.galaxies, ""
        else:
            expected, approx = round(self.galaxies / max(self.shards_read, 1) * total), "~"
        of = f"/{approx}{expected:,}" if expected else ""
        pct = f" ({100 * self.galaxies / expected:.1f}%)" if expected else ""
        left = max(0, expected - self.galaxies)
        eta = f", ETA {_duration(left / rate)}" if rate > 0 and expected and done < total else ""
        print(f"[{_duration(elapsed)}] {done}/{total} shards, {self.galaxies:,}{of} galaxies{pct}, "
              f"{rate:.2f} galaxies/s{eta}", file=self.out, flush=True)


def main(argv=None) -> int:
    ap = build_parser()
    args = parse_job(ap, argv)
    demo = args.input is None
    synthetic_demo = demo and args.demo == "synthetic"
    if args.bar_checkpoint is None:  # the default pair, or the one ensemble the user named
        args.bar_checkpoint = (storage.DEFAULT_BAR_CHECKPOINT if args.checkpoint is None and not synthetic_demo
                               else "same")
    if args.checkpoint is None:
        args.checkpoint = "synthetic-small" if synthetic_demo else storage.DEFAULT_CHECKPOINT
    if args.bar_checkpoint == "same":
        args.bar_checkpoint = args.checkpoint
    try:  # the bar ensemble's own defaults (its manifest), under what was given
        params = method_params(args, storage.read_manifest(args.bar_checkpoint, args.storage_options))
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.print_config:
        return print_job(args, params, skip=("dry_run",))  # a job file describes a run, not a rehearsal
    import ray

    from catalog_xai.cluster.survey import JobError, SurveyJob, cluster_capacity, execute, plan_survey

    t0 = time.perf_counter()
    runtime_env = None
    if args.address is None and not os.environ.get("RAY_ADDRESS"):
        # A local Ray started here: let its workers import this checkout even when it is not
        # pip-installed (under `ray job submit --working-dir .` the working dir does this).
        root = str(Path(__file__).resolve().parents[2])
        runtime_env = {"env_vars": {"PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}}
    ray.init(address=args.address, logging_level="WARNING", ignore_reinit_error=True, runtime_env=runtime_env)
    input_url, output_url = args.input, args.output
    if demo and args.demo in SAMPLES:
        folder, what = SAMPLES[args.demo]
        input_url, output_url = str(folder), output_url or DEMO_OUTPUT.format(demo=args.demo)
        print(f"no --input: the shipped sample of {what} ({input_url}; see its README.md)")
    elif demo:
        from catalog_xai.importers.synthetic import generate_survey

        input_url, output_url = DEMO_SURVEY, output_url or DEMO_OUTPUT.format(demo=args.demo)
        print(f"no --input: generating a sample survey of {args.demo_galaxies} synthetic galaxies at {input_url}")
        generate_survey(input_url, n_galaxies=args.demo_galaxies, shard_size=max(1, args.demo_galaxies // 2),
                        seed=12345)
    if output_url is None:
        print("error: --output is required with --input", file=sys.stderr)
        return 2
    checkpoint, bar_checkpoint = (c if c in storage.BUILTIN_CHECKPOINTS else storage.absolute(c)
                                  for c in (args.checkpoint, args.bar_checkpoint))
    job = SurveyJob(input_url=storage.absolute(input_url), output_url=storage.absolute(output_url),
                    checkpoint=checkpoint, params=params, batch_size=args.batch_size, min_actors=args.min_actors,
                    max_actors=args.max_actors, gpus_per_actor=args.gpus_per_actor, cpus_per_actor=args.cpus_per_actor,
                    compile_models=args.compile or False, overwrite=args.overwrite,
                    storage_options=args.storage_options,
                    verbose=args.verbose, save_maps=args.save_maps, bar_checkpoint=bar_checkpoint,
                    save_embeddings=args.save_embeddings,
                    debias_checkpoint=None if args.debias_checkpoint is None else (
                        args.debias_checkpoint if args.debias_checkpoint in storage.BUILTIN_CHECKPOINTS
                        else storage.absolute(args.debias_checkpoint)))
    try:
        plan = plan_survey(job, cluster_capacity(ray.cluster_resources()), dry_run=args.dry_run)
    except (JobError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if plan.skipped:
        print(f"resuming: {plan.skipped} of {len(plan.all_shards)} shards already committed")
    p, pool, cap = plan.params, plan.pool, plan.capacity
    kind = f"{pool.gpus_per_actor:g} GPU" if pool.gpus_per_actor else f"{pool.cpus_per_actor:g} CPU"
    counted = f", {'' if plan.galaxies_exact else '~'}{plan.galaxies:,} galaxies" if plan.galaxies else ""
    print(f"catalog_xai {__version__}: {len(plan.shards)} shards{counted} from {job.input_url} -> {job.output_url}")
    maps = "" if bar_checkpoint == checkpoint else f", saliency maps and bar lengths from {bar_checkpoint}"
    print(f"ensemble {checkpoint}{maps} (framing {p.framing}); N={p.n_samples} S_noise={p.s_noise} Tc={p.tc} "
          f"Tl={p.tl} {p.linearity}")
    print(f"resources: {cap.cpus:g} CPUs, {cap.gpus:g} GPUs now, up to {cap.gpus_max:g} GPUs ({cap.source}); "
          f"actors {pool.min_actors}..{pool.max_actors}, {kind} each, {pool.batch_size} galaxies per call")
    if args.dry_run:
        print(f"dry run: the first shard {plan.shards[0] if plan.shards else plan.all_shards[0]} meets the input "
              "contract; nothing was written")
        return 0
    try:
        summary = execute(plan, on_shard=Progress(args.progress_seconds))
    except Exception as err:  # the survey cannot go on (its actors cannot start): say why, not a traceback
        print(f"error: the survey stopped: {_root_cause(err)}", file=sys.stderr)
        return 2
    failed = [r for r in summary["per_shard"] if r["error"]]
    wall = time.perf_counter() - t0
    print("\n=== catalog_xai summary ===")
    print(f"galaxies:        {summary['galaxies']} in {len(plan.shards) - len(failed)}/{len(plan.shards)} shards "
          "processed now" + (f" ({plan.skipped} committed earlier)" if plan.skipped else ""))
    print(f"rows not ok:     {summary['rows_not_ok']} (see the 'status' column)")
    for reason, count in summary["statuses"].most_common(5):
        print(f"  {count:>8}  {reason}")
    for r in failed:
        print(f"failed shard:    {r['shard']}: {r['error']}")
    for device, count in summary["devices"].items():
        print(f"device:          {device} ({count} shards)")
    print(f"time:            {wall:.1f} s ({summary['galaxies_per_second']:.2f} galaxies/s)")
    print(f"catalogue:       {job.output_url} (one Parquet file per input shard; _summary.json)")
    if demo and not failed:
        _beside_the_humans(job.output_url)
    return 1 if failed else 0


def _root_cause(err: BaseException) -> str:
    """The innermost 'SomeError: message' line of an error Ray wraps (an actor's traceback as text)."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    causes = [ln for ln in lines if ln.split(":", 1)[0].rsplit(".", 1)[-1].endswith(("Error", "Exception"))]
    return causes[-1] if causes else f"{type(err).__name__}: {lines[-1] if lines else err}"


#: Pearson rho of the paper's bar lengths against the human ones (Bhambra et al. 2022).
PAPER_REAL_PEARSON = 0.76


def _beside_the_humans(output_url: str, shown: int = 8) -> None:
    """The demo's last word: its bar lengths beside the lengths Galaxy Zoo volunteers drew."""
    import numpy as np
    import pandas as pd

    from catalog_xai import columns as C
    from catalog_xai.core.evaluation import length_agreement

    t = storage.read_survey(output_url).to_pandas()
    if HUMAN_LENGTH not in t:
        return
    agree = length_agreement(t[C.BAR_LENGTH_ARCSEC], t[HUMAN_LENGTH])
    print(f"\n=== bar lengths beside the humans' (Hoyle et al. 2011; {len(t)} galaxies) ===")
    cols = [C.OBJID, "redshift", HUMAN_LENGTH, C.BAR_LENGTH_ARCSEC, C.BAR_LENGTH_KPC, C.BAR_REACHES_EDGE,
            "bar_yes_fraction"]
    rows = t.sort_values(HUMAN_LENGTH)[cols].iloc[np.linspace(0, len(t) - 1, min(shown, len(t))).astype(int)]
    with pd.option_context("display.width", 140, "display.max_columns", 10, "display.float_format", "{:.3g}".format):
        print(rows.to_string(index=False))
    lo, hi = agree.get("pearson_ci95", (np.nan, np.nan))
    print(f"Pearson rho (arcsec) {agree['pearson']:.2f} [95 % {lo:.2f}, {hi:.2f}], median measured/human "
          f"{agree.get('median_ratio', np.nan):.2f}, {int(t[C.BAR_REACHES_EDGE].fillna(False).sum())} bars reach the "
          f"cutout's edge (lower limits). The paper's ensemble reaches {PAPER_REAL_PEARSON}; "
          f"{'this one reaches it too' if agree['pearson'] >= PAPER_REAL_PEARSON else 'this one does not'} on these "
          f"{len(t)}, the only real bars with human lengths on hand (README: where it stands).")


if __name__ == "__main__":
    sys.exit(main())
