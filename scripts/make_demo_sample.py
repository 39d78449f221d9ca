"""Rebuild the default demo survey, catalog_xai/data/hoyle_bars/, from ../shared/data/hoyle_bar_lengths.

36 real SDSS barred galaxies with spectroscopic redshifts and human bar lengths (Hoyle et al.
2011): the folder importer writes the survey, then the human columns get names that say
whose they are (human_*), so the catalogue sets them beside its own lengths.

    python scripts/make_demo_sample.py [--source ../shared/data/hoyle_bar_lengths]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

from catalog_xai.importers.folder import import_folder

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "catalog_xai" / "data" / "hoyle_bars"
#: CSV column (after the importer's source_ prefix for clashes) -> name in the demo survey.
RENAME = {"source_bar_length_arcsec": "human_bar_length_arcsec", "source_bar_length_kpc_h": "human_bar_length_kpc_h",
          "bar_length_kpc_h_stdev": "human_bar_length_kpc_h_stdev", "n_measurements": "human_n_measurements"}
#: Units and descriptions the columns carry (astropy and pandas read them; see storage.provenance).
DESCRIBE = {
    "ra": ("deg", "Right ascension (J2000)."), "dec": ("deg", "Declination (J2000)."),
    "human_bar_length_arcsec": ("arcsec", "Full bar length drawn by Galaxy Zoo volunteers (Hoyle et al. 2011), "
                                          "as an angle (H0 = 70, Om = 0.3; see README.md)."),
    "human_bar_length_kpc_h": ("kpc / h", "Full bar length drawn by volunteers, Hoyle et al. 2011 length_avg."),
    "human_bar_length_kpc_h_stdev": ("kpc / h", "Spread of the volunteers' lengths."),
    "human_n_measurements": ("", "Number of volunteers who drew the bar."),
    "p_bar_debiased": ("", "Galaxy Zoo 2 debiased bar vote fraction (Hart et al. 2016)."),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", default=str(ROOT.parent / "shared" / "data" / "hoyle_bar_lengths"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        import_folder(args.source, tmp, csv="hoyle_tuning.csv", id_column="objid", image_pattern="{image}",
                      redshift_column="redshift", pixel_scale_column="pixel_scale_arcsec", shard_size=18)
        OUT.mkdir(parents=True, exist_ok=True)
        for old in OUT.glob("*.parquet"):
            old.unlink()
        for k, shard in enumerate(sorted(Path(tmp).glob("*.parquet")), start=1):
            t = pq.read_table(shard)
            t = t.rename_columns([RENAME.get(n, n) for n in t.column_names])
            schema = t.schema
            for name, (unit, text) in DESCRIBE.items():
                i = schema.get_field_index(name)
                schema = schema.set(i, schema.field(i).with_metadata({"unit": unit, "description": text}))
            t = t.cast(schema)
            pq.write_table(t.replace_schema_metadata(None), OUT / f"hoyle_bars-{k}.parquet")
            print(OUT / f"hoyle_bars-{k}.parquet", t.num_rows, t.column_names)


if __name__ == "__main__":
    main()
