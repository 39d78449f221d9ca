"""Check a finished catalogue against its input: rows per shard, objids, schema, units.

    python jobs/validate_catalogue.py --input s3://bucket/survey/ --output s3://bucket/vac/

Exits 0 if every input row is in the catalogue exactly once with the contract's schema,
1 otherwise, listing what is wrong.
"""

from __future__ import annotations

import argparse
import json
import sys

from catalog_xai.storage.validate import validate_catalogue


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--storage-options", default="{}", type=json.loads)
    args = ap.parse_args(argv)
    res = validate_catalogue(args.input, args.output, args.storage_options)
    print(f"{res['shards']} shards, {res['rows_in']} rows in, {res['rows_out']} rows out")
    for p in res["problems"]:
        print(f"PROBLEM: {p}")
    print("catalogue is complete and matches the contract" if res["ok"] else f"{len(res['problems'])} problem(s)")
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
