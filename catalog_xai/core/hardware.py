"""Fast by default on the device at hand: bf16 where the hardware runs it natively, and the
SmoothGrad chunk size measured on the device rather than fixed.

Development and cloud machines differ from one day to the next (Sapphire Rapids with AMX, Zen 3
with AVX2 only, Zen 5 with AVX-512 BF16, H100s): bf16 autocast is 2x faster than fp32 on the
first and third and 7x *slower* on the second, where oneDNN emulates it, and the best chunk size
moves with the cache, the cores and the model.  So neither is a constant (docs/performance.md).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch
from torch import nn

#: Chunk sizes tried at actor start, per device type (images per forward/backward pass).
CHUNK_CANDIDATES = {"cpu": (8, 16, 32, 64, 128, 256, 512), "cuda": (128, 256, 512, 1024, 2048, 4096)}
#: Stop trying larger chunks once one is this much slower per image than the best so far.
_WORSE = 1.15
_chosen: dict[tuple, tuple[int, float]] = {}  # per process: models, device, dtype, threads -> (chunk, s/image)
_choices: dict[tuple, tuple[str, int]] = {}  # per process: the same and what was asked -> (precision, chunk)
_fits: dict[str, int] = {}  # per process: device -> the largest chunk known not to run out of its memory


#: What the device's libraries say when memory runs out outside torch's caching allocator: a kernel's
#: "CUDA error: out of memory" (an ``AcceleratorError``), cuBLAS's and cuDNN's ``*_STATUS_ALLOC_FAILED``
#: (seen on an H200 shared with another process: ``cublasCreate`` failed in the chunk search), the CPU's.
_OUT_OF_MEMORY = ("out of memory", "ALLOC_FAILED", "can't allocate memory")


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is the device running out of memory: the caching allocator's
    ``OutOfMemoryError``, or one of ``_OUT_OF_MEMORY`` from a kernel or a library."""
    return isinstance(exc, torch.cuda.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and any(s in str(exc) for s in _OUT_OF_MEMORY))


def chunk_that_fits(device: str | torch.device, chunk: int) -> int:
    """``chunk``, or less where a larger one already ran out of memory on ``device`` in this process."""
    return min(chunk, _fits.get(str(torch.device(device)), chunk))


def _release_cached_memory(device: torch.device) -> None:
    """Hand the caching allocator's free blocks back to the GPU after running out of its memory,
    so that what comes next (a smaller chunk, cuBLAS's own allocations) can have them."""
    if device.type == "cuda":
        torch.cuda.empty_cache()


def smaller_chunk_after_out_of_memory(device: str | torch.device, chunk: int) -> int:
    """The chunk (>= 2) to retry with after ``chunk`` ran out of memory on ``device``: half of it,
    kept for the process so later batches start there.  The measured chunk can be too large in a
    run: on CUDA the members' passes overlap on their own streams, other processes share the GPU,
    and memory fragments.  Chunk size changes speed, never results."""
    device = torch.device(device)
    _release_cached_memory(device)
    _fits[str(device)] = chunk // 2
    return chunk // 2


def native_bf16(device: str | torch.device) -> tuple[bool, str]:
    """Whether ``device`` computes bf16 natively, and the evidence (for logs and provenance)."""
    device = torch.device(device)
    if device.type == "cuda":
        ok = torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
        return ok, f"CUDA {torch.cuda.get_device_name(device) if torch.cuda.is_available() else '?'}: " \
                   f"bf16 {'native' if ok else 'not native'}"
    if device.type == "cpu":
        probes = (("AMX", "_is_amx_tile_supported"), ("AVX-512 BF16", "_is_avx512_bf16_supported"))
        have = [name for name, probe in probes if getattr(torch.cpu, probe, lambda: False)()]
        return bool(have), f"CPU with {' and '.join(have)}" if have else "CPU without AMX or AVX-512 BF16"
    return False, f"{device.type}: bf16 not assumed"


def resolve_precision(precision: str, device: str | torch.device) -> str:
    """``"auto"`` becomes ``"bf16"`` where the device runs it natively, else ``"fp32"``; others pass.

    This is the hardware's answer only; ``choose`` also measures whether bf16 is faster for the
    models at hand (on AMX, bf16 is slower than fp32 for some small SiLU networks).

    Raises
    ------
    ValueError
        For a precision that is not auto, fp32 or bf16.
    """
    if precision == "auto":
        return "bf16" if native_bf16(device)[0] else "fp32"
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be auto, fp32 or bf16, got {precision!r}")
    return precision


def autocast_dtype(precision: str, device: str | torch.device) -> torch.dtype | None:
    """The autocast dtype of a precision on ``device``: bfloat16 or None (fp32)."""
    return torch.bfloat16 if resolve_precision(precision, device) == "bf16" else None


def _pass_seconds(models: Sequence[nn.Module], x: torch.Tensor, target: int, dtype: torch.dtype | None) -> float:
    """Seconds for one SmoothGrad forward/backward of ``x`` through every model."""
    device = x.device
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    for model in models:
        part = x.detach().requires_grad_(True)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            score = model(part)[:, target].float().sum()
        torch.autograd.grad(score, part)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - t0


def measure_chunk_size(models: Sequence[nn.Module], *, input_size: int, device: str | torch.device,
                       dtype: torch.dtype | None = None, target: int = 0,
                       candidates: Sequence[int] | None = None, budget_s: float = 10.0) -> int:
    """The chunk size with the most images per second for these models on this device.

    Times one forward/backward pass per candidate, from the smallest up, each after an untimed
    pass of the same shape (oneDNN and cuDNN choose kernels per shape); stops when a chunk is
    ``_WORSE`` slower per image than the best, runs out of device memory, or would take the
    measurement past ``budget_s``.  The answer is kept for the process (one
    measurement per actor and ensemble).  Chunk size changes speed, never results.
    """
    return _measure(models, input_size=input_size, device=device, dtype=dtype, target=target,
                    candidates=candidates, budget_s=budget_s)[0]


def _measure(models: Sequence[nn.Module], *, input_size: int, device: str | torch.device, dtype: torch.dtype | None,
             target: int, candidates: Sequence[int] | None, budget_s: float) -> tuple[int, float]:
    """(the fastest chunk, its seconds per image): ``measure_chunk_size``'s work, kept per process."""
    device = torch.device(device)
    key = (tuple(id(m) for m in models), input_size, str(device), dtype, torch.get_num_threads(),
           tuple(sorted(candidates)) if candidates else None)  # a fixed-chunk timing is not a search
    if key in _chosen:
        return _chosen[key]
    candidates = sorted(candidates or CHUNK_CANDIDATES.get(device.type, CHUNK_CANDIDATES["cpu"]))
    gen = torch.Generator(device=device).manual_seed(0)

    def batch(n: int) -> torch.Tensor:
        x = torch.rand((n, 3, input_size, input_size), generator=gen, device=device)
        return x.contiguous(memory_format=torch.channels_last)

    def per_image_or_none(n: int) -> float | None:
        """Seconds per image at chunk ``n``, or None where it runs out of the device's memory."""
        try:
            x = batch(n)
            _pass_seconds(models, x, target, dtype)  # a new shape: kernels chosen, memory allocated
            return _pass_seconds(models, x, target, dtype) / n
        except RuntimeError as exc:  # OutOfMemoryError is one
            if not is_out_of_memory(exc):
                raise
            _release_cached_memory(device)
            return None

    t_start = time.perf_counter()
    best, best_per_image = candidates[0], float("inf")
    for n in candidates:
        spent = time.perf_counter() - t_start
        if best_per_image < float("inf") and spent + 2 * n * best_per_image > budget_s:
            break  # this candidate's two passes would overrun the budget
        per_image = per_image_or_none(n)
        if per_image is None:
            break
        if per_image < best_per_image:
            best, best_per_image = n, per_image
        elif per_image > _WORSE * best_per_image:
            break
    n = candidates[0] // 2
    while best_per_image == float("inf") and n >= 1:  # not even the smallest candidate fits: halve it
        per_image = per_image_or_none(n)
        if per_image is not None:
            best, best_per_image = n, per_image
        n //= 2
    _chosen[key] = best, best_per_image
    return _chosen[key]


def _capped(device: str | torch.device, max_chunk: int | None) -> list[int] | None:
    """The device's chunk candidates up to ``max_chunk``, and ``max_chunk`` itself (None: all of them)."""
    if not max_chunk:
        return None
    if max_chunk < 1:
        raise ValueError(f"max_chunk must be >= 1, got {max_chunk}")
    allowed = CHUNK_CANDIDATES.get(torch.device(device).type, CHUNK_CANDIDATES["cpu"])
    return sorted({c for c in allowed if c < max_chunk} | {min(max_chunk, max(allowed))})


def choose(models: Sequence[nn.Module], *, input_size: int, device: str | torch.device, precision: str,
           chunk_size: int, target: int = 0, budget_s: float = 10.0,
           max_chunk: int | None = None) -> tuple[str, int]:
    """The (precision, chunk size) to run: ``precision`` "auto" and ``chunk_size`` 0 decided here.

    "auto" is fp32 on hardware without native bf16.  Where bf16 is native, both are timed (each
    at its best chunk, or at the given one) and the faster is kept: native bf16 is not faster for
    every network.  Kept per process, so an actor measures once.  ``max_chunk``: the most images
    one SmoothGrad call will hold (galaxies per call x N); larger candidates are not timed, since
    they would never run (a small job then starts in a fraction of the search's time).

    Raises
    ------
    ValueError
        For a precision that is not auto, fp32 or bf16.
    """
    key = (tuple(id(m) for m in models), input_size, str(device), torch.get_num_threads(), precision, chunk_size,
           max_chunk)
    if key in _choices:
        return _choices[key]
    options = ["fp32", "bf16"] if precision == "auto" and native_bf16(device)[0] else [resolve_precision(precision,
                                                                                                        device)]
    if len(options) == 1 and chunk_size:
        return options[0], chunk_size
    timed = {}
    for p in options:
        dtype = torch.bfloat16 if p == "bf16" else None
        timed[p] = _measure(models, input_size=input_size, device=device, dtype=dtype, target=target,
                            candidates=[chunk_size] if chunk_size else _capped(device, max_chunk),
                            budget_s=budget_s / len(options))
    best = min(timed, key=lambda p: timed[p][1])
    _choices[key] = best, timed[best][0]
    return _choices[key]
