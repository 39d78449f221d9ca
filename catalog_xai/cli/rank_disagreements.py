"""Rank the galaxies where the ensemble and the volunteers disagree most, with control galaxies (seed 002 §3).

    python jobs/rank_disagreements.py --catalogue runs/demo/catalogue --output runs/disagree \
        --survey runs/demo/survey --top 10

Reads a catalogue whose rows carry the volunteers' votes (the survey's ``votes_<answer>_count``
columns, or its ``vote_<answer>_cumulative_fraction`` labels, pass through the survey job)
and writes, under --output:

- ``disagreement.parquet``: every galaxy's ``disagreement_score`` (the largest weighted binary
  cross-entropy between observed and predicted per-question fractions), ``disagreement_answer``
  and ``disagreement_votes`` (volunteers who answered that answer's question);
- ``top.csv``: the top K with, for each, the seed's two controls found over the whole catalogue;
- ``top.png`` (with --survey): each disputed galaxy and its controls, with +score / -score
  class-activation maps of the disputed answer from the ensemble (--checkpoint).
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
from catalog_xai.core import disagreement
from catalog_xai.core.labels import conditional_from_cumulative


def read_catalogue_votes(url: str, so: dict | None = None, *, require_votes: bool = True) -> dict[str, np.ndarray]:
    """objid, predicted per-question fractions and the observed ones (with their question's votes) of a catalogue.

    ``require_votes=False``: a catalogue without votes gives observed and question_votes None.

    Raises
    ------
    SystemExit
        If a shard has no predicted fractions, or (``require_votes``) no votes, naming the shard and the columns.
    """
    ids, pred, obs, nq = [], [], [], []
    for shard in storage.list_shards(url, so):
        fs, path = storage.filesystem(shard, so)
        names = set(pq.read_schema(fs.open(path, "rb")).names)
        if missing := [c for c in C.FRACTION_COLUMNS if c not in names]:
            raise SystemExit(f"error: {shard} is not a catalogue: no {missing[0]} (run cxai-classify first)")
        if all(c in names for c in C.VOTE_COUNT_COLUMNS):
            vote_cols = list(C.VOTE_COUNT_COLUMNS)
        elif all(c in names for c in C.LABEL_COLUMNS):
            vote_cols = list(C.LABEL_COLUMNS)
        elif not require_votes:
            vote_cols = []
        else:
            raise SystemExit(f"error: {shard} carries no volunteer votes: the survey needs votes_<answer>_count or "
                             "vote_<answer>_cumulative_fraction columns (they pass through to the catalogue)")
        t = pq.read_table(fs.open(path, "rb"), columns=[C.OBJID, *C.FRACTION_COLUMNS, *vote_cols])
        ok = np.array([v is not None for v in t.column(C.OBJID).to_pylist()])

        def cols(names, t=t, ok=ok):
            return np.stack([t.column(c).to_numpy(zero_copy_only=False).astype(float) for c in names], 1)[ok]

        ids.append(t.column(C.OBJID).to_numpy(zero_copy_only=False)[ok].astype(np.int64))
        pred.append(cols(C.FRACTION_COLUMNS))
        if not vote_cols:
            o = n = None
        elif vote_cols[0] == C.VOTE_COUNT_COLUMNS[0]:
            o, n = disagreement.observed_from_counts(cols(vote_cols))
        else:  # fractions only: the votes behind them are unknown (reported as 0)
            o, n = conditional_from_cumulative(cols(vote_cols)), np.zeros((ok.sum(), C.N_OUTPUTS))
        obs.append(o)
        nq.append(n)
    if not ids:
        raise SystemExit(f"error: no catalogue shards under {url}")
    if any(o is None for o in obs):  # votes in no shard, or only in some: none used
        obs = nq = None
    return {"objid": np.concatenate(ids), "predicted": np.concatenate(pred),
            "observed": None if obs is None else np.concatenate(obs),
            "question_votes": None if nq is None else np.concatenate(nq)}


def rank(cat: dict[str, np.ndarray], top: int, *, weights: str = "seed",
         measure: str = "cross_entropy") -> tuple[pa.Table, list[dict]]:
    """The per-galaxy disagreement table and the top ``top`` galaxies with their controls.

    ``weights``: "seed" (5 for the balanced answers) or "uniform"; ``measure``: ``disagreement.MEASURES``.
    """
    w = None if weights == "seed" else np.ones(C.N_OUTPUTS)
    s = disagreement.scores(cat["observed"], cat["predicted"], cat["question_votes"], w, measure=measure)
    name = np.array([C.ANSWER_NAMES[a] if a >= 0 else None for a in s["answer"]], dtype=object)
    rows = np.arange(len(s["score"]))
    pick = np.clip(s["answer"], 0, None)
    has = s["answer"] >= 0
    observed = np.where(has, cat["observed"][rows, pick], np.nan)
    predicted = np.where(has, cat["predicted"][rows, pick], np.nan)
    table = pa.table({
        C.OBJID: pa.array(cat["objid"]),
        C.DISAGREEMENT_SCORE: pa.array(s["score"].astype(np.float32), mask=~np.isfinite(s["score"])),
        C.DISAGREEMENT_ANSWER: pa.array(name, pa.string()),
        C.DISAGREEMENT_VOTES: pa.array(s["votes"].astype(np.int32)),
        "disagreement_observed_fraction": pa.array(observed.astype(np.float32), mask=~np.isfinite(observed)),
        "disagreement_predicted_fraction": pa.array(predicted.astype(np.float32), mask=~np.isfinite(predicted)),
    })
    order = np.argsort(-np.nan_to_num(s["score"], nan=-np.inf), kind="stable")
    order = order[np.isfinite(s["score"][order])][:top]
    ctl = disagreement.controls(cat["observed"], cat["predicted"], order, s["answer"][order],
                                weights=w) if len(order) else {}
    ranked = []
    for r, i in enumerate(order):
        ranked.append({"rank": r + 1, "objid": int(cat["objid"][i]), "score": float(s["score"][i]),
                       "answer": name[i], "votes": int(s["votes"][i]), "observed": float(observed[i]),
                       "predicted": float(predicted[i]),
                       "model_like_objid": int(cat["objid"][ctl["model_like"][r]]),
                       "volunteer_like_objid": int(cat["objid"][ctl["volunteer_like"][r]])})
    return table, ranked


def top_figure(ranked: list[dict], survey_url: str, checkpoint: str, so: dict | None, method: str = "hirescam"):
    """Each disputed galaxy beside its +/- class-activation maps of the disputed answer and its two controls."""
    from catalog_xai.cli.gallery import read_images
    from catalog_xai.core.cam import ensemble_cams
    from catalog_xai.core.figures import disagreement_panels
    from catalog_xai.core.preprocess import decode_image, frame_batch

    ens = storage.load_ensemble(checkpoint, so)
    wanted = {r[k] for r in ranked for k in ("objid", "model_like_objid", "volunteer_like_objid")}
    images = read_images(survey_url, wanted, so or {})
    rows = []
    for r in ranked:
        blobs = [images.get(r[k]) for k in ("objid", "model_like_objid", "volunteer_like_objid")]
        raw = [None if b is None else decode_image(b) for b in blobs]
        plus = minus = None
        if blobs[0] is not None:
            # framing from the image itself (the catalogue's photometry is not needed for a figure)
            framed = frame_batch([blobs[0]], input_size=ens.spec.input_size, crop_fraction=ens.spec.crop_fraction,
                                 framing="native" if ens.framing == "native" else "measured")
            if framed.ok_rows:
                p, m = ensemble_cams(ens.models, framed.x, C.ANSWER_NAMES.index(r["answer"]), method=method)
                plus, minus = p[0].numpy(), m[0].numpy()
                raw[0] = framed.x[0].permute(1, 2, 0).numpy()
        rows.append({**r, "images": raw, "cam_plus": plus, "cam_minus": minus})
    return disagreement_panels(rows, method)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--catalogue", required=True, help="catalogue prefix (cxai-classify output) with vote columns")
    ap.add_argument("--output", required=True, help="directory (local or fsspec URL) for the tables and figure")
    ap.add_argument("--top", type=int, default=10, help="galaxies in the ranked table")
    ap.add_argument("--survey", help="the survey the catalogue was made from: its images make top.png")
    ap.add_argument("--checkpoint", default=storage.DEFAULT_CHECKPOINT,
                    help="ensemble for the class-activation maps of the figure (the catalogue's morphology one)")
    ap.add_argument("--cam", default="hirescam", choices=("hirescam", "gradcam"))
    ap.add_argument("--weights", default="seed", choices=("seed", "uniform"),
                    help="seed: 5 for seed 002's balanced answers, 1 otherwise; uniform: 1 for every answer "
                         "(finds planted contradictions on deep answers better: docs/inspection.md)")
    ap.add_argument("--measure", default="cross_entropy", choices=disagreement.MEASURES,
                    help="cross_entropy (the seed's); excess: minus the observed fraction's entropy, 0 where "
                         "model and volunteers agree; evidence: excess times the votes")
    ap.add_argument("--storage-options", default={}, type=json.loads)
    args = ap.parse_args(argv)
    so = storage.check_storage_options(args.storage_options)
    cat = read_catalogue_votes(args.catalogue, so)
    table, ranked = rank(cat, args.top, weights=args.weights, measure=args.measure)
    fs, out = storage.filesystem(args.output, so)
    fs.makedirs(out, exist_ok=True)
    with fs.open(f"{out}/disagreement.parquet", "wb") as f:
        pq.write_table(table, f)
    import pandas as pd

    with fs.open(f"{out}/top.csv", "w") as f:
        pd.DataFrame(ranked).to_csv(f, index=False)
    if args.survey and ranked:
        fig = top_figure(ranked, args.survey, args.checkpoint, so, args.cam)
        with fs.open(f"{out}/top.png", "wb") as f:
            fig.savefig(f, format="png", dpi=90)
    print(f"{len(cat['objid'])} galaxies scored; top {len(ranked)}:")
    for r in ranked:
        print(f"  {r['rank']:>3} objid {r['objid']}: {r['answer']} observed {r['observed']:.2f} from "
              f"{r['votes']} votes, predicted {r['predicted']:.2f} (score {r['score']:.2f}); "
              f"controls {r['model_like_objid']} (volunteers agree with the model) / "
              f"{r['volunteer_like_objid']} (model agrees with the volunteers)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
