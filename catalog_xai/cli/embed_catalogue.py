"""Map a catalogue's embeddings to 2-D, label seed 004's five classes and flag outliers; or find look-alikes.

    python jobs/classify_survey.py --input S --output runs/cat --save-embeddings
    python jobs/embed_catalogue.py --catalogue runs/cat --output runs/cat-map
    python jobs/embed_catalogue.py --catalogue runs/cat --like 587722981736120347 --k 10

Reads ``<catalogue>/_embeddings/`` (each galaxy's pooled last-layer features per ensemble
member, written by the survey job with --save-embeddings) and the catalogue's fractions.
Writes under --output ``embedding_map.parquet`` (objid, embedding_x/y, morphology_class from
the ensemble, morphology_class_votes from the volunteers where the catalogue carries votes,
outlier_score, outlier_flag), ``embedding_map.png`` and ``embedding_map.json`` (the t-SNE run:
backend, perplexity, seed, seconds).  An outlier is a galaxy whose class differs from that
of most of its k nearest neighbours in the 2-D map: a mislabel candidate (seed 004 §3).
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from catalog_xai import columns as C
from catalog_xai import storage
from catalog_xai.cluster.maps import read_embeddings
from catalog_xai.core import embedding as E


def read_features(url: str, so: dict | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
    """(objids, each member's (n, F_m) features) from a catalogue's ``_embeddings/``.

    Raises
    ------
    SystemExit
        If the catalogue has no embeddings (it was not made with --save-embeddings).
    """
    emb_url = storage.join(url, C.EMBEDDINGS_DIR)
    fs, path = storage.filesystem(emb_url, so)
    shards = storage.list_shards(emb_url, so) if fs.exists(path) else []
    if not shards:
        raise SystemExit(f"error: no embeddings under {emb_url}: run the survey job with --save-embeddings")
    ids, feats = [], []
    for shard in shards:
        sfs, spath = storage.filesystem(shard, so)
        with sfs.open(spath, "rb") as f:
            i, fm = read_embeddings(pq.read_table(f))
        if len(i):
            ids.append(i)
            feats.append(fm)
    if not ids:
        raise SystemExit(f"error: the embeddings under {emb_url} hold no galaxy (every row failed?)")
    return np.concatenate(ids), [np.concatenate([f[m] for f in feats]) for m in range(len(feats[0]))]


def read_fractions(url: str, objids: np.ndarray, so: dict | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Predicted per-question fractions and, where the catalogue carries votes, the observed ones, row-aligned
    to ``objids`` (NaN rows for galaxies not found)."""
    from catalog_xai.cli.rank_disagreements import read_catalogue_votes

    cat = read_catalogue_votes(url, so, require_votes=False)
    ids, pred_by, obs_by = cat["objid"], cat["predicted"], cat["observed"]
    where = {int(o): i for i, o in enumerate(ids)}
    rows = np.array([where.get(int(o), -1) for o in objids])
    pad = lambda a: np.vstack([a, np.full((1, a.shape[1]), np.nan)])[rows]  # noqa: E731  (row -1: not found)
    return pad(pred_by), None if obs_by is None else pad(obs_by)


def embed(ids: np.ndarray, feats: list[np.ndarray], predicted: np.ndarray, observed: np.ndarray | None, *,
          perplexity: float, seed: int, backend: str, pca: int, k: int, threshold: float,
          n_jobs: int = 1) -> tuple[pa.Table, dict, np.ndarray]:
    """The embedding-map table, the t-SNE run's description, and the labels the outliers were judged by."""
    x = E.reduce(E.combine_members(feats), pca, seed)
    xy, info = E.tsne(x, perplexity=perplexity, seed=seed, backend=backend, n_jobs=n_jobs)
    cls_pred = E.five_class(predicted)
    cls_votes = E.five_class(observed) if observed is not None else np.full(len(ids), E.NO_CLASS)
    judged = np.where(cls_votes != E.NO_CLASS, cls_votes, cls_pred) if observed is not None else cls_pred
    score = E.outlier_scores(xy, judged, k=k)
    flag = np.where(np.isfinite(score), score >= threshold, False)
    name = lambda c: np.array([E.CLASS_NAMES[v] if v >= 0 else None for v in c], dtype=object)  # noqa: E731
    table = pa.table({
        C.OBJID: pa.array(ids.astype(np.int64)),
        C.EMBEDDING_X: pa.array(xy[:, 0]), C.EMBEDDING_Y: pa.array(xy[:, 1]),
        C.MORPHOLOGY_CLASS: pa.array(name(cls_pred), pa.string()),
        C.MORPHOLOGY_CLASS_VOTES: pa.array(name(cls_votes), pa.string()),
        C.OUTLIER_SCORE: pa.array(score.astype(np.float32), mask=~np.isfinite(score)),
        C.OUTLIER_FLAG: pa.array(flag),
    })
    info.update(pca_dims=int(x.shape[1]), k=k, outlier_threshold=threshold, flagged=int(flag.sum()),
                labels="volunteers where voted, else ensemble" if observed is not None else "ensemble")
    return table, info, judged


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--catalogue", required=True, help="catalogue prefix made with --save-embeddings")
    ap.add_argument("--output", help="directory (local or fsspec URL) for the map, table and figure")
    ap.add_argument("--perplexity", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=0, help="t-SNE and PCA seed: the same seed gives the same map")
    ap.add_argument("--backend", default="auto", choices=E.TSNE_BACKENDS,
                    help="auto: openTSNE (FFT-accelerated) where installed, else scikit-learn")
    ap.add_argument("--pca", type=int, default=50, help="PCA dimensions before t-SNE")
    ap.add_argument("--k", type=int, default=10, help="neighbours for the outlier score and for --like")
    ap.add_argument("--outlier-threshold", type=float, default=0.7,
                    help="flag a galaxy when at least this fraction of its neighbours has another class")
    ap.add_argument("--like", type=int, metavar="OBJID", help="print the k galaxies that look most like this one")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--storage-options", default={}, type=json.loads)
    args = ap.parse_args(argv)
    so = storage.check_storage_options(args.storage_options)
    ids, feats = read_features(args.catalogue, so)
    if args.like is not None:
        hit = np.flatnonzero(ids == args.like)
        if not len(hit):
            print(f"error: objid {args.like} has no embedding in {args.catalogue}", file=sys.stderr)
            return 2
        idx, dist = E.similar(E.combine_members(feats), int(hit[0]), k=args.k)
        print(f"galaxies that look like {args.like} (cosine distance of the ensemble features):")
        for i, d in zip(idx, dist):
            print(f"  {int(ids[i])}  {d:.4f}")
        return 0
    if not args.output:
        ap.error("--output is required unless --like is given")
    predicted, observed = read_fractions(args.catalogue, ids, so)
    table, info, judged = embed(ids, feats, predicted, observed, perplexity=args.perplexity, seed=args.seed,
                                backend=args.backend, pca=args.pca, k=args.k, threshold=args.outlier_threshold,
                                n_jobs=args.threads)
    from catalog_xai.core.figures import embedding_map

    fs, out = storage.filesystem(args.output, so)
    fs.makedirs(out, exist_ok=True)
    with fs.open(f"{out}/embedding_map.parquet", "wb") as f:
        pq.write_table(table, f)
    xy = np.stack([table.column(C.EMBEDDING_X).to_numpy(), table.column(C.EMBEDDING_Y).to_numpy()], 1)
    fig = embedding_map(xy, judged, E.CLASS_NAMES, table.column(C.OUTLIER_FLAG).to_numpy(zero_copy_only=False),
                        title=f"t-SNE ({info['backend']}, perplexity {info['perplexity']:g}, seed {info['seed']}) "
                              f"of {info['n']} galaxies; classes: {info['labels']}")
    with fs.open(f"{out}/embedding_map.png", "wb") as f:
        fig.savefig(f, format="png", dpi=110)
    storage.write_json(info, storage.join(args.output, "embedding_map.json"), so)
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
