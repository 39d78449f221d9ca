"""Write a synthetic GZ2-style survey (images, redshifts, truth, simulated votes) as shards.

    python jobs/make_survey.py --output ./surveys/train --galaxies 6000 --seed 1
"""

from __future__ import annotations

import argparse
import sys
import time

from catalog_xai.importers.synthetic import generate_survey


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--output", required=True, help="output prefix (local path or fsspec URL)")
    ap.add_argument("--galaxies", type=int, default=512)
    ap.add_argument("--shard-size", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--barred-only", action="store_true", help="only barred galaxies (for evaluating lengths)")
    ap.add_argument("--resolution-theta", type=float, default=None,
                    help="volunteers biased by resolution (seed 003): a disk looks smooth with probability "
                         "exp(-alpha^2 / 2 theta^2), alpha = petroR90_r / PSF FWHM; adds psf_fwhm_arcsec")
    ap.add_argument("--no-ray", action="store_true", help="render in this process instead of Ray tasks")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    if not args.no_ray:
        import ray

        ray.init(logging_level="WARNING")
    urls = generate_survey(args.output, n_galaxies=args.galaxies, shard_size=args.shard_size, seed=args.seed,
                           use_ray=not args.no_ray, barred_only=args.barred_only,
                           resolution_theta=args.resolution_theta)
    print(f"wrote {args.galaxies} galaxies in {len(urls)} shards under {args.output} "
          f"({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
