"""Precision and chunk size chosen for the hardware (issue 14), and bf16 checked against fp32."""

import argparse
import copy
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from catalog_xai import columns as C
from catalog_xai import storage
from catalog_xai.core import bars, hardware
from catalog_xai.core.catalogue import params_for_device
from catalog_xai.core.ensemble import Ensemble, input_layer_in_fp32
from catalog_xai.core.models import BlurPool, create_model, default_spec
from catalog_xai.core.params import MethodParams
from catalog_xai.core.preprocess import frame_batch
from catalog_xai.core.saliency import galaxy_seeds, smoothgrad

ROOT = Path(__file__).resolve().parent.parent


def test_auto_precision_follows_the_cpu_flags():
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    native = bool({"amx_bf16", "avx512_bf16"} & flags)
    assert hardware.native_bf16("cpu")[0] == native
    assert hardware.resolve_precision("auto", "cpu") == ("bf16" if native else "fp32")
    assert hardware.autocast_dtype("auto", "cpu") == (torch.bfloat16 if native else None)
    assert hardware.resolve_precision("fp32", "cpu") == "fp32"
    assert hardware.autocast_dtype("bf16", "cpu") is torch.bfloat16
    with pytest.raises(ValueError, match="precision must be auto, fp32 or bf16"):
        hardware.resolve_precision("fp16", "cpu")
    assert MethodParams().precision == "auto" and MethodParams().chunk_size == 0
    with pytest.raises(ValueError, match="chunk_size must be >= 0"):
        MethodParams(chunk_size=-1)


def test_measured_chunk_is_a_candidate_kept_per_process_and_does_not_change_maps():
    torch.manual_seed(0)
    models = [create_model(default_spec("small_vgg", input_size=32))]
    for m in models:
        m.eval().requires_grad_(False)
    chunk = hardware.measure_chunk_size(models, input_size=32, device="cpu")
    assert chunk in hardware.CHUNK_CANDIDATES["cpu"]
    kept = [k for k in hardware._chosen if k[0] == (id(models[0]),)]
    assert len(kept) == 1 and hardware._chosen[kept[0]][0] == chunk  # one measurement per process and ensemble
    hardware._chosen[kept[0]] = (7, 1.0)  # so that the calls below can only have read what was kept
    assert hardware.measure_chunk_size(models, input_size=32, device="cpu") == 7
    # other candidates are another search, not the kept one
    assert hardware.measure_chunk_size(models, input_size=32, device="cpu", candidates=(4, 8)) in (4, 8)
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    auto = smoothgrad(models, x, n_samples=6, seeds=[1, 2, 3], chunk_size=0)  # 0: the kept chunk (7)
    fixed = smoothgrad(models, x, n_samples=6, seeds=[1, 2, 3], chunk_size=5)
    torch.testing.assert_close(auto, fixed, atol=1e-5, rtol=1e-4)
    ens = type("E", (), {"device": torch.device("cpu"), "members": models, "spec": models[0].spec})()
    resolved = params_for_device(MethodParams(precision="fp32", chunk_size=0), ens)
    assert resolved.precision == "fp32" and resolved.chunk_size == 7


def test_chunk_search_stops_at_the_images_one_call_holds():
    """An actor that runs 2 galaxies a call at N = 4 never times a chunk over 8 images."""
    torch.manual_seed(0)
    models = [create_model(default_spec("small_vgg", input_size=32)).eval().requires_grad_(False)]
    ens = type("E", (), {"device": torch.device("cpu"), "members": models, "spec": models[0].spec})()
    small = params_for_device(MethodParams(precision="fp32", chunk_size=0, n_samples=2), ens, galaxies_per_call=2)
    assert small.chunk_size == 4  # below the smallest candidate: the call's own size is the only one
    capped = params_for_device(MethodParams(precision="fp32", chunk_size=0, n_samples=10), ens, galaxies_per_call=2)
    assert capped.chunk_size in (8, 16, 20)
    # noise-free and dihedral, N = 64 runs 8 distinct copies a galaxy (saliency.copies_run): 16 a call
    noise_free = params_for_device(MethodParams(precision="fp32", chunk_size=0, n_samples=64, s_noise=0.0,
                                                symmetry="dihedral"), ens, galaxies_per_call=2)
    assert noise_free.chunk_size in (8, 16)
    searched = [k[-1] for k in hardware._chosen if k[0] == (id(models[0]),)]
    assert sorted(searched) == [(4,), (8, 16), (8, 16, 20)], searched


def test_auto_precision_keeps_bf16_only_where_native_and_faster():
    torch.manual_seed(0)
    models = [create_model(default_spec("small_vgg", input_size=32)).eval().requires_grad_(False)]
    precision, chunk = hardware.choose(models, input_size=32, device="cpu", precision="auto", chunk_size=0)
    if not hardware.native_bf16("cpu")[0]:
        assert precision == "fp32"  # emulated bf16 is never tried
    else:
        timed = {p: v for k, v in hardware._chosen.items() if k[0] == (id(models[0]),)
                 for p in ["bf16" if k[3] is torch.bfloat16 else "fp32"]}
        assert set(timed) == {"fp32", "bf16"} and precision == min(timed, key=lambda p: timed[p][1])
        assert chunk == timed[precision][0]
    assert hardware.choose(models, input_size=32, device="cpu", precision="bf16", chunk_size=12) == ("bf16", 12)


class _MemoryFor(nn.Module):
    """A member on a device with memory for ``images`` images per pass: more raise torch's own
    out-of-memory error, as a GPU's caching allocator does."""

    def __init__(self, inner: nn.Module, images: int, error=None):
        super().__init__()
        self.inner, self.images, self.largest = inner, images, 0
        self.error = error or torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    def forward(self, x):
        if x.shape[0] > self.images:
            raise self.error
        self.largest = max(self.largest, x.shape[0])
        return self.inner(x)


def test_running_out_of_memory_halves_the_chunk_for_the_process_and_keeps_the_maps(monkeypatch, capsys):
    """The measured chunk can be too large in a run (members overlap on CUDA streams, other processes
    share the GPU): the maps are retried with half the chunk, the same maps, and later calls start there."""
    from catalog_xai.core.catalogue import _smoothgrad_within_memory

    monkeypatch.setattr(hardware, "_fits", {})
    torch.manual_seed(0)
    ens = Ensemble([create_model(default_spec("small_vgg", input_size=32))], {"name": "t"})
    reference = smoothgrad(ens.members, x := torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(2)),
                           n_samples=6, seeds=[1, 2, 3], chunk_size=4)
    ens.folded = [_MemoryFor(m, images=5) for m in ens.folded]
    params = MethodParams(n_samples=6, s_noise=0.1, x_input=False, symmetry="none")
    maps = _smoothgrad_within_memory(ens, x, params, "fp32", 24, seeds=[1, 2, 3])
    assert "with 24 images per pass: retrying with 12" in capsys.readouterr().out
    np.testing.assert_allclose(maps, reference.numpy(), atol=1e-5, rtol=1e-4)
    assert hardware.chunk_that_fits("cpu", 24) == 3 and ens.folded[0].largest == 3  # 24 -> 12 -> 6 -> 3
    again = _smoothgrad_within_memory(ens, x, params, "fp32", 24, seeds=[1, 2, 3])  # starts at 3: no retry
    assert "retrying" not in capsys.readouterr().out
    np.testing.assert_allclose(again, maps)
    ens.folded = [_MemoryFor(m.inner, images=0) for m in ens.folded]  # not even one image fits: the error stays
    with pytest.raises(torch.cuda.OutOfMemoryError):
        _smoothgrad_within_memory(ens, x, params, "fp32", 24, seeds=[1, 2, 3])
    assert hardware.is_out_of_memory(RuntimeError("CUDA error: out of memory"))  # a kernel's, as AcceleratorError
    assert not hardware.is_out_of_memory(RuntimeError("shape mismatch"))


def test_chunk_search_halves_below_its_smallest_candidate_when_none_fits():
    """On a GPU another process fills, cuBLAS's handle creation failed in the chunk search (an
    H200, round M): the search counts that as out of memory and halves below its candidates."""
    torch.manual_seed(0)
    inner = create_model(default_spec("small_vgg", input_size=32)).eval().requires_grad_(False)
    cublas = RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`")
    member = _MemoryFor(inner, images=5, error=cublas)
    assert hardware.is_out_of_memory(cublas)
    assert hardware.measure_chunk_size([member], input_size=32, device="cpu", candidates=(8, 16)) == 4
    assert member.largest == 4
    member.error = RuntimeError("shape mismatch")  # anything else is not memory: it stops the search
    with pytest.raises(RuntimeError, match="shape mismatch"):
        hardware.measure_chunk_size([member], input_size=32, device="cpu", candidates=(12,))


@pytest.mark.parametrize("name", [storage.DEFAULT_BAR_CHECKPOINT, storage.DEFAULT_CHECKPOINT])
def test_bf16_maps_and_lengths_against_fp32_on_the_shipped_ensembles(name):
    """The accuracy of bf16 is checked, not assumed, on real SDSS cutouts (the benchmark does 72).

    The maps agree (per-galaxy correlation >= 0.99; 0.9999 measured).  Algorithm 1's lengths are
    less stable: a map change of 1e-3 can move its threshold one step, and a length by several
    pixels.  The bar ensemble's lengths (the ones the default catalogue carries) must stay within
    1 map pixel (72 of 72 at N = 64 in the benchmark, with the input layer in fp32:
    docs/performance.md).  The morphology ensemble's paper read-out is more fragile (89 % within
    1 px): its yardstick is SmoothGrad's own scatter, the same fp32 maps from another noise seed,
    which bf16 must not exceed (six galaxies, N = 32, every member).  The bar ensemble is checked
    on four galaxies at N = 16 (each of the 8 symmetries twice) through its first member: bf16's
    error is per network, and the full check cost 141 s on a CPU without native bf16 (emulated).
    """
    is_bar = name == storage.DEFAULT_BAR_CHECKPOINT
    ens = storage.load_ensemble(name)
    t = storage.read_survey(str(ROOT / "catalog_xai/data/hoyle_bars")).to_pandas().iloc[:4 if is_bar else 6]
    fb = frame_batch(list(t[C.IMAGE]), input_size=ens.spec.input_size, crop_fraction=ens.spec.crop_fraction,
                     framing=ens.framing)
    method = MethodParams.from_dict(dict(ens.manifest.get("method") or {}))  # its SmoothGrad and read-out
    kw = dict(n_samples=16 if is_bar else 32, seeds=galaxy_seeds(list(t[C.OBJID]), 0), chunk_size=48,
              s_noise=method.s_noise, symmetry=method.symmetry, gradients=method.gradients)
    members = ens.members[:1] if is_bar else ens.members
    f32 = smoothgrad(members, fb.x, **kw).mean(0).numpy()
    b16 = smoothgrad(members, fb.x, autocast_dtype=torch.bfloat16, **kw).mean(0).numpy()
    corr = [np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(f32, b16)]
    assert min(corr) >= 0.99, corr
    meas = dict(tc=method.tc, tl=method.tl, linearity=method.linearity)
    la, lb = (bars.measure_bars(m, **meas)["length_pix"] for m in (f32, b16))
    if is_bar:
        assert np.all(np.abs(la - lb) <= 1.0), (la, lb)
    else:
        other_seed = smoothgrad(members, fb.x, **{**kw, "seeds": galaxy_seeds(list(t[C.OBJID]), 1)})
        ls = bars.measure_bars(other_seed.mean(0).numpy(), **meas)["length_pix"]
        assert np.mean(np.abs(la - lb)) <= np.mean(np.abs(la - ls)) + 1.0, (la, lb, ls)


def test_input_layer_runs_in_fp32_under_autocast_and_blur_pooling_in_fp32_on_cpus():
    """The two layers that bf16 made inaccurate (the input convolution, whose backward gives the
    saliency map) or slow (the depthwise blur on CPUs) run in fp32; everything else in bf16."""
    torch.manual_seed(0)
    model = create_model("silu_slim")
    ens = Ensemble([model])
    run = ens.members[0]
    seen = {}
    hooks = [m.register_forward_hook(lambda mod, i, o, k=k: seen.__setitem__(k, o.dtype))
             for k, m in run.named_modules() if isinstance(m, (nn.Conv2d, BlurPool))]
    x = torch.rand(2, 3, 112, 112)
    with torch.no_grad():
        plain = run(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = run(x)
    for h in hooks:
        h.remove()
    convs = [k for k, m in run.named_modules() if isinstance(m, nn.Conv2d)]
    blurs = [k for k, m in run.named_modules() if isinstance(m, BlurPool)]
    assert seen[convs[0]] is torch.float32 and all(seen[k] is torch.bfloat16 for k in convs[1:])
    # fp32 inside, the caller's dtype out: the first follows the fp32 input layer
    assert seen[blurs[0]] is torch.float32 and all(seen[k] is torch.bfloat16 for k in blurs[1:])
    torch.testing.assert_close(plain, model(x), rtol=1e-4, atol=1e-4)  # folding and wrapping change no result
    torch.testing.assert_close(low.float(), plain, rtol=0.05, atol=0.05)
    blur = BlurPool(4)
    xb = torch.rand(1, 4, 16, 16)
    torch.testing.assert_close(blur(xb.bfloat16()).float(), blur(xb), rtol=1e-2, atol=1e-2)


def test_gpu_benchmark_script_runs_its_cpu_path(ray_session, tmp_path):
    """The GPU run's script, on the CPU at tiny sizes: every step of it, the survey job included."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.gpu import bench_gpu

    args = argparse.Namespace(smoke=True, galaxies=2, survey_galaxies=4, n_samples=2, workdir=str(tmp_path / "w"),
                              results=tmp_path / "results")
    res = bench_gpu(args)
    doc = json.loads((tmp_path / "results" / "gpu_smoke.json").read_text())
    assert doc["gpu"] == res["gpu"] and len(doc["rows"]) == 2
    assert doc["rows"][1]["galaxies"] == 4 and doc["job_rc"] == 0
    assert all(r["galaxies_per_s_per_gpu"] > 0 for r in doc["rows"])
    assert "CPU" in doc["machine"] or "cpu" in doc["machine"]


@pytest.mark.parametrize("stride,kernel,size", [(1, 3, 112), (2, 7, 37), (2, 3, 36)])
def test_input_layer_gradient_is_the_convolutions_own(stride, kernel, size):
    """The fp32 input layer's transposed-convolution backward gives the same input gradient as
    autograd's convolution backward, strided and odd-sized inputs included."""
    torch.manual_seed(1)
    conv = nn.Conv2d(3, 8, kernel, stride=stride, padding=kernel // 2).requires_grad_(False)
    wrapped = input_layer_in_fp32(nn.Sequential(copy.deepcopy(conv)))
    x = torch.rand(2, 3, size, size)
    ref_x, our_x = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    g = torch.randn_like(conv(x))
    (ref,) = torch.autograd.grad(conv(ref_x), ref_x, g)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = wrapped(our_x)
    assert out.dtype is torch.float32
    (ours,) = torch.autograd.grad(out, our_x, g)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
