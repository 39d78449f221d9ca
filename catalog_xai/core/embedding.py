"""Embeddings of the catalogue (seed 004): a 2-D map, a five-class label, outliers, look-alikes.

Pure numpy / scikit-learn / openTSNE.  The embedding of a galaxy is the pooled last-layer
features of each ensemble member (``Ensemble.embed``), each member's block standardised and
scaled to unit total variance so that members count alike, then reduced by PCA before t-SNE
(the usual practice: it removes noise dimensions and makes the neighbour search cheap).

Seed 004's classes (its Table 1: the GZ2 clean-sample cuts of Willett et al. 2013, smooth
loosened to 0.469) are read from per-question vote fractions.  A galaxy whose label
disagrees with most of its neighbours in the embedding is a mislabel candidate: its
outlier score is the fraction of its k nearest neighbours with another label.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from .. import columns as C

CLASS_NAMES = ("completely_round_smooth", "in_between_smooth", "cigar_shaped_smooth", "edge_on", "spiral")
NO_CLASS = -1
#: (answer column, minimum per-question fraction) for each of seed 004's classes (its Table 1).
CLASS_RULES: tuple[tuple[tuple[str, float], ...], ...] = (
    (("smooth_or_featured_smooth", 0.469), ("how_rounded_completely", 0.50)),
    (("smooth_or_featured_smooth", 0.469), ("how_rounded_in_between", 0.50)),
    (("smooth_or_featured_smooth", 0.469), ("how_rounded_cigar_shaped", 0.50)),
    (("smooth_or_featured_features_or_disk", 0.430), ("edge_on_yes", 0.602)),
    (("smooth_or_featured_features_or_disk", 0.430), ("edge_on_no", 0.715), ("spiral_arms_yes", 0.619)),
)
TSNE_BACKENDS = ("auto", "opentsne", "sklearn")


def five_class(per_question: np.ndarray) -> np.ndarray:
    """(n, 37) per-question fractions -> (n,) class index (``CLASS_NAMES``), ``NO_CLASS`` where no rule fires.

    The smooth and featured cuts (0.469 + 0.430 < 1) can both pass; then the class of the
    larger of the two first-question fractions is kept, so every galaxy gets at most one.
    """
    f = np.asarray(per_question, float)
    idx = {name: j for j, name in enumerate(C.ANSWER_NAMES)}
    fired = np.stack([np.all([np.nan_to_num(f[:, idx[a]], nan=-1) >= t for a, t in rule], axis=0)
                      for rule in CLASS_RULES], axis=1)  # (n, 5)
    smooth_wins = np.nan_to_num(f[:, idx["smooth_or_featured_smooth"]]) >= np.nan_to_num(
        f[:, idx["smooth_or_featured_features_or_disk"]])
    prefer = np.where(smooth_wins[:, None], [True, True, True, False, False], [False, False, False, True, True])
    ranked = fired & prefer
    ranked = np.where(ranked.any(axis=1, keepdims=True), ranked, fired)
    return np.where(ranked.any(axis=1), np.argmax(ranked, axis=1), NO_CLASS)


def combine_members(features: Sequence[np.ndarray]) -> np.ndarray:
    """Members' (n, F_m) features -> one (n, sum F_m) float32 matrix, each member's block
    standardised per feature and scaled to unit total variance."""
    blocks = []
    for f in features:
        f = np.asarray(f, np.float32)
        sd = f.std(axis=0)
        z = (f - f.mean(axis=0)) / np.where(sd > 0, sd, 1)
        blocks.append(z / np.sqrt(max(f.shape[1], 1)))
    return np.concatenate(blocks, axis=1)


def reduce(features: np.ndarray, n_components: int = 50, seed: int = 0) -> np.ndarray:
    """PCA to at most ``n_components`` dimensions (fewer for small catalogues)."""
    from sklearn.decomposition import PCA

    k = int(min(n_components, features.shape[1], max(len(features) - 1, 1)))
    return PCA(n_components=k, random_state=seed).fit_transform(features).astype(np.float32)


def tsne(x: np.ndarray, *, perplexity: float = 30.0, seed: int = 0, backend: str = "auto",
         n_jobs: int = 1) -> tuple[np.ndarray, dict]:
    """2-D t-SNE of ``x`` (n, d) with a fixed seed; returns (coordinates, what was run).

    ``auto`` uses openTSNE (FFT-accelerated interpolation: O(n) per iteration, the fast choice
    at 1e5 points) when installed, else scikit-learn's Barnes-Hut (O(n log n)).  Perplexity is
    capped below n / 3 for tiny catalogues, as both libraries require.

    Raises
    ------
    ValueError
        If ``backend`` is unknown, or is "opentsne" and openTSNE is not installed.
    """
    if backend not in TSNE_BACKENDS:
        raise ValueError(f"unknown t-SNE backend {backend!r}; known: {TSNE_BACKENDS}")
    if backend == "auto":
        try:
            import openTSNE  # noqa: F401

            backend = "opentsne"
        except ImportError:
            backend = "sklearn"
    perp = float(min(perplexity, max((len(x) - 1) / 3.0 - 1e-6, 1.0)))
    t0 = time.perf_counter()
    if backend == "opentsne":
        try:
            from openTSNE import TSNE as OpenTSNE
        except ImportError as e:
            raise ValueError("t-SNE backend 'opentsne' needs openTSNE (pip install openTSNE)") from e
        y = np.asarray(OpenTSNE(perplexity=perp, random_state=seed, n_jobs=n_jobs, initialization="pca",
                                verbose=False).fit(np.asarray(x, np.float64)))
    else:
        from sklearn.manifold import TSNE

        y = TSNE(perplexity=perp, random_state=seed, init="pca", n_jobs=n_jobs).fit_transform(x)
    info = {"backend": backend, "perplexity": perp, "seed": seed, "n": len(x), "dims": int(x.shape[1]),
            "seconds": round(time.perf_counter() - t0, 2)}
    return y.astype(np.float32), info


def outlier_scores(coords: np.ndarray, labels: np.ndarray, k: int = 10) -> np.ndarray:
    """For each labelled galaxy, the fraction of its k nearest labelled neighbours (in ``coords``)
    with another label; NaN for galaxies without a label."""
    from sklearn.neighbors import NearestNeighbors

    labels = np.asarray(labels)
    score = np.full(len(labels), np.nan)
    have = np.flatnonzero(labels != NO_CLASS)
    if len(have) < 2:
        return score
    kk = min(k, len(have) - 1)
    nn = NearestNeighbors(n_neighbors=kk + 1).fit(coords[have])
    _, idx = nn.kneighbors(coords[have])
    neigh = labels[have][idx[:, 1:]]  # column 0 is the galaxy itself
    score[have] = (neigh != labels[have][:, None]).mean(axis=1)
    return score


def similar(features: np.ndarray, query: int | np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """The k galaxies that look most like ``query`` (a row index, or a feature vector), by cosine
    distance of their embeddings; returns (row indices, distances), nearest first, the query excluded."""
    from sklearn.neighbors import NearestNeighbors

    features = np.asarray(features, np.float32)
    q = features[query][None] if np.ndim(query) == 0 else np.asarray(query, np.float32)[None]
    extra = 1 if np.ndim(query) == 0 else 0
    nn = NearestNeighbors(n_neighbors=min(k + extra, len(features)), metric="cosine").fit(features)
    dist, idx = nn.kneighbors(q)
    dist, idx = dist[0], idx[0]
    if extra:
        keep = idx != int(query)
        dist, idx = dist[keep][:k], idx[keep][:k]
    return idx, dist
