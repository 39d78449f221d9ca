"""Benchmarks: speed and memory, measured in one run on the same models and inputs.

    python -m benchmarks all            # everything (about 15 minutes on 2 CPU cores)
    python -m benchmarks smoothgrad     # ours vs Captum NoiseTunnel(Saliency), then our best setting
    python -m benchmarks bars           # fast Algorithm 1 vs the literal reference loop
    python -m benchmarks pipeline       # Ray job vs a bare single-process loop, same cores
    python -m benchmarks memory         # actor peak memory, 1x vs 10x shards
    python -m benchmarks bar_lab        # the saliency lab: bar lengths against the truth (issue 12)
    python -m benchmarks calibrate_generator  # generated galaxies against real SDSS barred ones
    python -m benchmarks gpu            # paper-size SmoothGrad + a short survey job on a CUDA GPU (--smoke: CPU)
    python -m benchmarks inspection_truth  # planted label flips / contradictions found (issue 15)
    python -m benchmarks inspection_real   # disagreement on the real cutouts, top-10 figure (issue 15)
    python -m benchmarks tsne           # t-SNE seconds at 1e4 and 1e5 points
    python -m benchmarks resolution_truth  # theta recovered, CV14/CV18, plain vs DDB (issue 16)
    python -m benchmarks resolution_real   # smooth fraction against a measured alpha, real cutouts

Each writes benchmarks/results/<name>.json and prints a table; `report` collects the
tables into docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
RESULTS = ROOT / "benchmarks" / "results"


def _cpu() -> str:
    """CPU model and its bf16 hardware (AMX / AVX-512 BF16), which decide whether bf16 can pay."""
    import torch

    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, val = line.partition(":")
            if key.strip() == "model name":
                model = val.strip()
            elif key.strip() == "flags":
                flags = set(val.split())
    except OSError:
        pass
    bf16 = [f for f in ("amx_bf16", "avx512_bf16") if f in flags] or ["no bf16 hardware"]
    return (f"{model} ({os.cpu_count()} cores, {', '.join(bf16)}, "
            f"torch CPU capability {torch.backends.cpu.get_cpu_capability()})")


def _machine() -> str:
    import torch

    dev = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU only, {torch.get_num_threads()} threads"
    return f"{_cpu()} / {dev} / torch {torch.__version__}"


def _save(name: str, rows: list[dict], notes: dict, results: Path | None = None) -> None:
    results = results or RESULTS
    results.mkdir(parents=True, exist_ok=True)
    doc = {"benchmark": name, "date": date.today().isoformat(), "machine": _machine(), "rows": rows, **notes}
    (results / f"{name}.json").write_text(json.dumps(doc, indent=1, default=float))
    print(_table(doc))


def _table(doc: dict) -> str:
    rows = doc["rows"]
    keys = list(rows[0])
    lines = [f"### {doc['benchmark']} ({doc['date']}, {doc['machine']})", "",
             "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for r in rows:
        lines.append("| " + " | ".join(f"{r[k]:.4g}" if isinstance(r[k], float) else str(r[k]) for k in keys) + " |")
    for k, v in doc.items():
        if k not in ("benchmark", "date", "machine", "rows"):
            lines.append(f"\n{k}: {v}")
    return "\n".join(lines) + "\n"


def _galaxies(n: int, seed: int = 77, barred_only: bool = True):
    from catalog_xai import columns as C
    from catalog_xai.core.preprocess import decode_image
    from catalog_xai.core.synth import make_catalogue

    cat = make_catalogue(n, seed, barred_only=barred_only)
    return [decode_image(b) for b in cat[C.IMAGE]], cat


def _ensemble(kind: str):
    """A shipped ensemble by name ("default": the one whose maps the default job measures), or
    the paper-size architectures (randomly initialised: untrained weights time the same)."""
    import torch

    from catalog_xai import storage
    from catalog_xai.core.ensemble import Ensemble
    from catalog_xai.core.models import create_model

    if kind != "paper":
        return storage.load_ensemble(storage.DEFAULT_BAR_CHECKPOINT if kind == "default" else kind)
    torch.manual_seed(0)
    return Ensemble([create_model(a) for a in ("vgg16", "resnet50v2", "xception")], {"name": "paper-untrained"})


def _real_inputs(ens, n: int):
    """The first ``n`` real SDSS cutouts shipped with the package (72; drawn again beyond), framed
    for ``ens``; and an id per row for its noise seed."""
    import pandas as pd
    import torch

    from catalog_xai import columns as C
    from catalog_xai import storage
    from catalog_xai.core.preprocess import frame_batch

    t = pd.concat([storage.read_survey(str(ROOT / "catalog_xai" / "data" / d)).to_pandas()
                   for d in ("hoyle_bars", "sdss_sample")], ignore_index=True)
    t = t.iloc[:n] if n <= len(t) else t.sample(n, replace=True, random_state=0)
    spec = ens.spec
    fb = frame_batch(list(t[C.IMAGE]), input_size=spec.input_size, crop_fraction=spec.crop_fraction,
                     framing=ens.framing)
    x = fb.x.to(ens.device).contiguous(memory_format=torch.channels_last)
    return x, [int(o) + k * 10**12 for k, o in enumerate(t[C.OBJID].iloc[fb.ok_rows])]


def _map_agreement(ens, a, b) -> dict:
    """Per-galaxy agreement of two sets of (M, B, H, W) maps: correlation of the ensemble-mean maps,
    and Algorithm 1 lengths (the ensemble's read-out) within 1 map pixel."""
    import numpy as np

    from catalog_xai.core import bars
    from catalog_xai.core.params import MethodParams

    method = MethodParams.from_dict(dict(ens.manifest.get("method") or {}))
    a, b = np.asarray(a).mean(0), np.asarray(b).mean(0)
    corr = np.array([np.corrcoef(a[i].ravel(), b[i].ravel())[0, 1] for i in range(len(a))])
    kw = dict(tc=method.tc, tl=method.tl, linearity=method.linearity)
    la, lb = bars.measure_bars(a, **kw)["length_pix"], bars.measure_bars(b, **kw)["length_pix"]
    same = np.abs(la - lb) <= 1.0
    same |= ~np.isfinite(la) & ~np.isfinite(lb)
    return {"min_map_corr": float(np.nanmin(corr)), "p1_map_corr": float(np.nanpercentile(corr, 1)),
            "frac_len_within_1px": float(np.mean(same)), "galaxies": len(a)}


def bench_smoothgrad(args) -> None:
    """Ours at its default (precision auto, chunk measured) and its best setting against Captum's
    NoiseTunnel(Saliency) at its best ``nt_samples_batch_size``; then bf16 against fp32 on real galaxies."""
    import torch
    from captum.attr import NoiseTunnel, Saliency

    from catalog_xai import columns as C
    from catalog_xai.core import hardware
    from catalog_xai.core.saliency import galaxy_seeds, normalise_maps, smoothgrad

    ens = _ensemble(args.ensemble)
    x, objids = _real_inputs(ens, args.galaxies)
    spec = ens.spec
    n, g = args.n_samples, len(x)
    seeds = galaxy_seeds(objids, 0)
    device = ens.device

    def captum_maps(batch):
        def run():
            out = torch.zeros(len(ens), g, spec.input_size, spec.input_size)
            for m, model in enumerate(ens.models):  # the trained models as they are, as a Captum user has them
                nt = NoiseTunnel(Saliency(model))
                for i in range(g):
                    sigma = float(args.noise * (x[i].max() - x[i].min()))
                    a = nt.attribute(x[i : i + 1], nt_type="smoothgrad", nt_samples=n, nt_samples_batch_size=batch,
                                     stdevs=sigma, target=C.BAR_YES_INDEX)
                    out[m, i] = a[0].abs().amax(0)
            return normalise_maps(out)
        return run

    def ours(**kw):
        return lambda: smoothgrad(ens.members, x, n_samples=n, s_noise=args.noise, seeds=seeds, **kw)

    def timed(fn):
        fn() if args.warmup else None
        t0 = time.perf_counter()
        res = fn()
        return time.perf_counter() - t0, res

    # One pass first, so that library start-up is nobody's cost; the first pass of each new
    # shape (oneDNN chooses kernels per shape) is under 1 % of a setting's time here.
    smoothgrad(ens.members, x[:1], n_samples=min(n, 16), seeds=seeds[:1], chunk_size=16)
    captum = {b: timed(captum_maps(b)) for b in sorted({min(b, n) for b in args.captum_batches})}
    best_b = min(captum, key=lambda b: captum[b][0])
    t_captum = captum[best_b][0]
    native, why = hardware.native_bf16(device)
    t0 = time.perf_counter()
    auto, auto_chunk = hardware.choose(ens.members, input_size=spec.input_size, device=device, precision="auto",
                                       chunk_size=0, target=C.BAR_YES_INDEX)  # what an actor decides at start
    t_choose = time.perf_counter() - t0
    ref = timed(ours(chunk_size=n))  # fp32 at chunk N, the reference for agreement
    ours_runs = {f"default: precision auto ({auto}), chunk 0 (measured: {auto_chunk})":
                 timed(ours(chunk_size=auto_chunk, autocast_dtype=torch.bfloat16 if auto == "bf16" else None))}
    for chunk in args.chunks:
        ours_runs[f"fp32 chunk={chunk}"] = ref if chunk == n else timed(ours(chunk_size=chunk))
        ours_runs[f"bf16 chunk={chunk}"] = timed(ours(chunk_size=chunk, autocast_dtype=torch.bfloat16))
    if args.compile:  # --compile in the job; the first pass of each shape and precision (compiling) is untimed
        compile_s = {}
        compiled = [torch.compile(m, mode=None if args.compile == "default" else args.compile) for m in ens.members]
        for p, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
            for chunk in args.compile_chunks or [auto_chunk]:
                def run_compiled(dtype=dtype, chunk=chunk):
                    return smoothgrad(compiled, x, n_samples=n, s_noise=args.noise, seeds=seeds, chunk_size=chunk,
                                      autocast_dtype=dtype)
                t0 = time.perf_counter()
                smoothgrad(compiled, x[:1], n_samples=chunk, seeds=seeds[:1], chunk_size=chunk, autocast_dtype=dtype)
                compile_s[f"{p} chunk={chunk}"] = time.perf_counter() - t0
                ours_runs[f"{p} compiled ({args.compile}) chunk={chunk}"] = timed(run_compiled)
    rows = []
    for b, (t, maps) in captum.items():
        rows.append({"setting": f"Captum NoiseTunnel(Saliency) nt_samples_batch_size={b}" + (" (best)" if b == best_b
                                                                                              else ""),
                     "s_per_galaxy": t / g, "speedup_vs_captum_best": t_captum / t,
                     **_map_agreement(ens, maps, ref[1])})
    for name, (t, maps) in ours_runs.items():
        rows.append({"setting": f"catalog_xai {name}", "s_per_galaxy": t / g, "speedup_vs_captum_best": t_captum / t,
                     **_map_agreement(ens, maps, ref[1])})
    best = max(rows[len(captum):], key=lambda r: r["speedup_vs_captum_best"])
    notes = {"ensemble": ens.manifest.get("name"), "models": [m.spec.architecture for m in ens.models],
             "input_size": spec.input_size, "galaxies": g, "n_samples": n, "bf16_native": f"{native} ({why})",
             "auto_chunk_choice_seconds": t_choose, "compile_seconds": compile_s if args.compile else None,
             "default_vs_captum_best": rows[len(captum)]["speedup_vs_captum_best"],
             "best_setting": best["setting"], "best_vs_captum_best": best["speedup_vs_captum_best"],
             "note": "real SDSS cutouts shipped with the package; Captum runs the trained models as they are, "
                     "catalog_xai its members with batch norm folded into the convolutions (Ensemble.members); "
                     "Captum's maps differ from ours by the noise draw only; agreement columns compare each "
                     "setting with catalog_xai fp32 chunk=N"}
    if args.accuracy_galaxies:  # bf16 against fp32 on many galaxies, same noise: the accuracy check
        xa, ids = _real_inputs(ens, args.accuracy_galaxies)
        kw = dict(n_samples=args.accuracy_n_samples, s_noise=args.noise, seeds=galaxy_seeds(ids, 0), chunk_size=0)
        f32 = smoothgrad(ens.members, xa, **kw)
        b16 = smoothgrad(ens.members, xa, autocast_dtype=torch.bfloat16, **kw)
        notes["bf16_vs_fp32"] = {**_map_agreement(ens, b16, f32), "n_samples": args.accuracy_n_samples,
                                 "targets": "min map correlation >= 0.99; lengths within 1 px for >= 99 %"}
        # the yardstick: the same fp32 maps from another noise seed (SmoothGrad's own scatter)
        other = smoothgrad(ens.members, xa, **{**kw, "seeds": galaxy_seeds(ids, 1)})
        notes["fp32_seed0_vs_seed1"] = {**_map_agreement(ens, other, f32), "n_samples": args.accuracy_n_samples}
    _save(f"smoothgrad_{args.ensemble}", rows, notes)


def bench_bars(args) -> None:
    import numpy as np
    import torch
    from reference_bars import reference_bar
    from test_bars import _bar_map, _maps

    from catalog_xai.core.bars import measure_bar
    from catalog_xai.core.preprocess import frame_image
    from catalog_xai.core.saliency import smoothgrad

    rng = np.random.default_rng(123)
    maps = []
    for _ in range(args.random_maps):  # random maps of many sizes and contrasts
        h = int(rng.integers(6, 40))
        maps.append(("random", rng.random((h, h)) ** rng.uniform(0.5, 8)))
    for ang in np.linspace(0, np.pi, 181):  # synthetic bars every degree
        maps.append(("bar", _bar_map(64, ang, rng.uniform(10, 50), rng.uniform(1, 4), rng)))
    maps += [("degenerate", m) for m in _maps()[-7:]]
    ens = _ensemble("small")
    imgs, _ = _galaxies(args.saliency_maps, seed=5)
    x = torch.stack([frame_image(i, input_size=112, crop_fraction=0.5) for i in imgs])
    sal = smoothgrad(ens.members, x, n_samples=32).mean(0).numpy()
    maps += [("smoothgrad_112", m) for m in sal]

    same, t_fast, t_ref, n_timed = 0, 0.0, 0.0, 0
    for kind, m in maps:
        tc, tl = float(rng.choice([0.7, 0.75, 0.8, 0.85, 0.9])), int(rng.choice([10, 20, 30, 40, 50]))
        t0 = time.perf_counter()
        f = measure_bar(m, tc=tc, tl=tl)
        t1 = time.perf_counter()
        r = reference_bar(m, tc, tl)
        t2 = time.perf_counter()
        ok = ((f.threshold, f.n_pixels) == r[1:]
              and (f.length_pix == r[0] or (np.isnan(r[0]) and np.isnan(f.length_pix))))
        same += ok
        if kind == "smoothgrad_112":
            t_fast += t1 - t0
            t_ref += t2 - t1
            n_timed += 1
    rows = [{"maps": len(maps), "identical": same, "identical_pct": 100.0 * same / len(maps),
             "timed_on": f"{n_timed} SmoothGrad maps 112x112", "ref_ms_per_map": 1000 * t_ref / n_timed,
             "fast_ms_per_map": 1000 * t_fast / n_timed, "speedup": t_ref / t_fast}]
    # Paper-size 224x224 maps, where the loop runs further before it stops.
    big = [rng.random((224, 224)) ** 2 for _ in range(args.big_maps)]
    big += [_bar_map(224, a, rng.uniform(40, 160), rng.uniform(3, 10), rng)
            for a in np.linspace(0, np.pi, args.big_maps)]
    t_fast = t_ref = 0.0
    same_big = 0
    for m in big:
        t0 = time.perf_counter()
        f = measure_bar(m)
        t1 = time.perf_counter()
        r = reference_bar(m)
        t2 = time.perf_counter()
        same_big += (f.length_pix, f.threshold, f.n_pixels) == r
        t_fast, t_ref = t_fast + t1 - t0, t_ref + t2 - t1
    rows.append({"maps": len(big), "identical": same_big, "identical_pct": 100.0 * same_big / len(big),
                 "timed_on": "224x224 random and bar maps", "ref_ms_per_map": 1000 * t_ref / len(big),
                 "fast_ms_per_map": 1000 * t_fast / len(big), "speedup": t_ref / t_fast})
    _save("bars", rows, {"note": "paper Tc/Tl grid for the first row; Tc=0.85, Tl=30 for the 224x224 row"})


def _survey(tmp: Path, shards: int, per_shard: int) -> str:
    from catalog_xai.importers.synthetic import generate_survey

    url = str(tmp / f"survey_{shards}x{per_shard}")
    if not Path(url).exists():
        generate_survey(url, n_galaxies=shards * per_shard, shard_size=per_shard, seed=99)
    return url


def bench_pipeline(args) -> None:
    """The survey job as the README runs it against a bare loop of the same work in one process.

    Both use the job's defaults (the default ensembles, N = 256, precision auto, chunk measured,
    16 galaxies per call); the bare loop is ``process_shard`` over the shards in this process
    with torch on all the cores, the job is ``classify_survey`` on a local Ray of the same cores
    (its own actor layout: one single-threaded actor per core).  The job's time includes Ray
    Data's start, actor start-up, ensemble loading and the chunk measurement; not ``ray.init``.
    """
    import io
    import shutil
    from contextlib import redirect_stdout

    import ray
    import torch

    from catalog_xai import storage
    from catalog_xai.cli import classify_survey
    from catalog_xai.cluster.shard import process_shard
    from catalog_xai.core.catalogue import params_for_device
    from catalog_xai.core.params import MethodParams

    tmp = Path(args.workdir)
    url = _survey(tmp, args.shards, args.per_shard)
    shards = storage.list_shards(url)
    n = args.shards * args.per_shard
    cores = args.cores
    given = {"n_samples": args.n_samples} if args.n_samples else {}
    extra = ["--n-samples", str(args.n_samples)] if args.n_samples else []
    rows = []

    torch.set_num_threads(cores)
    ens = storage.load_ensemble(storage.DEFAULT_CHECKPOINT)
    bar_ens = storage.load_ensemble(storage.DEFAULT_BAR_CHECKPOINT)
    t0 = time.perf_counter()
    base = MethodParams.from_dict({**(bar_ens.manifest.get("method") or {}), **given})
    params = params_for_device(base, bar_ens)
    for s in shards:
        process_shard(s, input_url=url, output_url=str(tmp / "bare_out"), ensemble=ens, bar_ensemble=bar_ens,
                      params=params, batch_size=16)
    t_bare = time.perf_counter() - t0
    rows.append({"setting": f"bare loop, 1 process x {cores} threads (precision {params.precision}, chunk "
                            f"{params.chunk_size})", "seconds": t_bare, "galaxies_per_s": n / t_bare, "ratio": 1.0})

    ray.init(num_cpus=cores, logging_level="ERROR", include_dashboard=False)
    try:
        layouts = [("README defaults", []), ("1 actor x 2 threads", ["--max-actors", "1",
                                                                     "--cpus-per-actor", str(cores)])]
        for label, opts in layouts[:1] if args.readme_only else layouts:
            out = tmp / f"job_out_{len(rows)}"
            shutil.rmtree(out, ignore_errors=True)  # a committed catalogue would be resumed, i.e. skipped
            t0 = time.perf_counter()
            log = io.StringIO()
            with redirect_stdout(log):
                rc = classify_survey.main(["--input", url, "--output", str(out), "--overwrite", *extra, *opts])
            t = time.perf_counter() - t0
            layout = next((ln for ln in log.getvalue().splitlines() if ln.startswith("resources:")), "")
            if rc != 0:
                raise RuntimeError(f"the job failed (rc {rc}): {log.getvalue()[-2000:]}")
            rows.append({"setting": f"Ray job, {label} ({layout.split('; ', 1)[-1]})", "seconds": t,
                         "galaxies_per_s": n / t, "ratio": t_bare / t})
    finally:
        ray.shutdown()
    _save("pipeline", rows, {"galaxies": n, "shards": args.shards, "n_samples": params.n_samples,
                             "target": "README defaults >= 0.9 x the bare loop's galaxies per second",
                             "note": "Ray times include Ray Data, actor start-up, ensemble loading and the chunk "
                                     "measurement, not ray.init"})


def bench_memory(args) -> None:
    import ray

    from catalog_xai import storage
    from catalog_xai.cluster.pool import PoolConfig, run_survey
    from catalog_xai.core.params import MethodParams

    tmp = Path(args.workdir)
    ray.init(num_cpus=1, logging_level="ERROR", include_dashboard=False)
    rows = []
    for mult in (1, 10):
        url = _survey(tmp, args.shards * mult, args.per_shard)
        shards = storage.list_shards(url)
        res = run_survey(shards, input_url=url, output_url=str(tmp / f"mem_out_{mult}"), checkpoint="synthetic-small",
                         params=MethodParams(n_samples=args.n_samples), pool=PoolConfig(1, 1, cpus_per_actor=1))
        rows.append({"shards": len(shards), "galaxies": sum(r["rows_out"] for r in res),
                     "actor_peak_rss_mb": max(r["actor_peak_rss_mb"] for r in res)})
    ray.shutdown()
    rows.append({"shards": "10x / 1x", "galaxies": "",
                 "actor_peak_rss_mb": rows[1]["actor_peak_rss_mb"] / rows[0]["actor_peak_rss_mb"]})
    _save("memory", rows, {"note": "one actor, the same shard size; peak RSS from getrusage in the actor"})


def report(_args=None) -> None:
    parts = ["<!-- generated by `python -m benchmarks report` from benchmarks/results/*.json -->\n"]
    for f in sorted(RESULTS.glob("*.json")):
        parts.append(_table(json.loads(f.read_text())))
    out = ROOT / "docs" / "benchmarks.md"
    out.write_text("# Benchmark results\n\n" + "\n".join(parts))
    print(f"wrote {out}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("smoothgrad")
    p.add_argument("--ensemble", default="default",
                   help="default (the ensemble the default job's maps come from), a built-in name, or paper")
    p.add_argument("--galaxies", type=int, default=4)
    p.add_argument("--captum-batches", type=int, nargs="+", default=[16, 32, 64, 128, 256])
    p.add_argument("--chunks", type=int, nargs="+", default=[8, 16, 32, 64, 256])
    p.add_argument("--accuracy-galaxies", type=int, default=72, help="bf16 vs fp32 on this many real cutouts")
    p.add_argument("--accuracy-n-samples", type=int, default=64)
    p.add_argument("--n-samples", type=int, default=256)
    p.add_argument("--noise", type=float, default=0.1)
    p.add_argument("--compile", nargs="?", const="default", default=None,
                   help="also time torch.compile'd members in this mode (default, max-autotune-no-cudagraphs)")
    p.add_argument("--compile-chunks", type=int, nargs="+", default=None,
                   help="chunk sizes for the compiled members (default: the one measured at start)")
    p.add_argument("--warmup", action=argparse.BooleanOptionalAction, default=False,
                   help="run every setting once untimed first (doubles the time)")
    p = sub.add_parser("bars")
    p.add_argument("--random-maps", type=int, default=1000)
    p.add_argument("--saliency-maps", type=int, default=40)
    p.add_argument("--big-maps", type=int, default=6, help="224x224 maps of each kind, timed")
    for name in ("pipeline", "memory"):
        p = sub.add_parser(name)
        p.add_argument("--workdir", default="runs/bench")
        p.add_argument("--shards", type=int, default=8 if name == "pipeline" else 2)
        p.add_argument("--per-shard", type=int, default=13 if name == "pipeline" else 4)
        p.add_argument("--n-samples", type=int, default=0 if name == "pipeline" else 8,
                       help="0: the job's default (256)")
        p.add_argument("--cores", type=int, default=2)
        if name == "pipeline":
            p.add_argument("--readme-only", action="store_true", help="time only the README's actor layout")
    from .bar_lab import add_parser as add_bar_lab
    from .generator_calibration import add_parser as add_calibration
    from .gpu import add_parser as add_gpu
    from .inspection import add_parser as add_inspection
    from .resolution import add_parser as add_resolution

    add_bar_lab(sub)
    add_inspection(sub)
    add_resolution(sub)
    add_gpu(sub)
    add_calibration(sub)
    sub.add_parser("report")
    sub.add_parser("all")
    args = ap.parse_args(argv)
    if args.cmd == "all":
        for cmd in ("bars", "smoothgrad", "pipeline", "memory"):
            main([cmd])
        report()
        return 0
    from .bar_lab import bench_bar_lab
    from .generator_calibration import bench_calibrate_generator
    from .gpu import bench_gpu
    from .inspection import bench_inspection_dirichlet, bench_inspection_real, bench_inspection_truth, bench_tsne
    from .resolution import bench_resolution_real, bench_resolution_truth

    {"gpu": bench_gpu, "inspection_truth": bench_inspection_truth, "inspection_real": bench_inspection_real,
     "tsne": bench_tsne, "inspection_dirichlet": bench_inspection_dirichlet,
     "resolution_truth": bench_resolution_truth, "resolution_real": bench_resolution_real,
     "smoothgrad": bench_smoothgrad, "bars": bench_bars, "pipeline": bench_pipeline,
     "memory": bench_memory,
     "bar_lab": bench_bar_lab, "calibrate_generator": bench_calibrate_generator, "report": report}[args.cmd](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
