"""Training the morphology CNNs on vote fractions (paper §4.1-4.3), pure torch.

Protocol: random rotation 0-360 deg, horizontal/vertical flips, shifts up to 5 % of the
size, brightness x0.7-1.3 every epoch; RMSE loss against the 37 cumulative vote
fractions; Adam (lr 1e-3); lr x0.5 after 5 epochs without validation improvement;
early stop after 10; 5 % of the training set held out for validation.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from .. import columns as C
from . import dirichlet
from .models import GalaxyNet, ModelSpec, output_fractions


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
    #: Gaussian noise on half the training batches, sigma as SmoothGrad's (a fraction of each
    #: image's range), so the models are trained on the noisy copies SmoothGrad differentiates.
    noise_s: float = 0.0
    #: Weight of the saliency-mask loss (``mask_saliency_loss``); needs the bar masks.
    saliency_weight: float = 0.0
    saliency_target: int | tuple[int, int] = C.BAR_YES_INDEX  # as ``saliency.score_target`` gives
    #: Weight of the bar-evidence segmentation loss (``evidence_loss``) of a bar-mapping model
    #: (``models.BarEvidenceBackbone``); needs the bar masks.
    evidence_weight: float = 0.0
    #: Barred galaxies per batch that the saliency-mask loss (double back-propagation, ~3x a
    #: training step per image) is computed on; 0 = all of them.
    saliency_max_images: int = 0
    #: Photometric jitter (``photometric_jitter``): other stretches, colours and seeing than the
    #: training renderer's, so that what a model learns of bars does not hang on one rendering.
    photometric: bool = False
    #: > 0: train the smooth/featured question with seed 003's de-biasing (DDB) loss at this theta
    #: (``resolution.ddb_loss``; needs each galaxy's alpha); the other answers keep the RMSE loss.
    ddb_theta: float = 0.0


def augment(x: torch.Tensor, gen: torch.Generator, max_shift: float, brightness: tuple[float, float],
            masks: torch.Tensor | None = None) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Random rotation, flips, shift and brightness, as one affine resample per image.

    ``masks`` (B, K, H, W), if given, go through the same geometric transform (not the
    brightness) and are returned beside the images.
    """
    if masks is not None:
        both = augment(torch.cat([x, masks], 1), gen, max_shift, (1.0, 1.0))
        lo, hi = brightness
        gain = lo + (hi - lo) * torch.rand(x.shape[0], 1, 1, 1, generator=gen, device=x.device)
        return (both[:, : x.shape[1]] * gain).clamp_(0, 1), both[:, x.shape[1] :]
    b = x.shape[0]
    dev = x.device
    ang = torch.rand(b, generator=gen, device=dev) * 2 * math.pi
    flip_x = torch.where(torch.rand(b, generator=gen, device=dev) < 0.5, -1.0, 1.0)
    flip_y = torch.where(torch.rand(b, generator=gen, device=dev) < 0.5, -1.0, 1.0)
    shift = (torch.rand(b, 2, generator=gen, device=dev) * 2 - 1) * max_shift * 2  # grid units span 2
    cos, sin = torch.cos(ang), torch.sin(ang)
    theta = torch.stack(
        [torch.stack([cos * flip_x, -sin * flip_y, shift[:, 0]], 1),
         torch.stack([sin * flip_x, cos * flip_y, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    lo, hi = brightness
    gain = lo + (hi - lo) * torch.rand(b, 1, 1, 1, generator=gen, device=dev)
    return (out * gain).clamp_(0, 1)


def _blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Per-image Gaussian blur (B,) sigmas in pixels, as one 7 x 7 depthwise convolution."""
    r = torch.arange(-3, 4, device=x.device, dtype=x.dtype)
    k1 = torch.exp(-0.5 * (r[None, :] / sigma.clamp_min(1e-3)[:, None]) ** 2)
    k1 = k1 / k1.sum(1, keepdim=True)  # (B, 7)
    k2 = (k1[:, :, None] * k1[:, None, :])  # (B, 7, 7)
    b, c, h, w = x.shape
    weight = k2[:, None].repeat_interleave(c, 0)  # (B*C, 1, 7, 7)
    out = F.conv2d(F.pad(x.reshape(1, b * c, h, w), (3, 3, 3, 3), mode="reflect"), weight, groups=b * c)
    return out.reshape(b, c, h, w)


def photometric_jitter(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random display and seeing changes per image of a batch in [0, 1]: a gamma of 0.67-1.5 (a
    softer or harder stretch), channel gains of 0.85-1.15 (colour balance), desaturation towards
    grey by up to 0.6 on half the images, and a Gaussian blur of sigma 0.3-1.5 px on a third."""
    b, dev = x.shape[0], x.device

    def u(lo: float, hi: float, *shape: int) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(b, *shape, generator=gen, device=dev)

    x = x.clamp(0, 1) ** torch.exp(u(-0.4, 0.4, 1, 1, 1))
    x = x * torch.exp(u(-0.16, 0.16, 3, 1, 1))
    grey = x.mean(1, keepdim=True)
    mix = u(0, 0.6, 1, 1, 1) * (u(0, 1, 1, 1, 1) < 0.5)
    x = x + mix * (grey - x)
    sigma = u(0.3, 1.5)
    blur = u(0, 1) < 1 / 3
    if blur.any():  # only the third that is blurred goes through the convolution
        x = x.clone()
        x[blur] = _blur(x[blur], sigma[blur])
    return x.clamp(0, 1)


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


def add_smoothgrad_noise(x: torch.Tensor, s_noise: float, gen: torch.Generator) -> torch.Tensor:
    """x + eps, eps ~ N(0, (s_noise * range(x))^2) per image: a SmoothGrad noisy copy."""
    span = (x.amax(dim=(1, 2, 3), keepdim=True) - x.amin(dim=(1, 2, 3), keepdim=True))
    return x + torch.randn(x.shape, generator=gen, device=x.device) * (s_noise * span)


def mask_saliency_loss(model: torch.nn.Module, x: torch.Tensor, masks: torch.Tensor,
                       target: int | tuple[int, int]) -> torch.Tensor:
    """1 - Pearson r between each image's input-gradient map and its bar mask, averaged.

    The map is |d score / d x| (``saliency.target_score``) summed over channels and smoothed over 3x3 pixels (a
    one-sample SmoothGrad map); ``masks`` (B, 1, H, W) the bar's outline from the generator.
    Correlation rewards a map that covers the bar as well as one that stays inside it: a
    penalty on the saliency outside alone lets the map shrink to a dot (saliency-notes.md).
    Differentiable in the weights (double back-propagation).
    """
    from .saliency import target_score

    x = x.detach().requires_grad_(True)
    score = target_score(model(x), target)
    (grad,) = torch.autograd.grad(score, x, create_graph=True)
    sal = F.avg_pool2d(grad.abs().sum(1, keepdim=True), 3, 1, 1).flatten(1)
    m = masks.flatten(1)
    sal = sal - sal.mean(1, keepdim=True)
    m = m - m.mean(1, keepdim=True)
    r = (sal * m).sum(1) / (sal.norm(dim=1) * m.norm(dim=1) + 1e-12)
    return (1 - r).mean()


def evidence_loss(evidence: torch.Tensor, masks: torch.Tensor, pos_weight: float = 3.0) -> torch.Tensor:
    """Per-pixel binary cross-entropy between a bar-evidence map (B, 1, h, w) of logits and the bar
    masks (B, 1, H, W) in [0, 1], averaged to the map's resolution (soft targets at the outline).

    Bars cover a few per cent of a frame: ``pos_weight`` keeps a model from buying a low loss by
    calling everything "not bar", which would shorten the bars its maps show.
    """
    target = F.adaptive_avg_pool2d(masks.float(), evidence.shape[-2:])
    return F.binary_cross_entropy_with_logits(evidence.float(), target,
                                              pos_weight=torch.tensor(pos_weight, device=evidence.device))


@torch.no_grad()
def predict_fractions(model: GalaxyNet, images_u8: torch.Tensor, batch_size: int = 256,
                      device: str | torch.device = "cpu") -> torch.Tensor:
    model.eval()
    return torch.cat([output_fractions(model(images_u8[i : i + batch_size].to(device).float().div_(255)),
                                       model.spec)[0].cpu()
                      for i in range(0, len(images_u8), batch_size)])


def evaluate_rmse(model: GalaxyNet, images_u8: torch.Tensor, labels: torch.Tensor, batch_size: int = 256,
                  weights: torch.Tensor | None = None, device: str | torch.device = "cpu") -> float:
    """(Weighted) RMSE of the model's vote fractions over the existing labels of an image set."""
    return float(rmse(predict_fractions(model, images_u8, batch_size, device), labels, weights))


def member_config(cfg: TrainConfig, index: int) -> TrainConfig:
    """The configuration of ensemble member ``index``: its own seed, so members differ."""
    return replace(cfg, seed=cfg.seed + index)


def new_member(spec: ModelSpec | str, seed: int, init_state: dict | None = None) -> GalaxyNet:
    """A member ready to train: built under ``seed`` (so its initial weights are reproducible),
    or started from ``init_state`` (fine-tuning).

    Raises
    ------
    ValueError
        If the architecture is not registered.
    """
    from .models import create_model

    torch.manual_seed(seed)
    model = create_model(spec)
    if init_state is not None:
        model.load_state_dict(init_state)
    return model.requires_grad_(True)


def _dist():
    """(rank, world size) of the torch.distributed group, or (0, 1) outside one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _from_rank0(values: list[float], device: str | torch.device) -> list[float]:
    """Rank 0's values on every worker, so that data-parallel workers take the same decisions.

    Validation RMSE differs in the last digits between workers (BatchNorm running statistics
    are local), and so does the clock: deciding on rank 0's numbers keeps the learning-rate
    schedule and early stopping in step, and a worker that stopped alone would hang the others.
    """
    if _dist()[1] == 1:
        return values
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.broadcast(t, src=0)
    return t.tolist()


def train_model(model: torch.nn.Module, images_u8: torch.Tensor, labels: torch.Tensor, cfg: TrainConfig,
                log: Callable[[str], None] = print, weights: torch.Tensor | None = None, resume: dict | None = None,
                on_epoch: Callable[[dict], None] | None = None, device: str | torch.device = "cpu",
                masks_u8: torch.Tensor | None = None, counts: torch.Tensor | None = None,
                alpha: torch.Tensor | None = None, mask_known: torch.Tensor | None = None) -> dict:
    """Train in place; returns the learning curves and the best validation RMSE.

    ``images_u8`` is (N, 3, H, W) uint8 already framed for the model; ``labels`` (N, K)
    with NaN where a label does not exist; ``weights`` (N, K) optional, see ``rmse``.

    Resumable: after every epoch ``on_epoch(state)`` receives the whole training state
    (weights, optimiser, schedule, random generators, curves); passing that state back as
    ``resume`` continues exactly where it stopped (same weights as an uninterrupted run).
    Data-parallel: inside a torch.distributed group (Ray Train), ``model`` is the DDP-wrapped
    model and each worker trains on its share of every global batch of ``cfg.batch_size``.
    ``masks_u8`` (N, H, W) uint8, the generator's bar masks (all zero where there is no bar),
    enable ``cfg.saliency_weight`` and ``cfg.evidence_weight``; ``mask_known`` (N,) bool says which
    galaxies' masks are known (default all): a real galaxy has no mask, not an empty one.
    A model with a Dirichlet head (``ModelSpec.head``) is trained on ``counts`` (N, 37), the raw
    votes per answer, with the Dirichlet-multinomial likelihood
    (``dirichlet.dirichlet_multinomial_nll``); validation and early stopping use the RMSE of its
    fractions either way, so runs with either head compare.  ``cfg.ddb_theta > 0`` trains the
    first two logits (smooth, featured) with the DDB loss given ``alpha`` (N,), each galaxy's
    resolution; validation then leaves the smooth/featured question out of the RMSE.

    Raises
    ------
    ValueError
        If the bar masks or the vote counts a configuration needs are missing.
    """
    dirichlet_head = getattr(model, "module", model).spec.head == "dirichlet"
    if dirichlet_head and counts is None:
        raise ValueError("a Dirichlet head is trained on vote counts: pass counts (N, 37), the votes per answer")
    if cfg.ddb_theta > 0 and alpha is None:
        raise ValueError("DDB training (ddb_theta > 0) needs each galaxy's resolution alpha")
    if cfg.ddb_theta > 0 and dirichlet_head:
        raise ValueError("DDB training is for sigmoid heads (the smooth/featured logits), not Dirichlet heads")
    q1 = C.question_slices()["smooth_or_featured"]
    if cfg.ddb_theta > 0:  # the other answers train and validate as usual; Q1 is the DDB pair
        ddb_target = labels[:, q1.start : q1.start + 2].clone()
        ddb_target = ddb_target / ddb_target.sum(1, keepdim=True).clamp_min(1e-12)
        labels = labels.clone()
        labels[:, q1] = float("nan")
    if (cfg.saliency_weight > 0 or cfg.evidence_weight > 0) and masks_u8 is None:
        raise ValueError("saliency_weight > 0 or evidence_weight > 0 needs the bar masks (masks_u8)")
    if cfg.evidence_weight > 0 and getattr(getattr(model, "module", model), "bar_pool", None) is None:
        raise ValueError("evidence_weight > 0 trains a bar-evidence map: the architecture has none "
                         "(use one built on models.BarEvidenceBackbone, e.g. silu_bar_evidence)")
    use_masks = masks_u8 is not None and (cfg.saliency_weight > 0 or cfg.evidence_weight > 0)
    if use_masks and mask_known is None:
        mask_known = torch.ones(len(masks_u8), dtype=torch.bool)
    rank, world = _dist()
    net = getattr(model, "module", model)  # the bare network under a DDP wrapper
    # One generator shared by all workers (split and order), one per worker (augmentation).
    gen = torch.Generator().manual_seed(cfg.seed)
    aug_gen = torch.Generator(device=torch.device(device)).manual_seed(cfg.seed * 1000 + 7 + rank)
    n = len(images_u8)
    perm = torch.randperm(n, generator=gen)
    n_val = max(1, int(round(cfg.val_fraction * n)))
    val_idx, tr_idx = perm[:n_val], perm[n_val:]
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=cfg.plateau_patience)
    best, best_state, stale, start = float("inf"), None, 0, 0
    history = {"epoch": [], "train_rmse": [], "val_rmse": [], "lr": [], "seconds": []}
    spent = 0.0  # training seconds before this (resumed) run
    if resume is not None:
        net.load_state_dict(resume["model"])
        opt.load_state_dict(resume["optimizer"])
        sched.load_state_dict(resume["scheduler"])
        gen.set_state(resume["gen"])
        if resume.get("aug_gen") is not None and world == resume.get("world_size", 1):
            aug_gen.set_state(resume["aug_gen"].to(aug_gen.get_state().device))
        best, stale, start = resume["best"], resume["stale"], resume["epoch"]
        best_state, history = resume["best_model"], resume["history"]
        torch.set_rng_state(resume["torch_rng"])  # dropout draws from the global generator
        if resume.get("cuda_rng") is not None and torch.device(device).type == "cuda":
            torch.cuda.set_rng_state(resume["cuda_rng"], device)
        spent = history["seconds"][-1] if history["seconds"] else 0.0
        log(f"{net.spec.architecture}: resumed after epoch {start}")
    t0 = time.perf_counter() - spent
    done = resume is not None and resume.get("finished", False)
    for epoch in range(start, 0 if done else cfg.epochs):
        model.train()
        order = tr_idx[torch.randperm(len(tr_idx), generator=gen)]
        se, cnt = 0.0, 0
        sal_sum, sal_cnt = 0.0, 0
        ev_sum, ev_cnt = 0.0, 0
        # Whole global batches of at least one galaxy per worker, so all workers step together.
        for i in range(0, len(order) - world + 1, cfg.batch_size):
            idx = order[i : i + cfg.batch_size][rank::world]
            x = images_u8[idx].to(device).float().div_(255)
            if use_masks:
                x, m = augment(x, aug_gen, cfg.max_shift, cfg.brightness,
                               masks=masks_u8[idx].to(device).float().div_(255)[:, None])
                known = mask_known[idx].to(device)
            else:
                x = augment(x, aug_gen, cfg.max_shift, cfg.brightness)
            if cfg.photometric:
                x = photometric_jitter(x, aug_gen)
            if cfg.noise_s > 0 and bool(torch.rand((), generator=aug_gen, device=x.device) < 0.5):
                x = add_smoothgrad_noise(x, cfg.noise_s, aug_gen)
            y = labels[idx].to(device)
            if cfg.evidence_weight > 0:
                out, evidence = model(x, return_evidence=True)
            else:
                out = model(x)
            w_batch = None if weights is None else weights[idx].to(device)
            vote_loss = rmse(output_fractions(out, net.spec)[0], y, w_batch)
            if dirichlet_head:
                loss = dirichlet.dirichlet_multinomial_nll(out, counts[idx].to(device))
            else:
                loss = vote_loss
            if cfg.ddb_theta > 0:
                from .resolution import ddb_loss

                loss = loss + ddb_loss(out[:, q1.start : q1.start + 2], ddb_target[idx].to(device),
                                       alpha[idx].to(device), cfg.ddb_theta)
            if cfg.evidence_weight > 0:
                if known.any():
                    ev_loss = evidence_loss(evidence[known], m[known])
                    loss = loss + cfg.evidence_weight * ev_loss
                    ev_sum += float(ev_loss.detach()) * int(known.sum())
                    ev_cnt += int(known.sum())
            if cfg.saliency_weight > 0:
                barred = (m.flatten(1).amax(1) > 0.5) & known
                if cfg.saliency_max_images:
                    barred &= torch.cumsum(barred, 0) <= cfg.saliency_max_images
                if barred.any():
                    sal_loss = mask_saliency_loss(model, x[barred], m[barred], cfg.saliency_target)
                    loss = loss + cfg.saliency_weight * sal_loss
                    sal_sum += float(sal_loss.detach()) * int(barred.sum())
                    sal_cnt += int(barred.sum())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            se += float(vote_loss.detach()) ** 2 * len(idx)
            cnt += len(idx)
        val = evaluate_rmse(net, images_u8[val_idx], labels[val_idx], device=device,
                            weights=None if weights is None else weights[val_idx])
        val, elapsed = _from_rank0([val, time.perf_counter() - t0], device)
        sched.step(val)
        for k, v in (("epoch", epoch + 1), ("train_rmse", math.sqrt(se / max(cnt, 1))), ("val_rmse", val),
                     ("lr", opt.param_groups[0]["lr"]), ("seconds", elapsed)):
            history[k].append(v)
        if sal_cnt:  # 1 - r between the input-gradient maps and the bar masks, barred galaxies of the epoch
            history.setdefault("mask_loss", []).append(sal_sum / sal_cnt)
        if ev_cnt:  # the bar-evidence map's cross-entropy against the masks
            history.setdefault("evidence_loss", []).append(ev_sum / ev_cnt)
        log(f"{net.spec.architecture} epoch {epoch + 1}: train RMSE {history['train_rmse'][-1]:.4f} "
            f"val RMSE {val:.4f} lr {opt.param_groups[0]['lr']:.1e} ({elapsed:.0f} s)"
            + (f" mask loss {sal_sum / sal_cnt:.3f}" if sal_cnt else "")
            + (f" evidence loss {ev_sum / ev_cnt:.3f}" if ev_cnt else ""))
        if val < best - 1e-5:
            best, stale = val, 0
            best_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        else:
            stale += 1
        finished = (stale >= cfg.early_stop_patience or elapsed > cfg.time_limit_s or epoch + 1 == cfg.epochs)
        if on_epoch is not None:
            on_epoch({"model": {k: v.detach().cpu() for k, v in net.state_dict().items()},
                      "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "gen": gen.get_state(),
                      "aug_gen": aug_gen.get_state().cpu(), "world_size": world,
                      "torch_rng": torch.get_rng_state(),
                      "cuda_rng": torch.cuda.get_rng_state(device) if torch.device(device).type == "cuda" else None,
                      "best": best, "stale": stale,
                      "epoch": epoch + 1, "best_model": best_state, "history": history, "finished": finished})
        if finished:
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    return {"best_val_rmse": best, "history": history}


def frame_for_training(images: list[bytes], spec: ModelSpec,
                       r90_pix: Sequence[float] | np.ndarray | None = None) -> tuple[torch.Tensor, np.ndarray]:
    """Decode and frame encoded cutouts as ``spec`` says (its input size, crop and framing) into
    uint8 (N, 3, S, S); returns (images, usable mask).

    Raises
    ------
    ValueError
        If ``spec.framing`` is not one of ``FRAMINGS``.
    """
    from .preprocess import frame_batch

    framed = frame_batch(images, input_size=spec.input_size, crop_fraction=spec.crop_fraction, framing=spec.framing,
                         r90_pix=r90_pix)
    ok = np.zeros(len(images), bool)
    ok[framed.ok_rows] = True
    return (framed.x * 255 + 0.5).to(torch.uint8), ok
