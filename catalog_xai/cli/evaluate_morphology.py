"""Compare ensembles with volunteer votes on a labelled survey (e.g. a held-out real split).

    python jobs/evaluate_morphology.py --survey runs/surveys/sdss740 \
        --checkpoints synthetic-small sdss-finetuned \
        --holdout-from catalog_xai/weights/sdss-finetuned/training_log.json \
        --output runs/eval_real

For each ensemble: RMSE of the 37 fractions (per question), Spearman rho of the
conditional bar fraction and ROC AUC for bar yes/no at a vote threshold; then SmoothGrad
bar lengths on the galaxies the volunteers call barred, with a figure of a few of them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from catalog_xai import columns as C
from catalog_xai import storage
from catalog_xai.core.catalogue import classify_batch
from catalog_xai.core.evaluation import conditional_bar_fraction, morphology_metrics
from catalog_xai.core.params import FRAMINGS, MethodParams


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--survey", required=True)
    ap.add_argument("--checkpoints", nargs="+", required=True)
    ap.add_argument("--holdout-from", help="training_log.json whose holdout_objids select the galaxies")
    ap.add_argument("--framing", default=None, choices=FRAMINGS,
                    help="override the framing each ensemble was trained with (default: its own, from its manifest)")
    ap.add_argument("--min-bar-votes", type=int, default=10)
    ap.add_argument("--bar-threshold", type=float, default=0.5)
    ap.add_argument("--n-samples", type=int, default=64, help="SmoothGrad N for the bar lengths")
    ap.add_argument("--figure-galaxies", type=int, default=4)
    ap.add_argument("--output", required=True)
    args = ap.parse_args(argv)
    torch.manual_seed(0)

    t = storage.read_survey(args.survey).to_pandas()
    if args.holdout_from:
        held = set(json.loads(Path(args.holdout_from).read_text())["holdout_objids"])
        t = t[t[C.OBJID].isin(held)]
    labels = t[list(C.LABEL_COLUMNS)].to_numpy(float)
    bar_votes = None
    if all(c in t for c in ("votes_bar_yes_count", "votes_bar_no_count")):
        bar_votes = t["votes_bar_yes_count"].to_numpy(float) + t["votes_bar_no_count"].to_numpy(float)
    params = MethodParams(n_samples=args.n_samples, framing=args.framing)
    kw = dict(objid=t[C.OBJID].tolist(), image=t[C.IMAGE].tolist(),
              redshift=t[C.REDSHIFT].tolist() if C.REDSHIFT in t else None,
              pixel_scale_arcsec=t[C.PIXEL_SCALE].tolist() if C.PIXEL_SCALE in t else None,
              petro_r90=t[C.PETRO_R90].tolist() if C.PETRO_R90 in t else None)
    votes_cond = conditional_bar_fraction(labels)
    barred = np.isfinite(votes_cond) & (votes_cond >= args.bar_threshold)
    if bar_votes is not None:
        barred &= bar_votes >= args.min_bar_votes
    results = {"survey": args.survey, "galaxies": len(t), "volunteer_barred": int(barred.sum()), "ensembles": {}}
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    for ckpt in args.checkpoints:
        ens = storage.load_ensemble(ckpt)
        cols = {}
        for i in range(0, len(t), 16):
            part = {k: (v[i : i + 16] if v is not None else None) for k, v in kw.items()}
            res = classify_batch(ens, params=params, **part)
            for k, v in res.items():
                cols.setdefault(k, []).append(v)
        cols = {k: np.concatenate(v) for k, v in cols.items()}
        pred = np.stack([cols[c] for c in C.CUMULATIVE_COLUMNS], 1)
        m = morphology_metrics(pred, labels, bar_votes, min_bar_votes=args.min_bar_votes,
                               bar_threshold=args.bar_threshold)
        lengths = cols[C.BAR_LENGTH_ARCSEC][barred]
        m["bar_length_arcsec_barred"] = {"n": int(np.isfinite(lengths).sum()),
                                         "median": float(np.nanmedian(lengths)) if barred.any() else None,
                                         "p16_p84": [float(np.nanpercentile(lengths, 16)),
                                                     float(np.nanpercentile(lengths, 84))]
                                         if barred.any() else None}
        m["mean_predicted_bar_fraction_on_volunteer_barred"] = float(np.nanmean(conditional_bar_fraction(pred)[barred]))
        results["ensembles"][ckpt] = m
        if barred.any() and args.figure_galaxies > 0:  # --figure-galaxies 0: no figure
            _figure(ens, t[barred].iloc[: args.figure_galaxies], params, out / f"fig_real_bars_{Path(ckpt).name}.png")
    storage.write_json(results, str(out / "metrics.json"))
    print(json.dumps(results, indent=1))
    return 0


def _figure(ens, rows, params, path):
    """Image, ensemble SmoothGrad map and isolated bar for a few volunteer-barred galaxies."""
    from catalog_xai.core import bars, figures
    from catalog_xai.core.catalogue import run_ensemble

    inf = run_ensemble(ens, objid=rows[C.OBJID].tolist(), image=rows[C.IMAGE].tolist(), params=params,
                       pixel_scale_arcsec=rows[C.PIXEL_SCALE].tolist() if C.PIXEL_SCALE in rows else None,
                       petro_r90=rows[C.PETRO_R90].tolist() if C.PETRO_R90 in rows else None)
    from catalog_xai.core.saliency import ensemble_mean_map, restrict_to_data

    # What the bar is measured on (catalogue.measure_and_convert, method iv): mean map, padding blanked,
    # beside the images exactly as the models saw them.
    maps = restrict_to_data(ensemble_mean_map(torch.from_numpy(inf.maps)).numpy(), inf.data_side[inf.ok_rows])
    thr = [bars.measure_bar(m, tc=params.tc, tl=params.tl, linearity=params.linearity).threshold for m in maps]
    fig = figures.saliency_panels(inf.framed.x.permute(0, 2, 3, 1).numpy(), maps, thr,
                                  [f"objid {o}" for o in rows[C.OBJID].iloc[inf.ok_rows]])
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
