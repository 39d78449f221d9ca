"""Compare a catalogue's bar lengths with reference lengths carried in its columns.

    python jobs/evaluate_bars.py --catalogue runs/eval/vac --reference true_bar_length_pix

On a generated survey the reference is the truth (true_bar_length_pix / _arcsec / _kpc,
passed through from the input shards); on real data, any column of human lengths.
"""

from __future__ import annotations

import argparse
import json
import sys

from catalog_xai import columns as C
from catalog_xai import storage
from catalog_xai.core.evaluation import compare_lengths


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--catalogue", required=True)
    ap.add_argument("--measured", default=C.BAR_LENGTH_PIX)
    ap.add_argument("--reference", default="true_bar_length_pix")
    ap.add_argument("--where", default="true_has_bar", help="boolean column selecting the galaxies to compare")
    ap.add_argument("--output", help="write the metrics as JSON here")
    args = ap.parse_args(argv)
    t = storage.read_survey(args.catalogue).to_pandas()
    if args.where and args.where in t:
        t = t[t[args.where].astype(bool)]
    res = {"catalogue": args.catalogue, "measured": args.measured, "reference": args.reference,
           **compare_lengths(t[args.measured], t[args.reference])}
    print(json.dumps(res, indent=1))
    if args.output:
        storage.write_json(res, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
