"""GZ2 label arithmetic: survey vote tables -> the 37 cumulative (Kaggle) vote fractions.

Pure numpy/pandas, kept apart from the importers so the tree algebra can be tested and reused
without files: the importers read the tables, this module turns their columns into labels.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from .. import columns as C

#: What a question nobody answered gets: NaN, or 0 where its parent answer's fraction is 0.
UNREACHED_POLICIES = ("nan", "zero")

_Q_INDEX = {q.name: i for i, q in enumerate(C.GZ2_TREE)}
_SLICES = C.question_slices()


def cumulative_from_conditional(per_question: np.ndarray, votes: np.ndarray | None = None, *,
                                unreached: str = "nan") -> np.ndarray:
    """The 37 cumulative (Kaggle) fractions from per-question fractions, down the GZ2 tree.

    ``per_question`` (n, 37): each question's answer fractions *among the volunteers who
    answered that question* (any positive scale: each question's block is renormalised to
    sum to 1, which Hart et al.'s debiased fractions do not); NaN for a question the source
    does not have.  ``votes`` (n, 11): number of volunteers who answered each question, or
    NaN where unknown.  cumulative(answer) = fraction(answer) x cumulative(parent answer);
    the roots (Q1, Q6) are their own fractions.  A question nobody answered (votes 0 or all
    fractions 0) is NaN, or with ``unreached="zero"`` 0 where its parent answer's
    cumulative fraction is exactly 0 (the Kaggle convention: nobody gave the answer).

    Raises
    ------
    ValueError
        If ``unreached`` is not one of ``UNREACHED_POLICIES``.
    """
    if unreached not in UNREACHED_POLICIES:
        raise ValueError(f"unreached must be one of {UNREACHED_POLICIES}, got {unreached!r}")
    p = np.asarray(per_question, dtype=np.float64)
    n = p.shape[0]
    cum = np.full((n, C.N_OUTPUTS), np.nan)
    for qi, q in enumerate(C.GZ2_TREE):
        sl = _SLICES[q.name]
        block = p[:, sl]
        present = np.isfinite(block).all(axis=1)
        total = np.where(present, block.sum(axis=1), np.nan)
        usable = present & (total > 0)
        if votes is not None:
            usable &= ~(np.asarray(votes, dtype=np.float64)[:, qi] == 0)
        parent = np.ones(n) if q.parent is None else cum[:, C.KAGGLE_IDS.index(q.parent)]
        with np.errstate(invalid="ignore", divide="ignore"):
            out = block / total[:, None] * parent[:, None]
        out[~usable] = np.nan
        if unreached == "zero":
            out[present & ~usable & (parent == 0)] = 0.0
        cum[:, sl] = out
    return cum


def conditional_from_cumulative(cumulative: np.ndarray) -> np.ndarray:
    """Per-question fractions from cumulative (Kaggle) ones: each question's answers over their sum.

    The inverse of ``cumulative_from_conditional`` for predictions, whose blocks need not sum
    exactly to their parent's fraction.  ``cumulative`` (..., 37); a question whose answers
    sum to 0 gives NaN (no volunteer would be asked it: the fractions are undefined).
    """
    cum = np.asarray(cumulative, dtype=np.float64)
    out = np.full(cum.shape, np.nan)
    for q in C.GZ2_TREE:
        sl = _SLICES[q.name]
        total = cum[..., sl].sum(axis=-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[..., sl] = np.where(total > 0, cum[..., sl] / total, np.nan)
    return out


def unbarred_by_votes(cumulative: np.ndarray, max_bar: float, min_asked: float = 0.1) -> np.ndarray:
    """(N,) bool: galaxies with no bar by their GZ2 votes, from (N, 37) cumulative fractions.

    No bar: the bar question's per-question "yes" fraction is at most ``max_bar``, or fewer than
    ``min_asked`` of the volunteers reached the question (smooth or edge-on).  A galaxy whose bar
    answers are missing (NaN) is not called unbarred: no votes are not evidence of no bar.
    """
    cum = np.asarray(cumulative, dtype=np.float64)
    i_yes, i_no = C.ANSWER_NAMES.index("bar_yes"), C.ANSWER_NAMES.index("bar_no")
    asked = cum[:, i_yes] + cum[:, i_no]
    yes = conditional_from_cumulative(cum)[:, i_yes]
    with np.errstate(invalid="ignore"):
        return np.isfinite(asked) & ((asked < min_asked) | (np.nan_to_num(yes, nan=1.0) <= max_bar))


# ------------------------------------------------------------- Hart et al. (2016) GZ2 table
#: Hart et al. (2016) answer number -> Kaggle answer id (t08 a38 is dust lane, a35 unused).
HART_ANSWERS = {
    "a01": "1.1", "a02": "1.2", "a03": "1.3", "a04": "2.1", "a05": "2.2", "a06": "3.1", "a07": "3.2",
    "a08": "4.1", "a09": "4.2", "a10": "5.1", "a11": "5.2", "a12": "5.3", "a13": "5.4", "a14": "6.1",
    "a15": "6.2", "a16": "7.1", "a17": "7.2", "a18": "7.3", "a19": "8.1", "a20": "8.2", "a21": "8.3",
    "a22": "8.4", "a23": "8.5", "a24": "8.6", "a38": "8.7", "a25": "9.1", "a26": "9.2", "a27": "9.3",
    "a28": "10.1", "a29": "10.2", "a30": "10.3", "a31": "11.1", "a32": "11.2", "a33": "11.3",
    "a34": "11.4", "a36": "11.5", "a37": "11.6",
}
_HART_COL = re.compile(r"^t(\d\d)_(.+?)_(a\d\d)_(.+?)_(weighted_fraction|fraction|weight|count|debiased|flag)$")


def parse_hart_columns(header: list[str]) -> dict[str, dict[str, str]]:
    """{Kaggle id: {kind: column}} for the Hart et al. 2016 vote columns of a table,
    matched on the ``tNN_..._aNN_`` prefix (the task number must agree with the answer's)."""
    out: dict[str, dict[str, str]] = {}
    for col in header:
        m = _HART_COL.match(col)
        if not m:
            continue
        task, _, ans, _, kind = m.groups()
        kid = HART_ANSWERS.get(ans)
        if kid is None or int(task) != int(kid.split(".")[0]):
            continue
        out.setdefault(kid, {})[kind] = col
    return out


# ------------------------------------------------------------------ GZ DECaLS vote tables
#: GZ DECaLS / DESI question names; columns starting with "<question>_" are vote columns.
DECALS_QUESTIONS = ("smooth-or-featured", "disk-edge-on", "has-spiral-arms", "bar", "bulge-size", "how-rounded",
                    "edge-on-bulge", "spiral-winding", "spiral-arm-count", "merging", "problem")
#: GZ2 question -> (DECaLS question, [[DECaLS answers summed into each GZ2 answer], ...]).
DECALS_TO_GZ2 = {
    "smooth_or_featured": ("smooth-or-featured", [["smooth"], ["featured-or-disk"], ["artifact"]]),
    "edge_on": ("disk-edge-on", [["yes"], ["no"]]),
    "bar": ("bar", [["strong", "weak", "yes"], ["no"]]),  # DR5: strong/weak/no; DR1-2: yes/no
    "spiral_arms": ("has-spiral-arms", [["yes"], ["no"]]),
}


def _numeric(df: pd.DataFrame, col: str) -> np.ndarray:
    """A column as float64, anything unparsable NaN (the vote CSVs hold blanks)."""
    return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _decals_labels(df: pd.DataFrame, unreached: str) -> np.ndarray:
    """The 37 cumulative labels of a chunk of a GZ DECaLS vote CSV, through ``DECALS_TO_GZ2``;
    questions the CSV lacks (and the 29 DECaLS asks differently) are NaN."""
    n = len(df)
    per_q = np.full((n, C.N_OUTPUTS), np.nan)
    votes = np.full((n, len(C.GZ2_TREE)), np.nan)
    for qname, (dq, answers) in DECALS_TO_GZ2.items():
        sl = _SLICES[qname]
        cols = [[f"{dq}_{a}" for a in group if f"{dq}_{a}" in df.columns] for group in answers]
        if not all(cols):
            continue  # this CSV does not have the question (or not in a form we know)
        groups = [np.stack([_numeric(df, c) for c in group]) for group in cols]
        # answers summed over the columns present; a group with no value at all stays NaN
        block = np.stack([np.where(np.isfinite(g).any(axis=0), np.nansum(g, axis=0), np.nan) for g in groups], axis=1)
        per_q[:, sl] = block
        votes[:, _Q_INDEX[qname]] = block.sum(axis=1)
    return cumulative_from_conditional(per_q, votes, unreached=unreached)


def decals_pixel_scale_from_petro(petro_th50: ArrayLike, petro_th90: ArrayLike, minimum: float = 0.1) -> np.ndarray:
    """Arcsec/pixel of the GZ DECaLS 424x424 cutouts as the GZ DECaLS download code sets it:
    max(min(0.04 petro_th50, 0.02 petro_th90), 0.1) (willettk/decals,
    download_images_threaded.py).  Check it for your data release before relying on it."""
    with np.errstate(invalid="ignore"):
        s = np.minimum(0.04 * np.asarray(petro_th50, float), 0.02 * np.asarray(petro_th90, float))
        return np.where(np.isfinite(s), np.maximum(s, minimum), np.nan)
