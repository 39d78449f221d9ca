"""SmoothGrad saliency as Bhambra et al. (2022) compute it (method.md §3).

For each image x in [0, 1]: N noisy copies x + eps, eps ~ Normal(0, sigma^2) with
sigma = S_noise * (max(x) - min(x)) of that image; |d score / d input| of the target
logit, averaged over the copies; max over channels; min-max normalised per map.
Optionally (X_input) multiplied by the greyscale image and normalised again.

The noisy copies of several galaxies go through each model together, in chunks of at
most ``chunk_size`` images; the noise is drawn on the model's device from a generator
seeded per galaxy, so a galaxy's map does not depend on which batch it came in.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .. import columns as C
from .hardware import measure_chunk_size
from .params import GRADIENTS, PAPER, SCORES, SYMMETRIES
from .preprocess import greyscale


def galaxy_seeds(objids: Sequence[int], seed: int) -> list[int]:
    """One reproducible 63-bit noise seed per galaxy from the job seed and its objid."""
    ss = np.random.SeedSequence([int(seed) & 0xFFFFFFFF])
    base = int(ss.generate_state(1, np.uint64)[0])
    return [int((base ^ (int(o) * 0x9E3779B97F4A7C15)) & 0x7FFFFFFFFFFFFFFF) for o in objids]


def score_target(score: str) -> int | tuple[int, int]:
    """The ``smoothgrad`` target of a ``MethodParams.score``.

    Raises
    ------
    ValueError
        For a score that is not one of ``params.SCORES``.
    """
    if score == "cumulative":
        return C.BAR_YES_INDEX
    if score == "contrastive":
        return (C.BAR_YES_INDEX, C.KAGGLE_IDS.index("3.2"))
    raise ValueError(f"unknown score {score!r}; use one of {SCORES}")


def target_score(logits: torch.Tensor, target: int | tuple[int, int]) -> torch.Tensor:
    """The summed score to differentiate: one logit, or the contrast of a pair (``score_target``)."""
    if isinstance(target, tuple):
        return (logits[:, target[0]] - logits[:, target[1]]).float().sum()
    return logits[:, target].float().sum()


def normalise_maps(maps: torch.Tensor) -> torch.Tensor:
    """Min-max normalise each (..., H, W) map to [0, 1]; a flat map becomes all zeros."""
    lo = maps.amin(dim=(-2, -1), keepdim=True)
    hi = maps.amax(dim=(-2, -1), keepdim=True)
    span = hi - lo
    return torch.where(span > 0, (maps - lo) / torch.where(span > 0, span, 1), torch.zeros_like(maps))


def copies_run(n_samples: int, s_noise: float, symmetry: str) -> int:
    """How many of the N copies ``smoothgrad`` passes through each network.

    Without noise the copies differ only by their symmetry: copy k repeats copy k mod 8
    (dihedral) or copy 0 (none), so a whole number of rounds has the mean (and the variance) of
    one round, computed once.  Otherwise all N.
    """
    if s_noise == 0:
        distinct = 8 if symmetry == "dihedral" else 1
        if n_samples % distinct == 0:
            return min(n_samples, distinct)
    return n_samples


def smoothgrad(
    models: Sequence[nn.Module],
    x: torch.Tensor,
    *,
    n_samples: int = PAPER.n_samples,
    s_noise: float = PAPER.s_noise,
    x_input: bool = PAPER.x_input,
    target: int | tuple[int, int] = C.BAR_YES_INDEX,
    seeds: Sequence[int] | None = None,
    chunk_size: int = PAPER.chunk_size,
    autocast_dtype: torch.dtype | None = None,
    gradients: str = PAPER.gradients,
    symmetry: str = PAPER.symmetry,
) -> torch.Tensor:
    """Per-model SmoothGrad maps.

    Parameters
    ----------
    models : modules mapping (B, 3, H, W) in [0, 1] to logits; parameters frozen.
    x : (B, 3, H, W) images in [0, 1], on the models' device.
    n_samples : N, noisy copies per image (paper: 256).
    s_noise : S_noise, noise sigma as a fraction of each image's value range.  At 0 the map is
        the plain gradient (averaged over the 8 symmetries with ``dihedral``), computed from 1
        (8) copies whatever N is, when N is a multiple of that: further copies would repeat them.
    x_input : X_input, multiply by the greyscale image.
    target : index of the logit to explain (Class3.1, bar yes), or a pair (i, j): the contrast
        logit_i - logit_j (see ``score_target``).
    seeds : one noise seed per image (see ``galaxy_seeds``); default 0, 1, 2, ...
    chunk_size : images per forward/backward pass (the memory budget); 0: the fastest on this
        device, measured once per process (``hardware.measure_chunk_size``).
    autocast_dtype : e.g. torch.bfloat16 to run the models under autocast.
    gradients : "abs" (the paper's mean |g| over the copies), "square" (SmoothGrad², mean g²) or
        "var" (VarGrad, the variance of g over the copies), then the maximum over colour channels;
        or "positive": the mean g summed over the colour channels (brightening a pixel in every
        band), clipped at 0.
    symmetry : "none", or "dihedral": copy k of each image's N goes through the models under the
        square's symmetry k mod 8 (``dihedral``) and its gradient comes back through the inverse,
        so the map is an average over rotations and mirror images as well as over the noise.

    Returns
    -------
    (M, B, H, W) float32 maps in [0, 1].

    Raises
    ------
    ValueError
        If ``x`` is not 4-D, ``n_samples`` < 1, ``s_noise`` < 0 (or NaN), ``seeds`` does not
        have one seed per image, or ``symmetry`` is "dihedral" for images that are not square.
    """
    if x.ndim != 4:
        raise ValueError(f"x must be (B, C, H, W), got shape {tuple(x.shape)}")
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    if not s_noise >= 0:
        raise ValueError(f"s_noise must be >= 0, got {s_noise}")
    if gradients not in GRADIENTS:
        raise ValueError(f"gradients must be one of {GRADIENTS}, got {gradients!r}")
    if symmetry not in SYMMETRIES:
        raise ValueError(f"symmetry must be one of {SYMMETRIES}, got {symmetry!r}")
    b, ch, h, w = x.shape
    if symmetry == "dihedral" and h != w:
        raise ValueError(f"symmetry 'dihedral' needs square images, got {h} x {w}")
    device = x.device
    seeds = list(range(b)) if seeds is None else list(seeds)
    if len(seeds) != b:
        raise ValueError(f"need one seed per image: {len(seeds)} seeds for {b} images")
    n_samples = copies_run(n_samples, s_noise, symmetry)
    x = x.float()
    if chunk_size == 0:
        first = target[0] if isinstance(target, tuple) else target
        chunk_size = measure_chunk_size(models, input_size=h, device=device, dtype=autocast_dtype, target=first)
    sigma = s_noise * (x.amax(dim=(1, 2, 3)) - x.amin(dim=(1, 2, 3)))  # (B,)
    sums = torch.zeros(len(models), b, ch, h, w, device=device)
    signed = torch.zeros_like(sums) if gradients == "var" else None  # sum of g, for the variance
    streams = _streams(device, len(models))
    per_chunk = max(1, chunk_size // n_samples)  # whole galaxies per chunk when N fits
    for g0 in range(0, b, per_chunk):
        gal = range(g0, min(b, g0 + per_chunk))
        noisy = []
        for i in gal:
            gen = torch.Generator(device=device).manual_seed(seeds[i])
            eps = torch.randn((n_samples, ch, h, w), generator=gen, device=device)
            noisy.append(x[i] + eps * sigma[i])
        noisy = torch.cat(noisy).contiguous(memory_format=torch.channels_last)
        owner = torch.arange(g0, gal.stop, device=device).repeat_interleave(n_samples)
        _fork(streams)
        for s0 in range(0, noisy.shape[0], chunk_size):
            idx = owner[s0 : s0 + chunk_size]
            # ``noisy`` holds whole galaxies' N copies in turn: position p is copy p mod N, symmetry (p mod N) mod 8
            copy = (torch.arange(s0, s0 + len(idx)) % n_samples) % 8 if symmetry == "dihedral" else None
            for m, model in enumerate(models):
                # On CUDA each model gets its own stream, so the members' passes can overlap.
                with _stream_for(streams, m):
                    part = noisy[s0 : s0 + chunk_size].detach().requires_grad_(True)
                    seen = part if copy is None else _dihedral_views(part, copy)
                    with torch.autocast(device.type, dtype=autocast_dtype or torch.float32,
                                        enabled=autocast_dtype is not None):
                        # the score is a sum over copies, so their order in ``seen`` does not matter;
                        # autograd maps each view's gradient back through its own transform
                        score = target_score(model(seen), target)
                    (grad,) = torch.autograd.grad(score, part)
                    grad = grad.float()
                    sums[m].index_add_(0, idx, grad.abs() if gradients == "abs" else grad if gradients == "positive"
                                       else grad * grad)
                    if signed is not None:
                        signed[m].index_add_(0, idx, grad)
        _join(streams)  # before the main stream frees or reuses this group's tensors
    mean = sums / n_samples
    if signed is not None:
        mean = (mean - (signed / n_samples) ** 2).clamp_min(0)  # E[g^2] - E[g]^2
    maps = normalise_maps(mean.sum(dim=2).clamp_min(0) if gradients == "positive" else mean.amax(dim=2))
    if x_input:
        maps = normalise_maps(maps * greyscale(x)[None])
    return maps


def dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """Symmetry ``k`` (0-7) of the square's dihedral group on (..., H, W): a rotation by
    90° x (k mod 4), then a left-right mirror when k >= 4."""
    x = torch.rot90(x, k % 4, dims=(-2, -1))
    return x.flip(-1) if k >= 4 else x


def _dihedral_views(part: torch.Tensor, copy: torch.Tensor) -> torch.Tensor:
    """The copies of ``part`` (n, C, H, W), each under its symmetry ``copy[i]``, grouped by symmetry."""
    views = [dihedral(part[copy == k], k) for k in range(8) if bool((copy == k).any())]
    return torch.cat(views).contiguous(memory_format=torch.channels_last)


def _streams(device: torch.device, n: int) -> list[torch.cuda.Stream] | None:
    if device.type != "cuda" or n < 2:
        return None
    return [torch.cuda.Stream(device) for _ in range(n)]


def _fork(streams: list[torch.cuda.Stream] | None) -> None:
    if streams is not None:
        main = torch.cuda.current_stream(streams[0].device)
        for s in streams:
            s.wait_stream(main)  # the noisy copies were written on the main stream


def _stream_for(streams: list[torch.cuda.Stream] | None, m: int):
    from contextlib import nullcontext

    return nullcontext() if streams is None else torch.cuda.stream(streams[m])


def _join(streams: list[torch.cuda.Stream] | None) -> None:
    if streams is not None:
        main = torch.cuda.current_stream(streams[0].device)
        for s in streams:
            main.wait_stream(s)


#: Map pixels next to the edge of a padded cutout that are left out of the bar
#: measurement: the model responds to the step between data and padding there.
PAD_EDGE_MARGIN_PX = 2


def restrict_to_data(maps: np.ndarray, data_side: np.ndarray, margin: int = PAD_EDGE_MARGIN_PX) -> np.ndarray:
    """Blank (NaN) what lies outside each cutout in its padded frame and renormalise.

    ``maps`` (B, H, W) of frames whose centred square of ``data_side[b]`` map pixels holds
    the cutout and the rest sky padding (``preprocess.frame_image``).  Padding carries no
    data, so it may not hold a bar: those pixels, and ``margin`` pixels inside the edge,
    become NaN, which never enters a bar mask, and the rest is min-max normalised again.
    Maps that are not padded (side >= H) come back unchanged.
    """
    maps = np.asarray(maps, dtype=np.float32)
    out = maps.copy()
    h, w = maps.shape[-2:]
    yy = np.abs(np.arange(h) + 0.5 - h / 2)[:, None]  # distance of pixel centres from the frame centre
    xx = np.abs(np.arange(w) + 0.5 - w / 2)[None, :]
    for b, side in enumerate(np.asarray(data_side, dtype=float)):
        if not np.isfinite(side) or side >= min(h, w):
            continue
        half = max(side / 2 - margin, 1.0)  # keeps at least the central pixels
        inside = (yy < half) & (xx < half)
        vals = maps[b][inside]
        lo, hi = float(vals.min()), float(vals.max())
        out[b] = np.where(inside, (maps[b] - lo) / (hi - lo) if hi > lo else 0.0, np.nan)
    return out


def bar_reaches_edge(maps: np.ndarray, thresholds: np.ndarray, data_side: np.ndarray,
                     margin: int = PAD_EDGE_MARGIN_PX) -> np.ndarray:
    """(B,) whether each bar mask (map > threshold) touches the edge of the data in its frame.

    The data is the centred square of ``data_side[b]`` map pixels (the whole frame where the
    cutout was not padded), less the ``margin`` that ``restrict_to_data`` blanks; a mask with a
    pixel within 1.5 px of that edge may continue beyond the data, so its length is a lower limit.
    NaN thresholds (no measurement) give False.
    """
    maps = np.asarray(maps, dtype=np.float32)
    h, w = maps.shape[-2:]
    yy = np.abs(np.arange(h) + 0.5 - h / 2)[:, None]
    xx = np.abs(np.arange(w) + 0.5 - w / 2)[None, :]
    cheb = np.maximum(yy, xx)  # distance of each pixel centre from the frame centre, square norm
    out = np.zeros(len(maps), bool)
    for b, (m, t, side) in enumerate(zip(maps, np.asarray(thresholds, float), np.asarray(data_side, float))):
        if not np.isfinite(t):
            continue
        half = _data_half_side(side, min(h, w), margin)
        with np.errstate(invalid="ignore"):
            mask = m > t
        out[b] = bool((mask & (cheb >= half - 1.5)).any())
    return out


def ends_reach_edge(ends: np.ndarray, shape: tuple[int, int], data_side: np.ndarray,
                    margin: int = PAD_EDGE_MARGIN_PX) -> np.ndarray:
    """(B,) whether either end of each bar, ``ends`` (B, 2, 2) as (row, col) in map pixels, lies
    within 1.5 px of the edge of the data (as ``bar_reaches_edge``); NaN ends give False."""
    h, w = shape
    ends = np.asarray(ends, dtype=np.float64)
    # distance of each end from the frame centre, square norm, in pixel-centre coordinates
    cheb = np.maximum(np.abs(ends[..., 0] + 0.5 - h / 2), np.abs(ends[..., 1] + 0.5 - w / 2)).max(axis=1)
    half = _data_half_side(np.asarray(data_side, dtype=np.float64), min(h, w), margin)
    with np.errstate(invalid="ignore"):
        return np.isfinite(cheb) & (cheb >= half - 1.5)


def _data_half_side(side, frame: int, margin: int):
    """Half the side of the data square in a frame (map pixels), less the margin ``restrict_to_data``
    blanks where the cutout was padded."""
    return np.minimum(side, frame) / 2 - np.where(side < frame, margin, 0)


def ensemble_mean_map(maps: torch.Tensor) -> torch.Tensor:
    """Method (iv): the elementwise mean of the members' normalised maps, (M, B, H, W) -> (B, H, W)."""
    return maps.mean(dim=0)
