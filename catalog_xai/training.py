"""Training the morphology CNNs on vote fractions (paper §4.1-4.3), pure torch.

Protocol: random rotation 0-360 deg, horizontal/vertical flips, shifts up to 5 % of the
size, brightness x0.7-1.3 every epoch; RMSE loss against the 37 cumulative vote
fractions; Adam (lr 1e-3); lr x0.5 after 5 epochs without validation improvement;
early stop after 10; 5 % of the training set held out for validation.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .models import GalaxyNet


@dataclass
class TrainConfig:
    epochs: int = 100
    batch_size: int = 64
    lr: float = 1e-3
    plateau_patience: int = 5
    early_stop_patience: int = 10
    val_fraction: float = 0.05
    max_shift: float = 0.05
    brightness: tuple[float, float] = (0.7, 1.3)
    seed: int = 0
    time_limit_s: float = float("inf")


def augment(x: torch.Tensor, gen: torch.Generator, max_shift: float, brightness: tuple[float, float]) -> torch.Tensor:
    """Random rotation, flips, shift and brightness, as one affine resample per image."""
    b = x.shape[0]
    dev = x.device
    ang = torch.rand(b, generator=gen, device=dev) * 2 * math.pi
    flip_x = torch.where(torch.rand(b, generator=gen, device=dev) < 0.5, -1.0, 1.0)
    flip_y = torch.where(torch.rand(b, generator=gen, device=dev) < 0.5, -1.0, 1.0)
    shift = (torch.rand(b, 2, generator=gen, device=dev) * 2 - 1) * max_shift * 2  # grid units span 2
    cos, sin = torch.cos(ang), torch.sin(ang)
    theta = torch.stack(
        [torch.stack([cos * flip_x, -sin * flip_y, shift[:, 0]], 1), torch.stack([sin * flip_x, cos * flip_y, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    lo, hi = brightness
    gain = lo + (hi - lo) * torch.rand(b, 1, 1, 1, generator=gen, device=dev)
    return (out * gain).clamp_(0, 1)


def rmse(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Weighted RMSE over the labels that exist.

    NaN targets (a question no volunteer reached, or a source that does not ask it) do
    not contribute; ``weight`` (same shape, e.g. the number of volunteers who answered
    each question) makes well-attested fractions count more than thinly voted ones.
    """
    have = torch.isfinite(target)
    w = have.float() if weight is None else torch.where(have, weight, torch.zeros_like(weight))
    err2 = torch.where(have, (pred - torch.nan_to_num(target)) ** 2, torch.zeros_like(pred))
    return torch.sqrt((w * err2).sum() / w.sum().clamp_min(1e-12))


@torch.no_grad()
@torch.no_grad()
def predict_fractions(model: GalaxyNet, images_u8: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    model.eval()
    return torch.cat([torch.sigmoid(model(images_u8[i : i + batch_size].float().div_(255)))
                      for i in range(0, len(images_u8), batch_size)])


def evaluate_rmse(model: GalaxyNet, images_u8: torch.Tensor, labels: torch.Tensor, batch_size: int = 256,
                  weights: torch.Tensor | None = None) -> float:
    """(Weighted) RMSE of the model's vote fractions over the existing labels of an image set."""
    return float(rmse(predict_fractions(model, images_u8, batch_size), labels, weights))


def train_model(model: GalaxyNet, images_u8: torch.Tensor, labels: torch.Tensor, cfg: TrainConfig, log=print,
                weights: torch.Tensor | None = None) -> dict:
    """Train in place; returns the learning curves and the best validation RMSE.

    ``images_u8`` is (N, 3, H, W) uint8 already framed for the model; ``labels`` (N, K)
    with NaN where a label does not exist; ``weights`` (N, K) optional, see ``rmse``.
    """
    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    n = len(images_u8)
    perm = torch.randperm(n, generator=gen)
    n_val = max(1, int(round(cfg.val_fraction * n)))
    val_idx, tr_idx = perm[:n_val], perm[n_val:]
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=cfg.plateau_patience)
    best, best_state, stale = float("inf"), None, 0
    history = {"epoch": [], "train_rmse": [], "val_rmse": [], "lr": [], "seconds": []}
    t0 = time.perf_counter()
    for epoch in range(cfg.epochs):
        model.train()
        order = tr_idx[torch.randperm(len(tr_idx), generator=gen)]
        se, cnt = 0.0, 0
        for i in range(0, len(order), cfg.batch_size):
            idx = order[i : i + cfg.batch_size]
            x = augment(images_u8[idx].float().div_(255), gen, cfg.max_shift, cfg.brightness)
            y = labels[idx]
            loss = rmse(torch.sigmoid(model(x)), y, None if weights is None else weights[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            se += float(loss.detach()) ** 2 * len(idx)
            cnt += len(idx)
        val = evaluate_rmse(model, images_u8[val_idx], labels[val_idx],
                            weights=None if weights is None else weights[val_idx])
        sched.step(val)
        for k, v in (("epoch", epoch + 1), ("train_rmse", math.sqrt(se / cnt)), ("val_rmse", val),
                     ("lr", opt.param_groups[0]["lr"]), ("seconds", time.perf_counter() - t0)):
            history[k].append(v)
        log(f"{model.spec.architecture} epoch {epoch + 1}: train RMSE {history['train_rmse'][-1]:.4f} "
            f"val RMSE {val:.4f} lr {opt.param_groups[0]['lr']:.1e} ({history['seconds'][-1]:.0f} s)")
        if val < best - 1e-5:
            best, stale = val, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
        if stale >= cfg.early_stop_patience or time.perf_counter() - t0 > cfg.time_limit_s:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return {"best_val_rmse": best, "history": history}


def frame_for_training(images: list[bytes], input_size: int, crop_fraction: float, framing: str = "native",
                       r90_pix=None) -> tuple[torch.Tensor, np.ndarray]:
    """Decode and frame encoded cutouts into uint8 (N, 3, S, S); returns (images, usable mask)."""
    from .preprocess import ImageError, decode_image, frame_galaxy

    out, ok = [], np.zeros(len(images), bool)
    for i, data in enumerate(images):
        try:
            r90 = float("nan") if r90_pix is None else float(r90_pix[i])
            x, _ = frame_galaxy(decode_image(data), input_size=input_size, crop_fraction=crop_fraction,
                                framing=framing, r90_pix=r90)
        except ImageError:
            continue
        out.append((x * 255 + 0.5).to(torch.uint8))
        ok[i] = True
    return (torch.stack(out) if out else torch.zeros(0, 3, input_size, input_size, dtype=torch.uint8)), ok
