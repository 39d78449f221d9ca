"""Merge a finished catalogue into a release: Parquet + FITS (units, provenance) + SHA256SUMS.

    python jobs/make_release.py --catalogue s3://bucket/vac/ --release s3://bucket/release/dr1/
"""

from __future__ import annotations

import argparse
import json
import sys

from catalog_xai.storage.release import make_release


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--catalogue", required=True, help="output prefix of classify_survey")
    ap.add_argument("--release", required=True, help="where to write the release files")
    ap.add_argument("--name", default="catalog_xai_vac")
    ap.add_argument("--no-fits", action="store_true", help="Parquet only (FITS needs the table in memory)")
    ap.add_argument("--storage-options", default="{}", type=json.loads)
    args = ap.parse_args(argv)
    res = make_release(args.catalogue, args.release, name=args.name, fits=not args.no_fits,
                       storage_options=args.storage_options)
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
