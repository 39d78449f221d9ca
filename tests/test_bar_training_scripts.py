"""The bar-ensemble training scripts end to end on a few generated galaxies: render a training set
(the frame-filling kind), train one member (``--device cpu``), package it, load it back."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from catalog_xai import storage

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> str:
    res = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def test_render_train_and_package_a_member(tmp_path):
    data = tmp_path / "long.npz"
    _run("scripts/render_training_set.py", "long", "--n", "12", "--seed", "5", "--attached-arms", "1",
         "--texture", "0.5", "--nucleus", "0.5", "--out", str(data))
    d = np.load(data)
    assert d["x"].shape == (12, 3, 112, 112) and d["masks"].shape == (12, 112, 112)
    barred = d["true_has_bar"]
    assert barred.any() and (d["masks"][barred].reshape(barred.sum(), -1).max(1) > 0).all()
    assert (d["masks"][~barred] == 0).all() and (d["true_bar_length_pix"][barred] > 25).all()

    out = tmp_path / "run"
    _run("scripts/train_bar_ensemble.py", "--data", str(data), "--architecture", "silu_bar_evidence", "--epochs", "1",
         "--saliency-weight", "0.5", "--evidence-weight", "1", "--seed", "1", "--device", "cpu", "--tag=-t",
         "--out", str(out))
    weights = torch.load(out / "silu_bar_evidence-s1-t.pt", weights_only=True)
    assert all(v.device.type == "cpu" and torch.isfinite(v).all() for v in weights.values())
    _run("scripts/package_bar_ensemble.py", str(out / "silu_bar_evidence-s1-t.state.pt"), "--last", "--architecture",
         "silu_bar_evidence", "--out", str(tmp_path / "ens"), "--name", "t")
    ens = storage.load_ensemble(str(tmp_path / "ens"))
    assert len(ens.models) == 1 and ens.models[0].spec.architecture == "silu_bar_evidence"
