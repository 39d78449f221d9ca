"""Method-parameter variants on the bar lab's sets, in one process (issue 12 notebook, round I).

Each variant is a JSON object of ``MethodParams`` fields laid over the ensemble's own (its
manifest's method section); every variant runs the product's path (``benchmarks/bar_lab.py``'s
``run_lab_ensemble``) on the same galaxies and prints one line of Pearson figures:

    python scripts/lab_variants.py --checkpoint saliency-evidence --tune \\
        '{}' '{"x_input": true}' '{"score": "contrastive"}'

``--tune`` adds the held-out ``generated-tune`` set: choose on it, not on the lab's sets.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    from benchmarks.bar_lab import DEFAULT_REAL, N_PER_CELL, generated_set, real_set, run_lab_ensemble
    from catalog_xai import storage
    from catalog_xai.core.ensemble import Ensemble
    from catalog_xai.core.evaluation import length_agreement
    from catalog_xai.core.params import MethodParams

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("variants", nargs="+", type=json.loads, help="JSON objects of MethodParams fields")
    ap.add_argument("--checkpoint", default="saliency-evidence")
    ap.add_argument("--members", nargs="+", type=int, help="only these members (0-based), e.g. one network alone")
    ap.add_argument("--sets", nargs="+", default=["generated", "generated-alt", "real"])
    ap.add_argument("--tune", action="store_true", help="also the held-out generated-tune set")
    ap.add_argument("--per-cell", type=int, default=N_PER_CELL,
                    help="generated galaxies per (length, angle) cell (the lab's 4: 96 a set; 8 halves the "
                         "intervals' width squared)")
    ap.add_argument("--output", type=Path, help="append each variant's figures to this JSON-lines file")
    args = ap.parse_args(argv)
    ens = storage.load_ensemble(args.checkpoint)
    if args.members:
        ens = Ensemble([ens.models[i] for i in args.members], manifest=ens.manifest)
    names = args.sets + (["generated-tune"] if args.tune else [])
    labs = [real_set(DEFAULT_REAL) if n == "real" else generated_set(n, args.per_cell) for n in names]
    for variant in args.variants:
        params = MethodParams.from_dict({**ens.manifest.get("method", {}), **variant})
        row: dict = {"checkpoint": args.checkpoint, "members": args.members, "variant": variant,
                     "per_cell": args.per_cell}
        t0 = time.perf_counter()
        for lab in labs:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = run_lab_ensemble(ens, lab, params)
            agree = length_agreement(res["length_pix"], lab.true_pix)
            row[lab.name] = round(float(agree["pearson"]), 3)
            row[lab.name + "_ci95"] = [round(float(v), 2) for v in agree["pearson_ci95"]]
            row[lab.name + "_ratio"] = round(float(agree["median_ratio"]), 2)
        row["seconds"] = round(time.perf_counter() - t0, 1)
        print(json.dumps(row), flush=True)
        if args.output:
            with open(args.output, "a") as f:
                f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
