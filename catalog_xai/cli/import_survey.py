"""Import a survey in a common format as catalog_xai input shards (part-NNNNN.parquet).

    python jobs/import_survey.py kaggle --input ./galaxy_zoo_challenge --output ./surveys/kaggle
    python jobs/import_survey.py gz2 --input ./sdss_gz2_cutouts --output ./surveys/sdss --pixel-scale 0.2
    python jobs/import_survey.py gz2 --input ./galaxy_zoo_2 --output ./surveys/gz2      # + gz2_filename_mapping.csv
    python jobs/import_survey.py decals --input ./galaxy_zoo_decals --output ./surveys/decals
    python jobs/import_survey.py fits --input ./cutouts_fits --output ./surveys/fits
    python jobs/import_survey.py folder --input ./images --csv cat.csv --id-column id \\
        --image-pattern "{id}.jpg" --redshift-column z --pixel-scale 0.262 --output ./surveys/mine

Prints a summary (rows, shards, rows without image) and exits 0; a missing file or column,
or an output prefix that already holds shards (without --overwrite), exits 2 with the
file or column named.  See catalog_xai/importers.py for each format's columns.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from catalog_xai import importers as imp


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="format", required=True, metavar="{kaggle,gz2,decals,fits,folder}")

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.add_argument("--input", required=True, help="source folder (local path or fsspec URL)")
        p.add_argument("--output", required=True, help="output prefix for part-NNNNN.parquet shards")
        p.add_argument("--shard-size", type=int, default=imp.DEFAULT_SHARD_SIZE, help="rows per shard")
        p.add_argument("--limit", type=int, default=None, help="import only the first N source rows")
        p.add_argument("--overwrite", action="store_true", help="replace shards already under --output")
        p.add_argument("--storage-options", default="{}", type=json.loads,
                       help="fsspec storage options as JSON (no secrets: use the environment)")
        p.add_argument("--quiet", action="store_true", help="no per-chunk progress")
        return p

    p = add("kaggle", "Kaggle Galaxy Challenge: images_training_rev1/<GalaxyID>.jpg + training_solutions_rev1.csv")
    p.add_argument("--labels-csv", default="training_solutions_rev1.csv")
    p.add_argument("--images-dir", default="images_training_rev1")
    p.add_argument("--extra-csv", default=None, help="CSV with GalaxyID and redshift and/or petroR90_r")

    p = add("gz2", "GZ2 images + Hart et al. 2016 table (per-question fractions -> cumulative labels)")
    p.add_argument("--labels-csv", default=None, help="default: gz2_hart16.csv, labels_gz2_hart16.csv or *hart16*.csv")
    p.add_argument("--mapping-csv", default=None,
                   help="dr7objid -> asset_id (default gz2_filename_mapping.csv if there)")
    p.add_argument("--images-dir", default="images", help="folder of <asset_id>.jpg (with a mapping)")
    p.add_argument("--image-column", default=None, help="column with the image path (default image_filename)")
    p.add_argument("--id-column", default=None, help="default dr7objid, else the image column")
    p.add_argument("--fractions", choices=sorted(imp.GZ2_FRACTION_KINDS), default="debiased")
    p.add_argument("--pixel-scale", type=float, default=None, help="arcsec/pixel of every image (e.g. 0.2)")
    p.add_argument("--redshift-column", default=None, help="default 'redshift' if the table has it")
    p.add_argument("--petro-column", default=None, help="default 'petroR90_r' if the table has it")
    p.add_argument("--unreached", choices=imp.UNREACHED_POLICIES, default="nan",
                   help="labels of a question nobody answered: NaN, or 0 where its parent answer is 0")

    p = add("decals", "GZ DECaLS PNG cutouts + volunteer vote CSVs")
    p.add_argument("--votes-csv", action="append", default=None,
                   help="vote CSV (repeatable; default every gz_decals_volunteers_*.csv under --input)")
    p.add_argument("--image-glob", default="gz_decals_dr5_png*/J*/*.png")
    p.add_argument("--id-column", default="iauname")
    p.add_argument("--pixel-scale", type=float, default=None, help="arcsec/pixel of every image")
    p.add_argument("--pixel-scale-from-petro", action="store_true",
                   help="max(min(0.04 petro_th50, 0.02 petro_th90), 0.1), the GZ DECaLS download rule")
    p.add_argument("--unreached", choices=imp.UNREACHED_POLICIES, default="nan")

    p = add("fits", "a folder of FITS cutouts (2-D or 3-colour), converted to PNG")
    p.add_argument("--hdu", type=int, default=None, help="default: the first 2-D/3-D image HDU")
    p.add_argument("--id-keyword", default="OBJID", help="header keyword of the id (else the file name)")
    p.add_argument("--redshift-keyword", default="REDSHIFT")
    p.add_argument("--no-flip", action="store_true", help="keep FITS row order (default: first row at the bottom)")

    p = add("folder", "a folder of JPEG/PNG images + a CSV with an id column (or no CSV: one row per image)")
    p.add_argument("--csv", default=None, help="CSV path (relative to --input, or a URL)")
    p.add_argument("--id-column", default=None)
    p.add_argument("--image-pattern", default="{id}.jpg", help="format string over the CSV row, e.g. 'images/{n}.jpg'")
    p.add_argument("--images", default=None, help="image folder (default --input)")
    p.add_argument("--redshift-column", default=None)
    p.add_argument("--pixel-scale-column", default=None)
    p.add_argument("--pixel-scale", type=float, default=None, help="arcsec/pixel of every image")
    p.add_argument("--petro-column", default=None, help="column with petroR90_r in arcsec")
    return ap


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    common = dict(shard_size=args.shard_size, limit=args.limit, overwrite=args.overwrite,
                  storage_options=args.storage_options, log=None if args.quiet else print)
    fmt = args.format
    if fmt == "kaggle":
        kw = dict(labels_csv=args.labels_csv, images_dir=args.images_dir, extra_csv=args.extra_csv)
    elif fmt == "gz2":
        kw = dict(labels_csv=args.labels_csv, mapping_csv=args.mapping_csv, images_dir=args.images_dir,
                  image_column=args.image_column, id_column=args.id_column, fractions=args.fractions,
                  pixel_scale=args.pixel_scale, redshift_column=args.redshift_column,
                  petro_column=args.petro_column, unreached=args.unreached)
    elif fmt == "decals":
        kw = dict(votes_csv=args.votes_csv, image_glob=args.image_glob, id_column=args.id_column,
                  pixel_scale=args.pixel_scale, pixel_scale_from_petro=args.pixel_scale_from_petro,
                  unreached=args.unreached)
    elif fmt == "fits":
        kw = dict(hdu=args.hdu, id_keyword=args.id_keyword, redshift_keyword=args.redshift_keyword,
                  flip=not args.no_flip)
    else:
        kw = dict(csv=args.csv, id_column=args.id_column, image_pattern=args.image_pattern, images=args.images,
                  redshift_column=args.redshift_column, pixel_scale_column=args.pixel_scale_column,
                  pixel_scale=args.pixel_scale, petro_column=args.petro_column)
    t0 = time.perf_counter()
    try:
        summary = imp.IMPORTERS[fmt](args.input, args.output, **common, **kw)
    except (imp.ImportInputError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{summary} ({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
