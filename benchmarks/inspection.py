"""Issue 15 checks with known truth, and t-SNE speed.

    python -m benchmarks inspection_truth   # planted label flips and contradictions on generated galaxies
    python -m benchmarks inspection_real    # the real SDSS cutouts: disagreement vs votes, top-10 figure
    python -m benchmarks tsne               # t-SNE seconds at 1e4 and 1e5 points, openTSNE and scikit-learn

inspection_truth: a generated survey (simulated volunteers give vote counts) goes through the
shard processor with --save-embeddings.  Then, in a copy of the catalogue's vote columns,
(a) a few percent of the galaxies with a seed-004 class get the votes of a galaxy of another
class (a label flip: the image says one class, the votes another), and (b) as many others
get one thinly voted question (at most 3 votes) whose votes all go to the answer the
ensemble finds least likely (a planted contradiction).  Recall at K: the fraction of the
planted galaxies among the top K outlier scores / disagreement scores, K = the number
planted (and 2x), beside what a random ranking gives (K / n).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np


def add_parser(sub) -> None:
    p = sub.add_parser("inspection_truth", help="recall of planted flips and contradictions (issue 15)")
    p.add_argument("--workdir", default="runs/inspect")
    p.add_argument("--galaxies", type=int, default=1024)
    p.add_argument("--seed", type=int, default=23)
    p.add_argument("--checkpoint", default="synthetic-small")
    p.add_argument("--planted-fraction", type=float, default=0.03)
    p.add_argument("--perplexity", type=float, default=30.0)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--max-p", type=float, default=0.05,
                   help="a planted contradiction goes to an answer the ensemble gives at most this fraction")
    p = sub.add_parser("inspection_real", help="disagreement on the real SDSS cutouts (issue 15)")
    p.add_argument("--workdir", default="runs/inspect_real")
    p.add_argument("--survey", default="runs/surveys/sdss740")
    p.add_argument("--checkpoint", default="sdss-finetuned")
    p.add_argument("--top", type=int, default=10)
    p = sub.add_parser("inspection_dirichlet", help="Dirichlet uncertainties on the held-out real cutouts")
    p.add_argument("--survey", default="runs/surveys/sdss740")
    p.add_argument("--checkpoint", default="sdss-dirichlet")
    p.add_argument("--compare", default="sdss-finetuned")
    p.add_argument("--min-votes", type=int, default=10)
    p = sub.add_parser("tsne", help="t-SNE run time at 1e4 and 1e5 points (issue 15)")
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--backends", nargs="+", default=["opentsne", "sklearn"])
    p.add_argument("--skip-sklearn-above", type=int, default=100_000,
                   help="do not run scikit-learn above this many points")
    p.add_argument("--threads", type=int, default=2)


def _catalogue(survey: Path, out: Path, checkpoint: str, embeddings: bool = True) -> None:
    from catalog_xai import storage
    from catalog_xai.cluster.shard import process_shard
    from catalog_xai.core.params import MethodParams

    ens = storage.load_ensemble(checkpoint)
    params = MethodParams(n_samples=1, precision="fp32", chunk_size=64)  # SmoothGrad is not what is checked here
    for shard in storage.list_shards(str(survey)):
        res = process_shard(shard, input_url=str(survey), output_url=str(out), ensemble=ens, params=params,
                            batch_size=64, save_embeddings=embeddings)
        assert not res.error, res.error


def _recall(scores: np.ndarray, planted: np.ndarray, k: int) -> float:
    order = np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable")[:k]
    return float(np.isin(order, planted).sum() / len(planted))


def bench_inspection_truth(args) -> None:
    import pyarrow.parquet as pq

    from catalog_xai import columns as C
    from catalog_xai.cli.embed_catalogue import embed, read_features
    from catalog_xai.cli.rank_disagreements import rank, read_catalogue_votes
    from catalog_xai.core import disagreement
    from catalog_xai.core import embedding as E
    from catalog_xai.importers.synthetic import generate_survey

    from .__main__ import _save

    work = Path(args.workdir)
    survey, cat_dir = work / f"survey-{args.galaxies}-{args.seed}", work / f"catalogue-{args.checkpoint}"
    t0 = time.perf_counter()
    if not survey.exists():
        generate_survey(str(survey), n_galaxies=args.galaxies, shard_size=256, seed=args.seed)
    if not cat_dir.exists():
        _catalogue(survey, cat_dir, args.checkpoint)
    prep_s = time.perf_counter() - t0
    cat = read_catalogue_votes(str(cat_dir))
    ids, feats = read_features(str(cat_dir))
    assert (ids == cat["objid"]).all()
    counts = np.concatenate([np.stack([pq.read_table(f).column(c).to_numpy().astype(float)
                                       for c in C.VOTE_COUNT_COLUMNS], 1) for f in sorted(cat_dir.glob("*.parquet"))])
    rng = np.random.default_rng(args.seed)
    n = len(ids)
    n_plant = max(1, int(round(args.planted_fraction * n)))
    classes = E.five_class(cat["observed"])
    labelled = np.flatnonzero(classes != E.NO_CLASS)
    flips = rng.choice(labelled, n_plant, replace=False)
    planted_counts = counts.copy()
    for g in flips:  # the votes of a galaxy of another class
        donors = labelled[classes[labelled] != classes[g]]
        planted_counts[g] = counts[rng.choice(donors)]
    # contradictions: among the others, one thinly voted question's votes all go to the least likely answer
    slices = list(C.question_slices().values())
    contra, answers = [], []
    for g in rng.permutation(np.setdiff1d(np.arange(n), flips)):
        # thinly voted, and the ensemble sure the answer is wrong: a contradiction, not a close call
        thin = [sl for sl in slices
                if 1 <= counts[g, sl].sum() <= 3 and cat["predicted"][g, sl].min() <= args.max_p]
        if not thin:
            continue
        sl = thin[rng.integers(len(thin))]
        a = sl.start + int(np.argmin(cat["predicted"][g, sl]))
        planted_counts[g, sl] = 0
        planted_counts[g, a] = counts[g, sl].sum()
        contra.append(g)
        answers.append(C.ANSWER_NAMES[a])
        if len(contra) == n_plant:
            break
    contra = np.array(contra)
    obs, nq = disagreement.observed_from_counts(planted_counts)
    _, ranked = rank({**cat, "observed": obs, "question_votes": nq}, top=2 * n_plant)
    top_ids = np.array([r["objid"] for r in ranked])
    contra_ids = ids[contra]
    s = disagreement.scores(obs, cat["predicted"], nq)["score"]
    uniform = np.ones(C.N_OUTPUTS)
    variants = {"seed weights, cross_entropy (the default)": s}
    for w_name, w in (("seed weights", None), ("uniform weights", uniform)):
        for measure in disagreement.MEASURES:
            if (w_name, measure) != ("seed weights", "cross_entropy"):
                variants[f"{w_name}, {measure}"] = disagreement.scores(obs, cat["predicted"], nq, w,
                                                                       measure=measure)["score"]
    t1 = time.perf_counter()
    table, info, judged = embed(ids, feats, cat["predicted"], obs, perplexity=args.perplexity, seed=args.seed,
                                backend="auto", pca=50, k=args.k, threshold=0.7, n_jobs=2)
    embed_s = time.perf_counter() - t1
    out_map = table.column(C.OUTLIER_SCORE).to_numpy(zero_copy_only=False)
    x = E.reduce(E.combine_members(feats), 50, args.seed)
    out_feat = E.outlier_scores(x, judged, k=args.k)
    rows = []
    checks = [("label flips: outlier score in the t-SNE map", out_map, flips),
              ("label flips: outlier score in the 50-d PCA features", out_feat, flips)]
    checks += [(f"contradictions: {name}", v, contra) for name, v in variants.items()]
    for what, score, planted in checks:
        for k in (len(planted), 2 * len(planted)):
            rows.append({"check": what, "planted": len(planted), "K": k, "recall_at_K": _recall(score, planted, k),
                         "random_ranking": k / n})
    assert set(top_ids[: len(contra)]) <= set(ids) and len(contra_ids) == len(contra)
    _save("inspection_truth", rows, {
        "galaxies": n, "checkpoint": args.checkpoint, "seed": args.seed,
        "tsne": info, "embed_seconds": round(embed_s, 1), "prepare_seconds": round(prep_s, 1),
        "contradicted_answers": sorted(set(answers)),
        "max_p": args.max_p,
        "note": "flips: votes swapped with a galaxy of another seed-004 class; contradictions: a question with "
                "1-3 votes, all moved to the answer the ensemble finds least likely (predicted <= max_p). "
                "The seed's weights put balanced answers at 5x, so a natural thinly voted disagreement on one "
                "of them can outrank a planted one on a weight-1 answer."})


def bench_inspection_real(args) -> None:
    """Disagreement on the real cutouts: the score against the votes behind it, and the top 10 with their maps."""
    import pandas as pd

    from catalog_xai.cli.rank_disagreements import rank, read_catalogue_votes, top_figure
    from catalog_xai.core.figures import _plt

    from .__main__ import _save

    work = Path(args.workdir)
    cat_dir = work / f"catalogue-{args.checkpoint}"
    if not cat_dir.exists():
        _catalogue(Path(args.survey), cat_dir, args.checkpoint, embeddings=False)
    cat = read_catalogue_votes(str(cat_dir))
    table, ranked = rank(cat, args.top)
    df = table.to_pandas()
    df = df[df["disagreement_score"].notna()]
    bins = [0, 5, 10, 20, 40, 1000]
    df["votes_bin"] = pd.cut(df["disagreement_votes"], bins, right=False)
    rows = [{"votes": str(b), "galaxies": int(len(g)), "median_score": float(g["disagreement_score"].median()),
             "top_decile_share": float((g["disagreement_score"] >= df["disagreement_score"].quantile(0.9)).mean())}
            for b, g in df.groupby("votes_bin", observed=True)]
    from scipy.stats import spearmanr

    rho = spearmanr(df["disagreement_votes"], df["disagreement_score"])
    fig = top_figure(ranked, args.survey, args.checkpoint, None)
    figure = Path("docs/figures/disagreement_top10_sdss.png")
    figure.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(figure, dpi=80)
    _plt().close(fig)
    pd.DataFrame(ranked).to_csv(work / "top.csv", index=False)
    _save("inspection_real", rows, {
        "galaxies": int(len(df)), "checkpoint": args.checkpoint,
        "spearman_votes_vs_score": [round(float(rho.statistic), 3), float(rho.pvalue)],
        "top10": [{k: r[k] for k in ("objid", "answer", "observed", "predicted", "votes", "score")} for r in ranked],
        "figure": str(figure),
        "note": "all 740 cutouts, training galaxies of the checkpoint included (the ranking inspects a catalogue, "
                "it is not a held-out score)"})


def bench_inspection_dirichlet(args) -> None:
    """Does the Dirichlet std mean something? On the checkpoint's held-out real galaxies: its rank correlation
    with the error against the volunteers, and how often the error is within the predictive 1-sigma (the
    Dirichlet variance plus the binomial variance of N votes; 68 % if calibrated)."""
    import json

    import torch
    from scipy.stats import spearmanr

    from catalog_xai import columns as C
    from catalog_xai import storage
    from catalog_xai.cli.train_ensemble import load_labelled
    from catalog_xai.core import disagreement, labels

    from .__main__ import _save

    ens, other = storage.load_ensemble(args.checkpoint), storage.load_ensemble(args.compare)
    log = json.loads(Path(storage.builtin_checkpoint_path(args.checkpoint), "training_log.json").read_text())
    x, _, _, k, ids, _ = load_labelled(args.survey, ens.spec, need_counts=True)
    hold = torch.from_numpy(np.isin(ids, log["holdout_objids"]))
    xh = x[hold].float() / 255
    frac, var = ens.predict_moments(xh)
    cond = labels.conditional_from_cumulative(frac.numpy()).mean(0)
    std = np.sqrt(np.nanmean(var.numpy(), 0))
    other_cond = labels.conditional_from_cumulative(other.predict(xh).numpy()).mean(0)
    obs, nq = disagreement.observed_from_counts(k[hold].numpy())
    rows = []
    for name in ("smooth_or_featured_smooth", "edge_on_yes", "bar_yes", "spiral_arms_yes"):
        j = C.ANSWER_NAMES.index(name)
        ok = np.isfinite(obs[:, j]) & (nq[:, j] >= args.min_votes)
        err = np.abs(obs[ok, j] - cond[ok, j])
        m = cond[ok, j]
        predictive = np.sqrt(std[ok, j] ** 2 + m * (1 - m) / nq[ok, j])
        rows.append({"answer": name, "galaxies": int(ok.sum()),
                     "spearman_std_vs_error": float(spearmanr(std[ok, j], err).statistic),
                     "within_1_sigma": float(np.mean(err <= predictive)),
                     "mae": float(err.mean()),
                     f"mae_{args.compare}": float(np.abs(obs[ok, j] - other_cond[ok, j]).mean())})
    _save("inspection_dirichlet", rows, {"checkpoint": args.checkpoint, "held_out": int(hold.sum()),
                                         "min_votes": args.min_votes})


def bench_tsne(args) -> None:
    """Seconds for a 2-D t-SNE of n points in 50 dimensions (PCA output size), clustered like class embeddings."""
    from catalog_xai.core import embedding as E

    from .__main__ import _save

    rows = []
    rng = np.random.default_rng(0)
    for n in args.sizes:
        centres = rng.normal(0, 4, (5, 50))
        x = (centres[rng.integers(0, 5, n)] + rng.normal(0, 1, (n, 50))).astype(np.float32)
        for backend in args.backends:
            if backend == "sklearn" and n > args.skip_sklearn_above:
                rows.append({"points": n, "backend": backend, "seconds": float("nan"), "note": "skipped"})
                continue
            _, info = E.tsne(x, perplexity=30, seed=0, backend=backend, n_jobs=args.threads)
            rows.append({"points": n, "backend": backend, "seconds": info["seconds"], "note": ""})
            print(rows[-1], flush=True)
    _save("tsne", rows, {"dims": 50, "perplexity": 30, "threads": args.threads})
