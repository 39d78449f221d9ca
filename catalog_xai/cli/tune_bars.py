"""Tune and evaluate the bar measurement on a catalogue with reference bar lengths.

    python jobs/tune_bars.py --survey runs/surveys/barred_tune --output runs/tune \
        --reference true_bar_length_pix --n-samples 64

Splits the galaxies (1/3 tuning, 2/3 test, as the paper), computes SmoothGrad maps once
per S_noise, searches the paper's grid (X_input, S_noise, Tc, Tl) for methods (i)-(v)
and both linearity criteria by Pearson rho on the tuning third, reports rho and RMSE on
the test two thirds, per-galaxy errors from a second independent SmoothGrad run (binned
by decile), the weighted fit through the origin, and writes ``job.yaml``, the job file
``cxai-classify --config`` runs (best of methods iv/v, with the fitted calibration as
``length_scale``).  Cutouts are framed as the ensemble was trained.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from catalog_xai import columns as C
from catalog_xai import storage
from catalog_xai.cli.options import (
    METHOD_SECTION,
    add_config_arguments,
    add_method_arguments,
    dump_job,
    method_params,
    parse_job,
)
from catalog_xai.core import tuning
from catalog_xai.core.catalogue import params_for_device
from catalog_xai.core.evaluation import compare_lengths
from catalog_xai.core.params import LINEARITY_CRITERIA, READOUTS, MethodParams
from catalog_xai.core.preprocess import frame_batch, greyscale, resolve_framing
from catalog_xai.core.saliency import galaxy_seeds, score_target, smoothgrad
from catalog_xai.core.units import r90_pixels

#: The tuned job, in the format ``cxai-classify --config`` reads.
JOB_FILE = "job.yaml"


def load(url, reference, where, limit):
    t = storage.read_survey(url).to_pandas()
    if where and where in t:
        t = t[t[where].astype(bool)]
    t = t[np.isfinite(t[reference].astype(float))]
    return t.iloc[:limit] if limit else t


def maps_for(ens, x, objids, params: MethodParams, s_noise: float, seed: int, batch: int = 8) -> np.ndarray:
    """(M, B, H, W) SmoothGrad maps of ``x`` under ``params`` at one S_noise (X_input is applied later)."""
    out = []
    run = params_for_device(params, ens)  # precision "auto" and chunk 0 decided on this device
    for i in range(0, len(x), batch):
        out.append(smoothgrad(ens.members, x[i : i + batch], n_samples=params.n_samples, s_noise=s_noise,
                              seeds=galaxy_seeds(objids[i : i + batch], seed), chunk_size=run.chunk_size,
                              target=score_target(params.score), gradients=params.gradients,
                              symmetry=params.symmetry,
                              autocast_dtype=torch.bfloat16 if run.precision == "bf16" else None).numpy())
    return np.concatenate(out, axis=1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(ap)
    ap.add_argument("--survey", required=True, help="survey prefix with images and a reference length column")
    ap.add_argument("--output", required=True, help="where results.json, grid.csv and job.yaml go")
    ap.add_argument("--checkpoint", default=storage.DEFAULT_CHECKPOINT)
    ap.add_argument("--reference", default="true_bar_length_pix", help="reference length column")
    ap.add_argument("--reference-unit", choices=("pix", "arcsec"), default="pix",
                    help="unit of the reference column: original pixels, or arcsec (divided by pixel_scale_arcsec)")
    ap.add_argument("--where", default="true_has_bar", help="boolean column selecting galaxies (if present)")
    g = ap.add_argument_group("the grid searched (the paper's by default)")
    g.add_argument("--grid-s-noise", type=float, nargs="+", default=list(tuning.PAPER_S_NOISE))
    g.add_argument("--grid-tc", type=float, nargs="+", default=list(tuning.PAPER_TC))
    g.add_argument("--grid-tl", type=int, nargs="+", default=list(tuning.PAPER_TL))
    g.add_argument("--grid-linearity", nargs="+", default=list(LINEARITY_CRITERIA), choices=LINEARITY_CRITERIA)
    g.add_argument("--grid-readout", nargs="+", default=list(READOUTS), choices=READOUTS,
                   help="the bar read-outs searched: Algorithm 1 over (Tc, Tl, linearity), the axis profile over "
                        "(fraction, width)")
    g.add_argument("--grid-profile-fraction", type=float, nargs="+", default=list(tuning.PROFILE_FRACTIONS))
    g.add_argument("--grid-profile-width", type=int, nargs="+", default=list(tuning.PROFILE_WIDTHS))
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--control", action="store_true",
                    help="also train and test the direct-regression control CNN (paper §4.6) on the same splits")
    ap.add_argument("--control-epochs", type=int, default=40)
    ap.add_argument("--control-architecture", default="small_xception")
    ap.add_argument("--isophote-baseline", action="store_true",
                    help="also measure the classical isophote bar length on the same test galaxies")
    add_method_arguments(ap, "method (the tuned parameters are searched; the others are used as given)")
    args = parse_job(ap, argv)
    t0 = time.perf_counter()
    ens = storage.load_ensemble(args.checkpoint)
    base = method_params(args, ens.manifest)
    spec = ens.spec
    t = load(args.survey, args.reference, args.where, args.limit)
    framing = resolve_framing(ens.framing, base.framing)
    r90 = None
    if framing == "petrosian" and C.PETRO_R90 in t:
        scale = t[C.PIXEL_SCALE].to_numpy(float) if C.PIXEL_SCALE in t else np.full(len(t), np.nan)
        r90 = r90_pixels(t[C.PETRO_R90].to_numpy(float), scale)
    framed = frame_batch(t[C.IMAGE].tolist(), input_size=spec.input_size, crop_fraction=spec.crop_fraction,
                         framing=framing, r90_pix=r90)
    keep = framed.ok_rows
    t = t.iloc[keep]
    x = framed.x
    grey = greyscale(x).numpy()
    to_orig = framed.map_to_original[keep]
    ref = t[args.reference].to_numpy(float)
    if args.reference_unit == "arcsec":
        if C.PIXEL_SCALE not in t:
            raise SystemExit(f"error: --reference-unit arcsec needs the {C.PIXEL_SCALE} column in {args.survey}")
        ref = ref / t[C.PIXEL_SCALE].to_numpy(float)
    objids = t[C.OBJID].tolist()
    rng = np.random.default_rng(base.seed)
    tune = np.zeros(len(t), bool)
    tune[rng.permutation(len(t))[: len(t) // 3]] = True
    archs = [m.spec.architecture for m in ens.models]  # members of one architecture get their index
    names = [a if archs.count(a) == 1 else f"{a}-{k}" for k, a in enumerate(archs)]
    print(f"{len(t)} galaxies ({framing} framing): {tune.sum()} to tune, {(~tune).sum()} to test; N={base.n_samples}")
    if base.zoom_steps > 1:  # the grid reads one framing's maps; the job it writes keeps the zoom scan
        print(f"note: the read-out is searched on the framing alone (zoom 1); the tuned job keeps the zoom scan "
              f"({base.zoom_steps} zooms to {base.zoom_max:g}x), which applies it at every zoom; the job's own "
              "figure on the test set is reported beside the grid's")

    maps_cache = {}
    for s in args.grid_s_noise:
        maps_cache[s] = maps_for(ens, x, objids, base, s, base.seed)
        print(f"S_noise={s}: maps done ({time.perf_counter() - t0:.0f} s)", flush=True)
    rows, best = tuning.search_grid(maps_cache, grey, to_orig, ref, tune, names, tcs=args.grid_tc,
                                    tls=args.grid_tl, linearities=args.grid_linearity, near_centre=base.near_centre,
                                    readouts=args.grid_readout, fractions=args.grid_profile_fraction,
                                    widths=args.grid_profile_width, profile_symmetric=base.profile_symmetric)

    # Errors from a second, independent SmoothGrad run of the chosen setting (paper §5.1).
    s = best["s_noise"]
    second = maps_for(ens, x, objids, base, s, base.seed + 1)
    runs = [tuning.row_lengths(mm, grey, names, best) * to_orig for mm in (maps_cache[s], second)]
    err = tuning.decile_errors(*runs)
    test = ~tune
    w = 1.0 / np.maximum(err[test], 1e-6) ** 2
    weighted = compare_lengths(runs[0][test], ref[test], weights=w)

    tuned = replace(base, framing=framing, s_noise=s, x_input=best["x_input"], **tuning.row_setting(best),
                    ensemble_method=best["ensemble_method"], length_scale=weighted["scale"])
    job = {"checkpoint": args.checkpoint, METHOD_SECTION: tuned.to_dict()}
    # the grid read one framing's maps; with a zoom scan, what the written job itself gives on the test set
    job_test = job_on_test(ens, t.iloc[np.flatnonzero(test)], tuned, ref[test]) if tuned.zoom_steps > 1 else None
    control = (train_control(args, x, ref / to_orig / spec.input_size, tune, to_orig * spec.input_size, base.seed)
               if args.control else None)
    isophote = isophote_on_test(t[C.IMAGE].tolist(), ref, test) if args.isophote_baseline else None
    figures = make_figures(args, t, x, maps_cache, grey, rows, best, runs[0], ref, tune, to_orig, names, weighted)

    results = {"control": control, "isophote": isophote, "job_test": job_test, "figures": figures,
               "survey": args.survey, "galaxies": len(t),
               "tune": int(tune.sum()), "test": int(test.sum()), "n_samples": base.n_samples, "framing": framing,
               "best": best, "weighted_fit_test": weighted, "mean_decile_error_pix": float(np.nanmean(err)),
               "grid": rows, "seconds": time.perf_counter() - t0}
    storage.write_json(results, storage.join(args.output, "results.json"))
    fs, path = storage.filesystem(storage.join(args.output, JOB_FILE))
    with fs.open(path, "w") as f:
        f.write(f"# tuned on {tune.sum()} galaxies of {args.survey} by cxai-tune; run it with "
                f"cxai-classify --config {JOB_FILE} --input ... --output ...\n")
        dump_job(job, f)
    import pandas as pd

    pd.DataFrame(rows).to_csv(Path(args.output) / "grid.csv", index=False) if "://" not in args.output else None
    write_report(args, results, job)
    print(json.dumps({"best": best, "weighted_fit_test": weighted, "job": job, "job_test": job_test,
                      "control": control}, indent=1))
    return 0


def job_on_test(ens, rows, params: MethodParams, ref: np.ndarray, batch: int = 32) -> dict:
    """The tuned job's own bar lengths on the test galaxies, through the catalogue's path (the zoom
    scan included), against the reference lengths (original pixels)."""
    from catalog_xai.core.catalogue import classify_batch

    lengths = []
    for i in range(0, len(rows), batch):
        part = rows.iloc[i : i + batch]
        lengths.append(classify_batch(
            ens, objid=part[C.OBJID].tolist(), image=part[C.IMAGE].tolist(), redshift=None, params=params,
            pixel_scale_arcsec=part[C.PIXEL_SCALE].tolist() if C.PIXEL_SCALE in part else None,
            petro_r90=part[C.PETRO_R90].tolist() if C.PETRO_R90 in part else None)[C.BAR_LENGTH_PIX])
    return compare_lengths(np.concatenate(lengths), ref)


def isophote_on_test(images: list[bytes], ref: np.ndarray, test: np.ndarray) -> dict:
    """The classical isophote bar length (``core.isophotes``) on the same test galaxies."""
    from catalog_xai.core.catalogue import isophote_lengths

    lengths, status = isophote_lengths(images, list(np.flatnonzero(test)))
    out = compare_lengths(lengths[test], ref[test])
    return {"tested_on": int(test.sum()), "measured": int(np.isfinite(lengths[test]).sum()),
            "pearson_rho": out["pearson_rho"], "rmse_pix": out["rmse"], "median_ratio": out["median_ratio"]}


def train_control(args, x, target, tune, to_px, seed: int):
    """Paper §4.6: a CNN trained directly on bar lengths (one output), same tune/test split."""
    from catalog_xai.core.models import create_model, default_spec
    from catalog_xai.core.training import TrainConfig, train_model

    torch.manual_seed(seed)
    model = create_model(default_spec(args.control_architecture, num_outputs=1))
    x8 = (x * 255 + 0.5).to(torch.uint8)
    y = torch.from_numpy(target.astype(np.float32))[:, None]
    idx = np.flatnonzero(tune)
    res = train_model(model, x8[idx], y[idx],
                      TrainConfig(epochs=args.control_epochs, val_fraction=0.16, seed=seed),
                      log=lambda m: None)
    with torch.no_grad():
        pred = torch.sigmoid(model(x[~tune])).numpy()[:, 0] * to_px[~tune]
    ref = target[~tune] * to_px[~tune]
    out = compare_lengths(pred, ref)
    return {"architecture": args.control_architecture, "trained_on": int(tune.sum()), "tested_on": int((~tune).sum()),
            "epochs": len(res["history"]["epoch"]), "pearson_rho": out["pearson_rho"], "rmse_pix": out["rmse"]}


def make_figures(args, t, x, maps_cache, grey, rows, best, lengths_best, ref, tune, to_orig, names, weighted):
    """Paper-style figures from this run, as PNG files under --output (local output only)."""
    if "://" in args.output:
        return []
    from catalog_xai.core import bars, figures

    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    mm = maps_cache[best["s_noise"]]
    mm = tuning.with_input(mm, grey) if best["x_input"] else mm
    mean = bars.keep_near_centre(mm.mean(0), best["near_centre"])
    test_idx = np.flatnonzero(~tune)[:4]
    thr = bars.measure_bars(mean[test_idx], near_centre=best["near_centre"], **tuning.row_setting(best))["threshold"]
    titles = [f"objid {t[C.OBJID].iloc[i]}: ref {ref[i]:.0f} px, measured {lengths_best[i]:.0f} px" for i in test_idx]
    fig = figures.saliency_panels(x[test_idx].permute(0, 2, 3, 1).numpy(), mean[test_idx], thr, titles)
    fig.savefig(out / "fig_saliency_panels.png", dpi=110)
    files.append("fig_saliency_panels.png")
    fig = figures.measured_vs_reference(lengths_best[~tune], ref[~tune], weighted["scale"])
    fig.savefig(out / "fig_measured_vs_reference.png", dpi=110)
    files.append("fig_measured_vs_reference.png")
    if "true_bar_angle_deg" in t:
        errs = {}
        for r in rows:
            if not (r["method"] == "maps (iv)" and r["s_noise"] == best["s_noise"] and r["x_input"] == best["x_input"]):
                continue
            L = tuning.row_lengths(maps_cache[r["s_noise"]], grey, names, r) * to_orig
            scale = compare_lengths(L[tune], ref[tune])["scale"]
            errs[_readout_label(r)] = (scale * L - ref) / ref
        fig = figures.error_vs_angle(t["true_bar_angle_deg"].to_numpy(float), errs)
        fig.savefig(out / "fig_error_vs_angle.png", dpi=110)
        files.append("fig_error_vs_angle.png")
    log = Path(storage.resolve_checkpoint(args.checkpoint)) / "training_log.json"
    if log.exists():
        hist = {k: v["history"] for k, v in json.loads(log.read_text())["models"].items()}
        fig = figures.learning_curves(hist)
        fig.savefig(out / "fig_learning_curves.png", dpi=110)
        files.append("fig_learning_curves.png")
    return files


def _readout_label(r: dict) -> str:
    if r.get("readout") == "axis_profile":
        sym = ", point-symmetric" if r.get("profile_symmetric") else ""
        return f"axis profile (fraction {r['profile_fraction']}, width {r['profile_width']}{sym})"
    return f"{r['linearity']} (Tc={r['tc']}, Tl={r['tl']})"


def write_report(args, results, job):
    """A Markdown summary of a tuning-and-evaluation run, next to its figures."""
    if "://" in args.output:
        return
    rows = sorted(results["grid"], key=lambda r: -r["rho_tune"])
    lines = [f"# Bar-length tuning and evaluation: {args.survey}", "",
             f"{results['galaxies']} galaxies with reference lengths: {results['tune']} to tune, "
             f"{results['test']} to test; "
             f"SmoothGrad N = {results['n_samples']}; ensemble `{args.checkpoint}`.", "",
             "## Best setting per method and read-out (test-set figures)", "",
             "| method | read-out | S_noise | X_input | rho (tune) | rho (test) | RMSE test [pix] | scale |",
             "|---|---|---|---|---|---|---|---|"]
    seen = set()
    for r in rows:
        key = (r["method"], r.get("readout"), r["linearity"])
        if key in seen:
            continue
        seen.add(key)
        lines.append(f"| {r['method']} | {_readout_label(r)} | {r['s_noise']} | {r['x_input']} | "
                     f"{r['rho_tune']:.3f} | {r['rho_test']:.3f} | {r['rmse_test_pix']:.1f} | {r['scale']:.2f} |")
    w = results["weighted_fit_test"]
    lines += ["", f"Chosen: {results['best']['method']}, {_readout_label(results['best'])}; "
              "weighted fit through the origin on "
              f"the test set: scale {w['scale']:.3f}, rho {w['pearson_rho']:.3f}, "
              f"RMSE after scale {w['rmse_after_scale']:.1f} pix; "
              f"mean decile error {results['mean_decile_error_pix']:.2f} pix.", ""]
    if results.get("job_test"):
        c, p = results["job_test"], job[METHOD_SECTION]
        lines += [f"The job measures each bar at {p['zoom_steps']} zooms of its framing (to {p['zoom_max']:g}x) and "
                  f"combines them; the grid above read the framing alone. The job's own lengths on the same test "
                  f"set: rho {c['pearson_rho']:.3f}, RMSE {c['rmse']:.1f} pix, median measured/reference "
                  f"{c['median_ratio']:.2f}.", ""]
    if results.get("control"):
        c = results["control"]
        lines += [f"Control CNN ({c['architecture']}, trained directly on lengths, {c['trained_on']} galaxies, "
                  f"{c['epochs']} epochs): "
                  f"rho {c['pearson_rho']:.3f}, RMSE {c['rmse_pix']:.1f} pix on the same test set.", ""]
    if results.get("isophote"):
        c = results["isophote"]
        lines += [f"Isophote baseline (ellipse fits, Erwin 2005; {c['measured']} of {c['tested_on']} measured): "
                  f"rho {c['pearson_rho']:.3f}, RMSE {c['rmse_pix']:.1f} pix, median measured/reference "
                  f"{c['median_ratio']:.2f} on the same test set.", ""]
    lines += [f"`{JOB_FILE}` (run it with `cxai-classify --config {JOB_FILE}`):", "", "```yaml", dump_job(job).rstrip(),
              "```", ""]
    lines += [f"![{f}]({f})" for f in results["figures"]]
    (Path(args.output) / "report.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
