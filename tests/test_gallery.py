"""Issue 13, item 3: the gallery page in a real headless browser (Chromium), on a catalogue made
by the shard processor itself (no Ray: process_shard is the layer the actors call)."""

import shutil
import subprocess

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from catalog_xai import columns as C
from catalog_xai.cli import gallery
from catalog_xai.cluster.maps import MapSelection
from catalog_xai.cluster.shard import process_shard
from catalog_xai.core.params import MethodParams

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory, synthetic_table, tiny_ensemble):
    root = tmp_path_factory.mktemp("gallery")
    survey, out = root / "survey", root / "vac"
    survey.mkdir()
    pq.write_table(synthetic_table.slice(0, 4), survey / "s.parquet")
    res = process_shard(str(survey / "s.parquet"), input_url=str(survey), output_url=str(out), ensemble=tiny_ensemble,
                        params=MethodParams(n_samples=4, tl=5), save_maps=MapSelection.parse("random:0.6"))
    assert res.error == "" and 0 < res.maps < 4  # a sample of the galaxies, chosen by objid
    return root, survey, out


def test_gallery_page_lists_every_galaxy_with_its_panels(catalogue):
    root, survey, out = catalogue
    assert gallery.main(["--catalogue", str(out), "--survey", str(survey), "--output", str(root / "page")]) == 0
    page = (root / "page" / "index.html").read_text()
    maps = pq.read_table(out / C.MAPS_DIR / "s.parquet")
    assert page.count("<tr data-objid=") == 4 and page.count('<img src="img/') == 4
    shown = [int(line.split('"')[1]) for line in page.splitlines() if line.startswith("<tr data-objid=")]
    assert set(shown[:maps.num_rows]) == set(maps.column(C.OBJID).to_pylist())  # galaxies with maps come first
    # each panel image shows the map where one was kept, and says so where not
    with_map = Image.open(root / "page" / "img" / f"{maps.column(C.OBJID)[0].as_py()}.png")
    assert with_map.size[0] > 400 and np.asarray(with_map).std() > 10


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (Debian/Ubuntu: apt install chromium)")
def test_gallery_in_a_headless_browser_runs_its_script_and_renders(catalogue, tmp_path):
    root, survey, out = catalogue
    page_dir = tmp_path / "page"
    assert gallery.main(["--catalogue", str(out), "--survey", str(survey), "--output", str(page_dir)]) == 0
    url = (page_dir / "index.html").as_uri()
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1300,900",
             "--virtual-time-budget=5000"]
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    assert "4 of 4 galaxies shown" in dom  # written by the page's own script: it ran in the browser
    shot = tmp_path / "shot.png"
    subprocess.run([*flags, f"--screenshot={shot}", url], capture_output=True, text=True, timeout=120)
    pixels = np.asarray(Image.open(shot).convert("L"), float)
    assert pixels.shape == (900, 1300) and pixels.std() > 20  # a rendered page, not a blank one
