"""Dirichlet heads: vote counts as a Dirichlet-multinomial per GZ2 question (seed 002 §2, Zoobot).

A member with ``ModelSpec.head == "dirichlet"`` still outputs 37 numbers z, one per answer;
they are read as Dirichlet concentrations alpha = 1 + 100 sigmoid(z) of each question's
answers (Walmsley et al. 2022; seed 002: "the Dirichlet distribution ranges from 1 to 101").
The predicted per-question fraction is the Dirichlet mean alpha_i / sum(alpha) and its
variance says how sure the member is, apart from how much the members disagree.

Pure torch.  The likelihood is that of the raw vote counts, so a galaxy seen by 40
volunteers constrains the model more than one seen by 4, and a question nobody reached
contributes nothing (its counts are all zero).
"""

from __future__ import annotations

import torch

from .. import columns as C

ALPHA_MIN, ALPHA_RANGE = 1.0, 100.0
_SLICES = tuple(C.question_slices().values())
#: For each question, the Kaggle index of the answer that leads to it (None for the roots).
_PARENTS = tuple(None if q.parent is None else C.KAGGLE_IDS.index(q.parent) for q in C.GZ2_TREE)


def _at_least_float32(z: torch.Tensor) -> torch.Tensor:
    return z if z.dtype == torch.float64 else z.float()  # lgamma of counts in half precision is too coarse


def concentrations(z: torch.Tensor) -> torch.Tensor:
    """(..., 37) head outputs -> Dirichlet concentrations in (1, 101)."""
    return ALPHA_MIN + ALPHA_RANGE * torch.sigmoid(z)


def dirichlet_multinomial_nll(z: torch.Tensor, counts: torch.Tensor, *, reduce: bool = True) -> torch.Tensor:
    """Negative log-likelihood of the vote counts under the Dirichlet-multinomial of each question.

    ``z`` (B, 37) head outputs, ``counts`` (B, 37) votes per answer (NaN counts as 0).  Per
    question with N = sum(k) votes and A = sum(alpha)::

        log p(k | alpha) = log N! - sum log k_i! + lgamma(A) - lgamma(N + A)
                           + sum [lgamma(k_i + alpha_i) - lgamma(alpha_i)]

    (``scipy.stats.dirichlet_multinomial.logpmf``).  A question with N = 0 gives exactly 0.
    Returns the sum over questions, averaged over the batch (``reduce``) or per galaxy (B,).
    """
    alpha = concentrations(_at_least_float32(z))
    k = torch.nan_to_num(counts.to(alpha.dtype), nan=0.0).clamp_min(0)
    total = torch.zeros(z.shape[0], dtype=alpha.dtype, device=z.device)
    for sl in _SLICES:
        a, kk = alpha[:, sl], k[:, sl]
        n, a0 = kk.sum(1), a.sum(1)
        logp = (torch.lgamma(n + 1) - torch.lgamma(kk + 1).sum(1) + torch.lgamma(a0) - torch.lgamma(n + a0)
                + (torch.lgamma(kk + a) - torch.lgamma(a)).sum(1))
        total = total - torch.where(n > 0, logp, torch.zeros_like(logp))
    return total.mean() if reduce else total


def per_question_moments(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(..., 37) head outputs -> the Dirichlet mean and variance of each answer's fraction, per question."""
    alpha = concentrations(_at_least_float32(z))
    mean, var = torch.empty_like(alpha), torch.empty_like(alpha)
    for sl in _SLICES:
        a = alpha[..., sl]
        a0 = a.sum(-1, keepdim=True)
        m = a / a0
        mean[..., sl] = m
        var[..., sl] = m * (1 - m) / (a0 + 1)
    return mean, var


def cumulative(per_question: torch.Tensor) -> torch.Tensor:
    """(..., 37) per-question fractions -> cumulative (Kaggle) fractions down the GZ2 tree
    (the torch twin of ``labels.cumulative_from_conditional`` for complete model outputs)."""
    out = torch.empty_like(per_question)
    for sl, parent in zip(_SLICES, _PARENTS):
        block = per_question[..., sl]
        out[..., sl] = block if parent is None else block * out[..., parent : parent + 1]
    return out
