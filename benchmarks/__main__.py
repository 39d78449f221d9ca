"""Benchmarks: speed and memory, measured in one run on the same models and inputs.

    python -m benchmarks all            # everything (about 15 minutes on 2 CPU cores)
    python -m benchmarks smoothgrad     # ours vs Captum NoiseTunnel(Saliency), then our best setting
    python -m benchmarks bars           # fast Algorithm 1 vs the literal reference loop
    python -m benchmarks pipeline       # Ray job vs a bare single-process loop, same cores
    python -m benchmarks memory         # actor peak memory, 1x vs 10x shards
    python -m benchmarks bar_lab        # the saliency lab: bar lengths against the truth (issue 12)
    python -m benchmarks calibrate_generator  # generated galaxies against real SDSS barred ones

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


def _save(name: str, rows: list[dict], notes: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    doc = {"benchmark": name, "date": date.today().isoformat(), "machine": _machine(), "rows": rows, **notes}
    (RESULTS / f"{name}.json").write_text(json.dumps(doc, indent=1, default=float))
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
    import torch

    from catalog_xai import storage
    from catalog_xai.core.ensemble import Ensemble
    from catalog_xai.core.models import create_model

    if kind == "small":
        return storage.load_ensemble("synthetic-small")
    torch.manual_seed(0)  # paper-size architectures; untrained weights time the same
    return Ensemble([create_model(a) for a in ("vgg16", "resnet50v2", "xception")], {"name": "paper-untrained"})


def bench_smoothgrad(args) -> None:
    import numpy as np
    import torch
    from captum.attr import NoiseTunnel, Saliency

    from catalog_xai import columns as C
    from catalog_xai.core import bars
    from catalog_xai.core.preprocess import frame_image
    from catalog_xai.core.saliency import galaxy_seeds, normalise_maps, smoothgrad

    ens = _ensemble(args.ensemble)
    imgs, _ = _galaxies(args.galaxies)
    spec = ens.spec
    x = torch.stack([frame_image(i, input_size=spec.input_size, crop_fraction=spec.crop_fraction) for i in imgs])
    x = x.contiguous(memory_format=torch.channels_last)
    n, g = args.n_samples, len(imgs)
    seeds = galaxy_seeds(range(g), 0)

    def captum_maps():
        out = torch.zeros(len(ens), g, spec.input_size, spec.input_size)
        for m, model in enumerate(ens.members):
            nt = NoiseTunnel(Saliency(model))
            for i in range(g):
                sigma = float(args.noise * (x[i].max() - x[i].min()))
                a = nt.attribute(x[i : i + 1], nt_type="smoothgrad", nt_samples=n, nt_samples_batch_size=n,
                                 stdevs=sigma, target=C.BAR_YES_INDEX)
                out[m, i] = a[0].abs().amax(0)
        return normalise_maps(out)

    def ours(**kw):
        return lambda: smoothgrad(ens.members, x, n_samples=n, s_noise=args.noise, seeds=seeds, **kw)

    def timed(fn):
        fn() if args.warmup else None
        t0 = time.perf_counter()
        res = fn()
        return time.perf_counter() - t0, res

    t_captum, m_captum = timed(captum_maps)
    t_ours, m_ours = timed(ours(chunk_size=n))
    candidates = {"fp32 chunk=N": (t_ours, m_ours)}
    for chunk in (2 * n, 4 * n):
        candidates[f"fp32 chunk={chunk}"] = timed(ours(chunk_size=chunk))
    for chunk in (n, 4 * n):
        candidates[f"bf16 chunk={chunk}"] = timed(ours(chunk_size=chunk, autocast_dtype=torch.bfloat16))
    if args.compile:
        compiled = [torch.compile(m) for m in ens.members]
        fn = lambda: smoothgrad(compiled, x, n_samples=n, s_noise=args.noise, seeds=seeds, chunk_size=n)  # noqa: E731
        candidates["fp32 compiled"] = timed(fn)

    def agreement(maps):
        a, b = maps.mean(0).numpy(), m_ours.mean(0).numpy()
        corr = [float(np.corrcoef(a[i].ravel(), b[i].ravel())[0, 1]) for i in range(g)]
        la = bars.measure_bars(a)["length_pix"]
        lb = bars.measure_bars(b)["length_pix"]
        return min(corr), float(np.mean(np.abs(la - lb) <= 1.0))

    rows = [{"setting": "Captum NoiseTunnel(Saliency) fp32", "seconds": t_captum, "s_per_galaxy": t_captum / g,
             "speedup_vs_captum": 1.0, "min_map_corr_vs_fp32": agreement(m_captum)[0],
             "frac_len_within_1px": agreement(m_captum)[1]}]
    for name, (t, maps) in candidates.items():
        c, f = agreement(maps)
        rows.append({"setting": f"catalog_xai {name}", "seconds": t, "s_per_galaxy": t / g,
                     "speedup_vs_captum": t_captum / t, "min_map_corr_vs_fp32": c, "frac_len_within_1px": f})
    _save(f"smoothgrad_{args.ensemble}", rows, {"galaxies": g, "n_samples": n,
                                               "models": [m.spec.architecture for m in ens.models],
                                               "input_size": spec.input_size,
                                               "note": "Captum maps differ from ours by the noise draw only; "
                                                       "correlation/length columns compare each setting with "
                                                       "catalog_xai fp32"})


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
    import ray
    import torch

    from catalog_xai import storage
    from catalog_xai.cluster.pool import PoolConfig, run_survey
    from catalog_xai.cluster.shard import process_shard
    from catalog_xai.core.params import MethodParams

    tmp = Path(args.workdir)
    url = _survey(tmp, args.shards, args.per_shard)
    shards = storage.list_shards(url)
    params = MethodParams(n_samples=args.n_samples)
    cores = args.cores
    n = args.shards * args.per_shard

    torch.set_num_threads(cores)
    ens = storage.load_ensemble("synthetic-small")
    t0 = time.perf_counter()
    for s in shards:
        process_shard(s, input_url=url, output_url=str(tmp / "bare_out"), ensemble=ens, params=params, batch_size=16)
    t_bare = time.perf_counter() - t0

    ray.init(num_cpus=cores, logging_level="ERROR", include_dashboard=False)
    rows = [{"setting": "bare loop, 1 process", "threads": cores, "seconds": t_bare, "galaxies_per_s": n / t_bare,
             "ratio": 1.0}]
    for actors, threads in ((cores, 1), (1, cores)):
        pool = PoolConfig(min_actors=actors, max_actors=actors, cpus_per_actor=cores / actors,
                          threads_per_actor=threads)
        t0 = time.perf_counter()
        run_survey(shards, input_url=url, output_url=str(tmp / f"ray_out_{actors}"), checkpoint="synthetic-small",
                   params=params, pool=pool)
        t = time.perf_counter() - t0
        rows.append({"setting": f"Ray job, {actors} actor(s) x {threads} thread(s)", "threads": actors * threads,
                     "seconds": t, "galaxies_per_s": n / t, "ratio": t_bare / t})
    ray.shutdown()
    _save("pipeline", rows, {"galaxies": n, "shards": args.shards, "n_samples": args.n_samples,
                             "note": "Ray times include actor start-up and ensemble loading, not ray.init"})


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
    p.add_argument("--ensemble", choices=("small", "paper"), default="small")
    p.add_argument("--galaxies", type=int, default=8)
    p.add_argument("--n-samples", type=int, default=256)
    p.add_argument("--noise", type=float, default=0.1)
    p.add_argument("--compile", action="store_true")
    p.add_argument("--warmup", action=argparse.BooleanOptionalAction, default=True)
    p = sub.add_parser("bars")
    p.add_argument("--random-maps", type=int, default=1000)
    p.add_argument("--saliency-maps", type=int, default=40)
    p.add_argument("--big-maps", type=int, default=6, help="224x224 maps of each kind, timed")
    for name in ("pipeline", "memory"):
        p = sub.add_parser(name)
        p.add_argument("--workdir", default="runs/bench")
        p.add_argument("--shards", type=int, default=4 if name == "pipeline" else 2)
        p.add_argument("--per-shard", type=int, default=8 if name == "pipeline" else 4)
        p.add_argument("--n-samples", type=int, default=64 if name == "pipeline" else 8)
        p.add_argument("--cores", type=int, default=2)
    from .bar_lab import add_parser as add_bar_lab
    from .generator_calibration import add_parser as add_calibration

    add_bar_lab(sub)
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

    {"smoothgrad": bench_smoothgrad, "bars": bench_bars, "pipeline": bench_pipeline, "memory": bench_memory,
     "bar_lab": bench_bar_lab, "calibrate_generator": bench_calibrate_generator, "report": report}[args.cmd](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
