"""Where the models and the volunteers disagree (seed 002 §3): scores, ranking and control galaxies.

Pure numpy.  Fractions are per question (of the volunteers who answered a question, the
fraction giving each answer; NaN where nobody answered), for the volunteers ("observed")
and the ensemble ("predicted").

- Per galaxy and answer, the binary cross-entropy L(y, p) = -y log p - (1 - y) log(1 - p)
  between observed y and predicted p (clipped to [CLIP, 1 - CLIP]), times the answer's
  weight (``columns.DISAGREEMENT_WEIGHTS``: 5 for the seed's balanced answers, else 1).
  The galaxy's score is the maximum over answers, and the answer that gives it.
- Controls for a disputed galaxy g and answer a: the galaxy whose *observed* votes are
  closest to g's observed votes with a set to g's prediction ("what the model thinks it
  is"), and the galaxy whose *predictions* are closest to g's predictions with a set to
  g's observation ("what the volunteers think it is").  Closeness is the seed's weighted
  cross-entropy between vote vectors, with the disputed answer weighted up; it is linear
  in the query, so the search over the whole catalogue is two matrix products per block
  of candidates, not a loop over pairs.
"""

from __future__ import annotations

import numpy as np

from .. import columns as C

#: Fractions are clipped to this distance from 0 and 1 (seed 002: Dirichlet concentrations
#: in [1, 101] keep predictions >= 1/102, so its largest unweighted loss is ~ -log 0.01 = 4.6).
CLIP = 0.01
#: cross_entropy: the seed's; excess: minus the observed fraction's entropy (Bernoulli KL, 0 when
#: they agree); evidence: the excess times the question's votes (a log-likelihood ratio).
MEASURES = ("cross_entropy", "excess", "evidence")
#: In the control search, a candidate's answer that nobody voted on counts as 0.5 (costs log 2).
MISSING_AS = 0.5


def _clip(f: np.ndarray) -> np.ndarray:
    return np.clip(f, CLIP, 1 - CLIP)


def answer_losses(observed: np.ndarray, predicted: np.ndarray, weights: np.ndarray | None = None, *,
                  excess: bool = False, votes: np.ndarray | None = None) -> np.ndarray:
    """(n, 37) weighted binary cross-entropies; NaN where the answer was not observed.

    ``excess``: subtract the entropy of the observed fraction, leaving the Bernoulli KL divergence,
    which is 0 where prediction and observation agree (the seed's cross-entropy is log 2 for an
    agreed 0.5, so split votes rank as disagreements; ``benchmarks inspection_truth`` compares both).
    ``votes`` (n, 37), each answer's question votes: multiply by them, turning the excess into the
    log-likelihood ratio of the votes under the observed vs the predicted fraction (the evidence
    against the model: one dissenting vote weighs less than ten).
    """
    y, p = np.asarray(observed, float), _clip(np.asarray(predicted, float))  # y in [0, 1] needs no clip
    w = np.asarray(C.DISAGREEMENT_WEIGHTS if weights is None else weights, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
        if excess:
            yc = np.clip(y, 1e-12, 1 - 1e-12)
            ce = ce + (yc * np.log(yc) + (1 - yc) * np.log(1 - yc))
        if votes is not None:
            ce = ce * np.asarray(votes, float)
        return w * ce


def scores(observed: np.ndarray, predicted: np.ndarray, question_votes: np.ndarray,
           weights: np.ndarray | None = None, *, measure: str = "cross_entropy") -> dict[str, np.ndarray]:
    """Each galaxy's disagreement: score, the answer index that gives it (-1 if none) and its question's votes.

    ``question_votes`` (n, 37): for each answer, the number of volunteers who answered its
    question (what the observed fraction rests on).  Galaxies with no observed answer get
    NaN, -1 and 0.
    """
    if measure not in MEASURES:
        raise ValueError(f"unknown disagreement measure {measure!r}; known: {MEASURES}")
    losses = answer_losses(observed, predicted, weights, excess=measure != "cross_entropy",
                           votes=question_votes if measure == "evidence" else None)
    losses[~np.isfinite(losses)] = -np.inf
    best = np.argmax(losses, axis=1)
    score = losses[np.arange(len(best)), best]
    none = ~np.isfinite(score)
    votes = np.asarray(question_votes, float)[np.arange(len(best)), best]
    return {"score": np.where(none, np.nan, score), "answer": np.where(none, -1, best),
            "votes": np.where(none, 0, np.nan_to_num(votes)).astype(np.int64)}


def nearest_by_votes(queries: np.ndarray, candidates: np.ndarray, query_weights: np.ndarray,
                     exclude: np.ndarray | None = None, block: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    """For each query vote vector, the candidate with the smallest weighted cross-entropy to it.

    ``queries`` (k, 37) and ``query_weights`` (k, 37) (0 where a query answer is unknown),
    ``candidates`` (n, 37) (NaN answers count as ``MISSING_AS``); ``exclude`` (k,) a candidate
    index each query may not return (itself).  CE(q, c) = -sum w (q log c + (1 - q) log(1 - c))
    is a matrix product in the query, done over blocks of ``block`` candidates, so memory stays
    O(k * block) for catalogues of any length.  Returns (indices, their CE).
    """
    q = np.nan_to_num(_clip(np.asarray(queries, float)))
    w = np.where(np.isfinite(queries), query_weights, 0.0)
    a, b = w * q, w * (1 - q)
    best_i = np.full(len(q), -1, np.int64)
    best_d = np.full(len(q), np.inf)
    for start in range(0, len(candidates), block):
        c = np.asarray(candidates[start : start + block], float)
        c = _clip(np.where(np.isfinite(c), c, MISSING_AS))
        d = -(a @ np.log(c).T + b @ np.log(1 - c).T)  # (k, block)
        if exclude is not None:
            rows = np.flatnonzero((exclude >= start) & (exclude < start + len(c)))
            d[rows, exclude[rows] - start] = np.inf
        j = np.argmin(d, axis=1)
        dj = d[np.arange(len(q)), j]
        better = dj < best_d
        best_i[better], best_d[better] = j[better] + start, dj[better]
    return best_i, best_d


def controls(observed: np.ndarray, predicted: np.ndarray, disputed: np.ndarray, answers: np.ndarray,
             focus_weight: float = 5.0, weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The seed's two control galaxies for each disputed galaxy (indices into the catalogue).

    ``disputed`` (k,) galaxy indices, ``answers`` (k,) their disputed answer.  ``model_like``:
    closest observed votes to the galaxy's observed votes with the answer set to its
    prediction; ``volunteer_like``: closest predictions to its predictions with the answer set
    to its observation.  The disputed answer weighs ``focus_weight`` in the search.
    """
    observed, predicted = np.asarray(observed, float), np.asarray(predicted, float)
    w = np.tile(np.asarray(C.DISAGREEMENT_WEIGHTS if weights is None else weights, float), (len(disputed), 1))
    rows = np.arange(len(disputed))
    w[rows, answers] = focus_weight
    q_obs = observed[disputed].copy()
    q_obs[rows, answers] = predicted[disputed, answers]
    q_pred = predicted[disputed].copy()
    q_pred[rows, answers] = observed[disputed, answers]
    model_like, d_model = nearest_by_votes(q_obs, observed, w, exclude=disputed)
    volunteer_like, d_vol = nearest_by_votes(q_pred, predicted, w, exclude=disputed)
    return {"model_like": model_like, "model_like_ce": d_model,
            "volunteer_like": volunteer_like, "volunteer_like_ce": d_vol}


def observed_from_counts(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, 37) votes per answer -> per-question observed fractions (NaN where nobody answered)
    and, for each answer, the number of volunteers who answered its question."""
    counts = np.nan_to_num(np.asarray(counts, float))
    frac, n_q = np.full(counts.shape, np.nan), np.zeros(counts.shape)
    for sl in C.question_slices().values():
        total = counts[:, sl].sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            frac[:, sl] = np.where(total > 0, counts[:, sl] / total, np.nan)
        n_q[:, sl] = total
    return frac, n_q
