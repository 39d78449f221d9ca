"""Class-activation maps: HiResCAM and Grad-CAM of any answer at a chosen layer (seeds 002, 003).

Pure torch, no pytorch-grad-cam (it needs torchvision, which does not import beside the CPU
torch wheel).  For a layer with activations A (B, K, h, w) and the gradients G = d score / d A:

- Grad-CAM (Selvaraju et al. 2017): sum_k mean_hw(G_k) A_k — one weight per channel.
- HiResCAM (Draelos & Carin 2021): sum_k G_k * A_k — element-wise, so the map shows only
  the locations the score actually used; for a head that is linear after global average
  pooling, its (h, w) map sums exactly to score - bias (checked in the tests).

Seed 002 shows two maps per galaxy: what raises the score ("+score", the positive part)
and what lowers it ("-score", the positive part of the negated map).  Maps are upsampled
bilinearly to the input size.  ``class_activation_maps`` leaves them in the score's units;
``ensemble_cams`` scales each member's pair to unit maximum per galaxy before averaging.
The score is the answer's *logit* (or, for a Dirichlet head, its concentration's
pre-activation), like SmoothGrad's (method.md §3).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

METHODS = ("hirescam", "gradcam")


def default_layer(model: nn.Module, input_size: int) -> str:
    """Name of the last module of ``model.backbone`` whose output is still a (B, K, h, w) map
    with h > 1: the last convolutional block, before the global pooling.

    Raises
    ------
    ValueError
        If no module of the backbone gives a spatial map.
    """
    backbone = model.backbone if hasattr(model, "backbone") else model
    prefix = "backbone." if hasattr(model, "backbone") else ""
    found: list[str] = []
    hooks = []
    for name, module in backbone.named_children():
        def hook(_m, _i, out, name=name):
            if isinstance(out, torch.Tensor) and out.dim() == 4 and out.shape[-1] > 1:
                found.append(name)
        hooks.append(module.register_forward_hook(hook))
    try:
        p = next(model.parameters())
        with torch.no_grad():
            model(torch.zeros(1, 3, input_size, input_size, dtype=p.dtype, device=p.device))
    finally:
        for h in hooks:
            h.remove()
    if not found:
        raise ValueError("no layer of the backbone gives a spatial (B, K, h, w) map: name one with layer=")
    return prefix + found[-1]


def class_activation_maps(model: nn.Module, x: torch.Tensor, target: int, *, method: str = "hirescam",
                          layer: str | None = None, upsample: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """(+score, -score) maps (B, H, W) of output ``target`` for images ``x`` (B, 3, H, W) in [0, 1].

    ``layer``: a module name of ``model`` (``model.get_submodule``); default ``default_layer``.
    ``upsample=False`` returns the maps at the layer's own (h, w).

    Raises
    ------
    ValueError
        If ``method`` is not one of ``METHODS`` or ``layer`` is not a module of ``model``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown CAM method {method!r}; known: {METHODS}")
    name = layer or default_layer(model, x.shape[-1])
    try:
        module = model.get_submodule(name)
    except AttributeError as e:
        raise ValueError(f"layer {name!r} is not a module of the model") from e
    store: dict[str, torch.Tensor] = {}

    def keep(_m, _i, out):
        store["a"] = out
        out.retain_grad() if out.requires_grad else None

    handle = module.register_forward_hook(keep)
    try:
        with torch.enable_grad():
            xin = x.detach().clone().requires_grad_(True)  # so that activations carry gradients in a frozen model
            score = model(xin)[:, target].float().sum()
            a = store["a"]
            (g,) = torch.autograd.grad(score, a)
    finally:
        handle.remove()
    a, g = a.detach().float(), g.float()
    weights = g if method == "hirescam" else g.mean(dim=(2, 3), keepdim=True)
    cam = (weights * a).sum(1, keepdim=True)  # (B, 1, h, w), signed
    up = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0] if upsample else cam[:, 0]
    return up.clamp_min(0), (-up).clamp_min(0)


def ensemble_cams(models: Sequence[nn.Module], x: torch.Tensor, target: int, *, method: str = "hirescam",
                  layer: str | None = None, batch_size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """The members' (+score, -score) maps, each member's map scaled to unit maximum over the
    pair before averaging, so no member dominates by the size of its activations."""
    plus, minus = torch.zeros(x.shape[0], *x.shape[-2:]), torch.zeros(x.shape[0], *x.shape[-2:])
    for m in models:
        name = layer or default_layer(m, x.shape[-1])  # found once per model, not once per batch
        for i in range(0, len(x), batch_size):
            p, n = class_activation_maps(m, x[i : i + batch_size], target, method=method, layer=name)
            scale = torch.maximum(p.flatten(1).amax(1), n.flatten(1).amax(1)).clamp_min(1e-12)[:, None, None]
            plus[i : i + batch_size] += (p / scale).cpu() / len(models)
            minus[i : i + batch_size] += (n / scale).cpu() / len(models)
    return plus, minus
