"""A static HTML gallery of a catalogue: each galaxy, its saliency map, the isolated bar with the
measured length drawn, a scale bar in arcsec, the vote fractions and the status; sortable and
filterable in any browser, no server and no network needed.

    cxai-gallery --catalogue runs/demo/vac-sdss --output runs/demo/gallery
    # then open runs/demo/gallery/index.html

The maps come from the catalogue's ``_maps/`` side dataset (the survey job's ``--save-maps``);
the images from the input survey the job's manifest names (or ``--survey``).
"""

from __future__ import annotations

import argparse
import html
import io
import json
import sys

import numpy as np
import pyarrow.parquet as pq

from catalog_xai import columns as C
from catalog_xai import storage

#: Catalogue columns shown in the table (and sortable), with their headings.
TABLE_COLUMNS = (
    ("bar_yes_fraction", "bar (per question)"),
    ("bar_yes_cumulative_fraction", "bar (cumulative)"),
    (C.BAR_LENGTH_ARCSEC, "bar length [arcsec]"),
    (C.BAR_LENGTH_KPC, "bar length [kpc]"),
    (C.BAR_LENGTH_ISOPHOTE_ARCSEC, "isophote length [arcsec]"),
    ("smooth_or_featured_features_or_disk_fraction", "featured"),
    ("edge_on_yes_fraction", "edge-on"),
    ("spiral_arms_yes_fraction", "spiral"),
)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--catalogue", required=True, help="catalogue prefix (a survey job's --output)")
    ap.add_argument("--output", required=True, help="folder for index.html and its images (local or fsspec URL)")
    ap.add_argument("--survey", default=None, help="input survey with the images (default: the job manifest's)")
    ap.add_argument("--max-galaxies", type=int, default=200,
                    help="galaxies shown: those with a saved map first, most bar-like first")
    ap.add_argument("--storage-options", default={}, type=json.loads, help="JSON fsspec options without secrets")
    return ap


def _read_maps(url: str, so: dict) -> dict[int, dict]:
    maps_url = storage.join(url, C.MAPS_DIR)
    fs, path = storage.filesystem(maps_url, so)
    if not fs.exists(path):
        return {}
    out = {}
    for shard in storage.list_shards(maps_url, so):
        sfs, spath = storage.filesystem(shard, so)
        with sfs.open(spath, "rb") as f:
            for row in pq.read_table(f).to_pylist():
                out[int(row[C.OBJID])] = row
    return out


def read_images(survey_url: str, objids: set[int], so: dict) -> dict[int, bytes]:
    found: dict[int, bytes] = {}
    for shard in storage.list_shards(survey_url, so):
        fs, path = storage.filesystem(shard, so)
        with fs.open(path, "rb") as f:
            t = pq.read_table(f, columns=[C.OBJID, C.IMAGE])
        for oid, img in zip(t.column(C.OBJID).to_pylist(), t.column(C.IMAGE).to_pylist()):
            if oid in objids:
                found[oid] = img
        if len(found) == len(objids):
            break
    return found


def _job_params(job: dict):
    """The method the catalogue was measured with (its job manifest's), to draw the bar it measured;
    None for a catalogue without one (the panels then fall back to map > bar_threshold)."""
    from dataclasses import fields

    from catalog_xai.core.params import MethodParams

    given = job.get("params")
    if not isinstance(given, dict):
        return None
    known = {f.name for f in fields(MethodParams)}
    try:
        return MethodParams.from_dict({k: v for k, v in given.items() if k in known})
    except (TypeError, ValueError):
        return None


def _float(v) -> float:
    try:
        return float("nan") if v is None else float(v)
    except (TypeError, ValueError):
        return float("nan")


def _fmt(v, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return ""
    return f"{v:.{digits}g}" if isinstance(v, float) else str(v)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 13px system-ui, sans-serif; margin: 1em; background: #fafafa; }}
table {{ border-collapse: collapse; }} th, td {{ padding: 3px 6px; border-bottom: 1px solid #ddd; text-align: right; }}
th {{ cursor: pointer; background: #eee; position: sticky; top: 0; }} th.sorted::after {{ content: " \\25BE"; }}
td.img {{ padding: 2px; }} td.text {{ text-align: left; max-width: 16em; }} img {{ height: 150px; }}
#filters {{ margin: 0.5em 0 1em; }} #filters label {{ margin-right: 1.5em; }}
</style></head><body>
<h1>{title}</h1>
<p>{summary}</p>
<div id="filters">
<label>bar fraction &ge; <input id="minbar" type="range" min="0" max="1" step="0.05" value="0">
<span id="minbar_v">0</span></label>
<label>bar length [arcsec] from <input id="minlen" type="number" step="0.5" style="width:5em"> to
<input id="maxlen" type="number" step="0.5" style="width:5em"></label>
<label>status contains <input id="status" type="text" style="width:10em"></label>
<span id="count"></span>
</div>
<table id="gallery"><thead><tr><th data-key="objid" data-type="num">objid</th>
<th>galaxy, SmoothGrad map, isolated bar</th>
{headers}<th data-key="status" data-type="text">status</th><th data-key="flags" data-type="text">flags</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<script>
const tbody = document.querySelector("#gallery tbody");
const rows = Array.from(tbody.rows);
function num(v) {{ const x = parseFloat(v); return isNaN(x) ? null : x; }}
function apply() {{
  const minbar = parseFloat(document.getElementById("minbar").value);
  document.getElementById("minbar_v").textContent = minbar.toFixed(2);
  const lo = num(document.getElementById("minlen").value), hi = num(document.getElementById("maxlen").value);
  const st = document.getElementById("status").value.toLowerCase();
  let shown = 0;
  for (const r of rows) {{
    const bar = num(r.dataset.bar_yes_fraction), len = num(r.dataset.bar_length_arcsec);
    let ok = (minbar <= 0 || (bar !== null && bar >= minbar));
    if (lo !== null) ok = ok && len !== null && len >= lo;
    if (hi !== null) ok = ok && len !== null && len <= hi;
    if (st) ok = ok && r.dataset.status.toLowerCase().includes(st);
    r.style.display = ok ? "" : "none"; shown += ok;
  }}
  document.getElementById("count").textContent = shown + " of " + rows.length + " galaxies shown";
}}
document.querySelectorAll("#filters input").forEach(e => e.addEventListener("input", apply));
document.querySelectorAll("th[data-key]").forEach(th => th.addEventListener("click", () => {{
  const key = th.dataset.key, text = th.dataset.type === "text";
  const desc = !th.classList.contains("sorted");
  document.querySelectorAll("th").forEach(h => h.classList.remove("sorted"));
  if (desc) th.classList.add("sorted");
  rows.sort((a, b) => {{
    const x = a.dataset[key], y = b.dataset[key];
    if (text) return desc ? y.localeCompare(x) : x.localeCompare(y);
    const p = num(x), q = num(y);
    if (p === null) return 1; if (q === null) return -1;
    return desc ? q - p : p - q;
  }});
  rows.forEach(r => tbody.appendChild(r));
}}));
apply();
</script></body></html>
"""


def make_gallery(catalogue_url: str, output_url: str, *, survey_url: str | None = None, max_galaxies: int = 200,
                 storage_options: dict | None = None) -> dict:
    """Write ``index.html`` and one PNG per galaxy under ``output_url``; returns what it wrote.

    Raises
    ------
    FileNotFoundError
        If the catalogue has no shards, or no survey is given and the catalogue has no job manifest.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from catalog_xai.cluster.maps import decode_map
    from catalog_xai.core import units
    from catalog_xai.core.figures import gallery_panel
    from catalog_xai.core.preprocess import ImageError, decode_image

    so = storage.check_storage_options(storage_options or {})
    df = storage.read_survey(catalogue_url, storage_options=so).to_pandas()
    fs_cat, cat_path = storage.filesystem(catalogue_url, so)
    manifest_path = storage.join(cat_path, storage.JOB_MANIFEST)
    job = json.loads(fs_cat.cat_file(manifest_path)) if fs_cat.exists(manifest_path) else {}
    survey_url = survey_url or job.get("input")
    if not survey_url:
        raise FileNotFoundError(f"{catalogue_url} has no {storage.JOB_MANIFEST} naming its survey: give --survey")
    params = _job_params(job)
    maps = _read_maps(catalogue_url, so)
    df = df.assign(_has_map=df[C.OBJID].isin(maps.keys()))
    df = df.sort_values(["_has_map", "bar_yes_fraction"], ascending=[False, False], na_position="last")
    df = df.head(max_galaxies)
    images = read_images(survey_url, set(df[C.OBJID].astype(int)), so)
    fs_out, out_path = storage.filesystem(output_url, so)
    fs_out.makedirs(storage.join(out_path, "img"), exist_ok=True)
    rows = []
    for rec in df.to_dict("records"):
        oid = int(rec[C.OBJID])
        try:
            rgb = decode_image(images.get(oid))
        except ImageError as err:
            rgb, why = None, str(err)
        else:
            why = ""
        if rgb is not None:
            m = maps.get(oid)
            cam = None
            if m and m.get(C.CAM_PLUS) is not None:
                side = int(m["cam_side"])
                cam = dict(cam=(decode_map(m[C.CAM_PLUS], side), decode_map(m[C.CAM_MINUS], side)),
                           cam_origin_pix=m["cam_origin_pix"], cam_pixel_pix=m["cam_pixel_pix"],
                           cam_label=str(m["cam_method"]).replace(":", " of "))
            scale = float(units.pixel_scale(_float(rec.get(C.PIXEL_SCALE)), _float(rec.get(C.PETRO_R90))))
            length = _float(rec.get(C.BAR_LENGTH_ARCSEC))
            fig = gallery_panel(
                rgb, None if m is None else decode_map(m[C.MAP], int(m["map_side"])),
                threshold=_float(rec.get(C.BAR_THRESHOLD)), params=params,
                map_origin_pix=m["map_origin_pix"] if m else 0.0, map_pixel_pix=m["map_pixel_pix"] if m else 1.0,
                pixel_scale_arcsec=scale, length_label=f'{length:.1f}"' if np.isfinite(length) else "",
                **(cam or {}))
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=80)
            plt.close(fig)
            with fs_out.open(storage.join(out_path, "img", f"{oid}.png"), "wb") as f:
                f.write(buf.getvalue())
            cell = f'<img src="img/{oid}.png" alt="galaxy {oid}" loading="lazy">'
        else:
            cell = html.escape(f"image unavailable: {why}")
        values = {key: rec.get(key) for key, _ in TABLE_COLUMNS}
        flags = ", ".join(C.flag_names(int(rec.get(C.FLAGS) or 0))) if C.FLAGS in rec else ""
        data = " ".join(f'data-{k}="{html.escape(_fmt(v, 6))}"' for k, v in values.items())
        cells = "".join(f"<td>{_fmt(v)}</td>" for v in values.values())
        rows.append(f'<tr data-objid="{oid}" {data} data-status="{html.escape(str(rec.get(C.STATUS)))}" '
                    f'data-flags="{html.escape(flags)}"><td>{oid}</td><td class="img">{cell}</td>{cells}'
                    f'<td class="text">{html.escape(str(rec.get(C.STATUS)))}</td><td class="text">{html.escape(flags)}'
                    "</td></tr>")
    headers = "".join(f'<th data-key="{k}" data-type="num">{html.escape(h)}</th>' for k, h in TABLE_COLUMNS)
    params = job.get("params", {})
    summary = html.escape(
        f"{len(rows)} galaxies of {catalogue_url} ({int(df['_has_map'].sum())} with saved maps); ensemble "
        f"{job.get('ensemble', '?')}, N={params.get('n_samples', '?')}, Tc={params.get('tc', '?')}, "
        f"Tl={params.get('tl', '?')}. Bar lengths are Algorithm 1 of Bhambra et al. 2022 on the map; the cyan line "
        "joins the two farthest pixels of the isolated bar. Click a heading to sort.")
    page = PAGE.format(title=html.escape(f"catalog_xai gallery: {catalogue_url}"), summary=summary, headers=headers,
                       rows="\n".join(rows))
    with fs_out.open(storage.join(out_path, "index.html"), "w") as f:
        f.write(page)
    return {"index": storage.join(output_url, "index.html"), "galaxies": len(rows),
            "with_maps": int(df["_has_map"].sum())}


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        res = make_gallery(args.catalogue, args.output, survey_url=args.survey, max_galaxies=args.max_galaxies,
                           storage_options=args.storage_options)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"gallery: {res['galaxies']} galaxies ({res['with_maps']} with maps): open {res['index']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
