"""Every column name, type, unit and description of catalog_xai, in one place.

The Galaxy Zoo 2 decision tree (method.md §1, the Kaggle "Galaxy Challenge"
targets) is written once as ``GZ2_TREE``; the 37 output columns, their spread
columns, the label columns a training survey carries and the ``schemas/`` JSON
files are all derived from it.  Run ``python -m catalog_xai.columns`` to rewrite
``schemas/`` after a change; a test checks that they agree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa


@dataclass(frozen=True)
class Question:
    """One Galaxy Zoo 2 question: snake-case name, Kaggle number, answers, parent answer."""

    name: str
    number: int
    answers: tuple[str, ...]
    parent: str | None  # Kaggle id of the answer that leads here ("1.2"), None for the root


GZ2_TREE: tuple[Question, ...] = (
    Question("smooth_or_featured", 1, ("smooth", "features_or_disk", "star_or_artifact"), None),
    Question("edge_on", 2, ("yes", "no"), "1.2"),
    Question("bar", 3, ("yes", "no"), "2.2"),
    Question("spiral_arms", 4, ("yes", "no"), "2.2"),
    Question("bulge_prominence", 5, ("none", "noticeable", "obvious", "dominant"), "2.2"),
    Question("anything_odd", 6, ("yes", "no"), None),
    Question("how_rounded", 7, ("completely", "in_between", "cigar_shaped"), "1.1"),
    Question(
        "odd_feature",
        8,
        ("ring", "lens_or_arc", "disturbed", "irregular", "other", "merger", "dust_lane"),
        "6.1",
    ),
    Question("bulge_shape", 9, ("rounded", "boxy", "none"), "2.1"),
    Question("arm_winding", 10, ("tight", "medium", "loose"), "4.1"),
    Question("arm_count", 11, ("1", "2", "3", "4", "more_than_4", "cant_tell"), "4.1"),
)

#: The 37 answers in Kaggle order: (kaggle id "3.1", snake name "bar_yes").
GZ2_ANSWERS: tuple[tuple[str, str], ...] = tuple(
    (f"{q.number}.{i + 1}", f"{q.name}_{a}") for q in GZ2_TREE for i, a in enumerate(q.answers)
)
N_OUTPUTS = len(GZ2_ANSWERS)  # 37
KAGGLE_IDS: tuple[str, ...] = tuple(k for k, _ in GZ2_ANSWERS)
ANSWER_NAMES: tuple[str, ...] = tuple(n for _, n in GZ2_ANSWERS)
BAR_YES_INDEX = KAGGLE_IDS.index("3.1")  # the SmoothGrad target (method.md §3)

#: Version of the column contract (schemas/CHANGES.md says what changed).  2: the per-question
#: fractions took the plain ``_fraction`` names (Galaxy Zoo DECaLS / Zoobot), the Kaggle ones
#: became ``_cumulative_fraction``; units and provenance travel in every shard; ``flags``.
CONTRACT_VERSION = 2

#: Per-question ("conditional") fractions: of the volunteers asked a question, the fraction
#: giving each answer; the answers of a question sum to 1.  What astronomers select on.
FRACTION_COLUMNS: tuple[str, ...] = tuple(f"{n}_fraction" for n in ANSWER_NAMES)
SPREAD_COLUMNS: tuple[str, ...] = tuple(f"{n}_fraction_std" for n in ANSWER_NAMES)
#: Kaggle "Galaxy Challenge" cumulative fractions (an answer's fraction times the fractions of
#: the answers leading to its question): what the networks predict.
CUMULATIVE_COLUMNS: tuple[str, ...] = tuple(f"{n}_cumulative_fraction" for n in ANSWER_NAMES)
CUMULATIVE_SPREAD_COLUMNS: tuple[str, ...] = tuple(f"{n}_cumulative_fraction_std" for n in ANSWER_NAMES)
#: Volunteer vote fractions in a training survey (cumulative, as the Kaggle targets).
LABEL_COLUMNS: tuple[str, ...] = tuple(f"vote_{n}_cumulative_fraction" for n in ANSWER_NAMES)
#: Contract 1's names of the same labels (then ``vote_<answer>_fraction``), refused with a hint.
LEGACY_LABEL_COLUMNS: tuple[str, ...] = tuple(f"vote_{n}_fraction" for n in ANSWER_NAMES)
#: The model outputs as contract 1's manifests name them (still loadable: same order, same meaning).
LEGACY_OUTPUT_COLUMNS: tuple[str, ...] = FRACTION_COLUMNS
#: Volunteer vote counts per answer, where a source gives them (e.g. Hart et al. 2016).
VOTE_COUNT_COLUMNS: tuple[str, ...] = tuple(f"votes_{n}_count" for n in ANSWER_NAMES)


#: Per-question Dirichlet uncertainty (ensembles with Dirichlet heads only; seed 002).
DIRICHLET_STD_COLUMNS: tuple[str, ...] = tuple(f"{n}_fraction_dirichlet_std" for n in ANSWER_NAMES)

#: Seed 002's 14 "balanced" answers (GZ DECaLS names: the answers whose volunteer fractions
#: spread over the whole range) and the GZ2 answer standing for each.  GZ2 has no weak bar,
#: one bulge scale for DECaLS's three sizes and no merging question, so "large" ->
#: obvious, "moderate" and "small" -> noticeable, "merging none" -> nothing odd: 13 GZ2
#: answers.  Their disagreement losses weigh 5, every other answer's 1.
BALANCED_ANSWERS: tuple[tuple[str, str], ...] = (
    ("smooth-or-featured_smooth", "smooth_or_featured_smooth"),
    ("smooth-or-featured_featured-or-disk", "smooth_or_featured_features_or_disk"),
    ("has-spiral-arms_yes", "spiral_arms_yes"),
    ("has-spiral-arms_no", "spiral_arms_no"),
    ("bar_weak", "bar_yes"),
    ("bar_no", "bar_no"),
    ("bulge-size_large", "bulge_prominence_obvious"),
    ("bulge-size_moderate", "bulge_prominence_noticeable"),
    ("bulge-size_small", "bulge_prominence_noticeable"),
    ("how-rounded_round", "how_rounded_completely"),
    ("how-rounded_in-between", "how_rounded_in_between"),
    ("spiral-winding_tight", "arm_winding_tight"),
    ("spiral-arm-count_2", "arm_count_2"),
    ("merging_none", "anything_odd_no"),
)
BALANCED_WEIGHT = 5.0
DISAGREEMENT_WEIGHTS: tuple[float, ...] = tuple(
    BALANCED_WEIGHT if n in {g for _, g in BALANCED_ANSWERS} else 1.0 for n in ANSWER_NAMES)


def question_slices() -> dict[str, slice]:
    """Index range of each question's answers in the 37-vector."""
    out, start = {}, 0
    for q in GZ2_TREE:
        out[q.name] = slice(start, start + len(q.answers))
        start += len(q.answers)
    return out


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    unit: str
    description: str
    required: bool = True


# ---------------------------------------------------------------- input contract
OBJID = "objid"
IMAGE = "image"
REDSHIFT = "redshift"
PIXEL_SCALE = "pixel_scale_arcsec"
PETRO_R90 = "petroR90_r"
PETRO_R50 = "petroR50_r"
PSF_FWHM = "psf_fwhm_arcsec"
GZ2_PIXEL_SCALE_PER_PETRO = 0.02  # GZ2 cutouts: 0.02 × petroR90_r arcsec per pixel

INPUT_COLUMNS: tuple[Column, ...] = (
    Column(OBJID, pa.int64(), "", "Unique object identifier; carried to the output unchanged."),
    Column(IMAGE, pa.binary(), "", "Encoded JPEG or PNG cutout (RGB or greyscale), square, "
                                   "16 to 4096 px a side (GZ2: 424x424)."),
    Column(REDSHIFT, pa.float64(), "", "Redshift; needed for lengths in kpc."),
    Column(
        PIXEL_SCALE,
        pa.float64(),
        "arcsec / pix",
        "Pixel scale of the cutout. Either this or petroR90_r is required.",
        required=False,
    ),
    Column(
        PETRO_R90,
        pa.float64(),
        "arcsec",
        "SDSS r-band Petrosian R90; with no pixel_scale_arcsec the GZ2 convention "
        "0.02 * petroR90_r arcsec/pix applies.",
        required=False,
    ),
)
INPUT_COLUMNS += (
    Column(PETRO_R50, pa.float64(), "arcsec", "SDSS r-band Petrosian R50 (half-light radius): the galaxy size in the "
           "resolution alpha = size / PSF FWHM, preferred to petroR90_r (seed 003).", required=False),
    Column(PSF_FWHM, pa.float64(), "arcsec", "FWHM of the image's PSF (e.g. SDSS psfWidth_r). With it the catalogue "
           "gets resolution_alpha, the resolution that biases volunteers' smooth votes (seed 003).", required=False),
)
INPUT_BY_NAME = {c.name: c for c in INPUT_COLUMNS}
REQUIRED_INPUT = tuple(c.name for c in INPUT_COLUMNS if c.required)
SCALE_ALTERNATIVES = (PIXEL_SCALE, PETRO_R90)  # at least one must be present
#: Input columns not copied to the catalogue (the images stay in the survey, linked by objid).
NOT_PASSED_THROUGH = (IMAGE,)

# --------------------------------------------------------------- output contract
BAR_LENGTH_PIX = "bar_length_pix"
BAR_LENGTH_ARCSEC = "bar_length_arcsec"
BAR_LENGTH_KPC = "bar_length_kpc"
BAR_LENGTH_KPC_H = "bar_length_kpc_h"
BAR_THRESHOLD = "bar_saliency_threshold"
BAR_REACHES_EDGE = "bar_reaches_edge"
BAR_LENGTH_ISOPHOTE_PIX = "bar_length_isophote_pix"
BAR_LENGTH_ISOPHOTE_ARCSEC = "bar_length_isophote_arcsec"
ISOPHOTE_STATUS = "isophote_status"
STATUS = "status"
STATUS_OK = "ok"
RESOLUTION_ALPHA = "resolution_alpha"
RESOLUTION_ALPHA_SOURCE = "resolution_alpha_source"
#: Seed 003's de-biased smooth / featured pair, from an ensemble trained with the DDB loss (--debias-checkpoint).
DEBIASED_COLUMNS: tuple[str, str] = ("smooth_or_featured_smooth_debiased_fraction",
                                     "smooth_or_featured_features_or_disk_debiased_fraction")
FLAGS = "flags"


@dataclass(frozen=True)
class Flag:
    """One bit of the ``flags`` column: stable across versions (a bit is never reused)."""

    bit: int
    name: str
    description: str

    @property
    def value(self) -> int:
        return 1 << self.bit


#: The ``flags`` bitmask beside the human-readable ``status``; 0 means nothing to note.
FLAG_BITS: tuple[Flag, ...] = (
    Flag(0, "objid_missing", "No objid: the row was not processed (all results null)."),
    Flag(1, "image_unusable", "The image could not be decoded or framed (all results null; status says why)."),
    Flag(2, "saliency_flat", "The saliency map is flat: no bar length."),
    Flag(3, "no_pixel_scale", "No usable pixel scale: arcsec and kpc lengths null."),
    Flag(4, "no_redshift", "No usable redshift: kpc lengths null."),
    Flag(5, "bar_reaches_edge", "The measured bar touches the edge of the image data: the length is a lower limit."),
    Flag(6, "isophote_failed", "The isophote baseline was requested and gave no length (isophote_status says why)."),
    Flag(7, "no_resolution", "The survey gives PSF FWHMs but this row has no usable PSF or size: "
                             "resolution_alpha null."),
)
FLAG = {f.name: f.value for f in FLAG_BITS}


def flag_names(flags: int) -> list[str]:
    """The names of the bits set in a ``flags`` value."""
    return [f.name for f in FLAG_BITS if flags & f.value]

_Q_DESC = {q.name: q for q in GZ2_TREE}


def _fraction_columns() -> list[Column]:
    cols = []
    question_of = {f"{q.name}_{a}": q for q in GZ2_TREE for a in q.answers}
    for name, frac, spread in zip(ANSWER_NAMES, FRACTION_COLUMNS, SPREAD_COLUMNS):
        q = question_of[name]
        cols.append(Column(frac, pa.float32(), "",
                           f"GZ2 {q.name} = {name[len(q.name) + 1:]}: ensemble-mean predicted fraction of the "
                           f"volunteers asked question {q.number} who give this answer (per question, as Galaxy "
                           "Zoo DECaLS and Zoobot; a question's answers sum to 1). Select on it together with "
                           "the cumulative fraction of the answer that leads to the question."))
        cols.append(Column(spread, pa.float32(), "", f"Standard deviation of {frac} over the ensemble members."))
    for frac, dstd in zip(FRACTION_COLUMNS, DIRICHLET_STD_COLUMNS):
        cols.append(Column(dstd, pa.float32(), "",
                           f"Dirichlet-head ensembles only: square root of the members' mean Dirichlet variance "
                           f"of {frac} (how sure each member is; the _std column says how much they differ).",
                           required=False))
    for (kid, name), frac, spread in zip(GZ2_ANSWERS, CUMULATIVE_COLUMNS, CUMULATIVE_SPREAD_COLUMNS):
        cols.append(Column(frac, pa.float32(), "",
                           f"GZ2 Class{kid} ({name}): ensemble-mean predicted cumulative vote fraction (Kaggle "
                           "Galaxy Challenge: the per-question fraction times those of the answers leading to "
                           "the question), what the networks predict."))
        cols.append(Column(spread, pa.float32(), "", f"Standard deviation of Class{kid} over the ensemble members."))
    return cols


OUTPUT_COLUMNS: tuple[Column, ...] = (
    Column(OBJID, pa.int64(), "", "Object identifier from the input shard."),
    *_fraction_columns(),
    Column(
        BAR_LENGTH_PIX,
        pa.float32(),
        "pix",
        "Bar length from the SmoothGrad map (Bhambra et al. 2022, Algorithm 1), in pixels of the "
        "original input image.",
    ),
    Column(BAR_LENGTH_ARCSEC, pa.float32(), "arcsec", "Bar length on the sky."),
    Column(
        BAR_LENGTH_KPC,
        pa.float32(),
        "kpc",
        "Physical (proper) bar length from the redshift and the job's cosmology (default Planck18).",
    ),
    Column(
        BAR_LENGTH_KPC_H,
        pa.float32(),
        "kpc / h",
        "Bar length in h^-1 kpc (H0 = 100 h km/s/Mpc), as Hoyle et al. 2011; only with --kpc-h.",
        required=False,
    ),
    Column(
        BAR_THRESHOLD,
        pa.float32(),
        "",
        "Map level that delimited the bar (map normalised to [0, 1]): the threshold T at which Algorithm 1 "
        "stopped, or the axis profile's end level (profile_fraction x its peak).",
    ),
    Column(
        BAR_REACHES_EDGE,
        pa.bool_(),
        "",
        "The measured bar touches the edge of the image data (a tight cutout): its length is a lower "
        "limit, not capped silently. Null where no length was measured.",
    ),
    Column(
        BAR_LENGTH_ISOPHOTE_PIX,
        pa.float32(),
        "pix",
        "Classical baseline: bar length from ellipse fits of the image (photutils isophotes; the mean of "
        "the ellipticity-peak radius and the first radius where the ellipticity falls by 0.1 or the "
        "position angle turns by 10 deg, Erwin 2005), in pixels of the original image. Only with --isophote.",
    ),
    Column(BAR_LENGTH_ISOPHOTE_ARCSEC, pa.float32(), "arcsec", "The isophote bar length on the sky."),
    Column(ISOPHOTE_STATUS, pa.string(), "", "'ok', or why the isophote bar length is null."),
    Column(RESOLUTION_ALPHA, pa.float32(), "", "Resolution alpha = galaxy size / PSF FWHM (seed 003): what biases "
           "volunteers towards 'smooth'. Only where the survey gives psf_fwhm_arcsec.", required=False),
    Column(RESOLUTION_ALPHA_SOURCE, pa.string(), "", "The size alpha used: 'petroR50_r', 'petroR90_r' or "
           "'measured R90' (a size measured on the image, times the pixel scale).", required=False),
    *(Column(name, pa.float32(), "", f"Seed 003's de-biased fraction of smooth_or_featured = {ans} among smooth and "
             "featured: the softmax of an ensemble trained with the DDB loss (--debias-checkpoint), the answer a "
             "resolved image would get. Only with --debias-checkpoint.", required=False)
      for name, ans in zip(DEBIASED_COLUMNS, ("smooth", "features_or_disk"))),
    Column(STATUS, pa.string(), "", "'ok', or short reasons ('; '-separated) why values are null."),
    Column(FLAGS, pa.int32(), "", "Bitmask of what to note about the row (0: nothing): "
           + "; ".join(f"{f.value} {f.name}" for f in FLAG_BITS) + " (schemas/output.json)."),
)
OUTPUT_BY_NAME = {c.name: c for c in OUTPUT_COLUMNS}
_DIRICHLET_SET = frozenset(DIRICHLET_STD_COLUMNS)

# ------------------------------------------------- saliency-map side dataset (--save-maps)
MAPS_DIR = "_maps"  # under the catalogue prefix; the underscore keeps it out of the shard listing
EMBEDDINGS_DIR = "_embeddings"  # --save-embeddings: objid + features_member_<i> (float16 fixed-size lists)
EMBEDDING_PREFIX = "features_member_"
MAP = "saliency_map"
CAM_PLUS, CAM_MINUS = "cam_plus_map", "cam_minus_map"
MAP_COLUMNS: tuple[Column, ...] = (
    Column(OBJID, pa.int64(), "", "Object identifier, as in the catalogue."),
    Column("map_side", pa.int16(), "pix", "Side of the square map in map pixels (the model's input size)."),
    Column(MAP, pa.binary(), "", "Ensemble-mean SmoothGrad map, normalised to [0, 1], as Algorithm 1 measured it: "
                                 "map_side x map_side little-endian float16, row-major (y, x) like the image."),
    Column("map_origin_pix", pa.float32(), "pix", "Image-pixel coordinate (x and y alike) of the map's top-left "
                                                  "corner on the input cutout; negative where the frame was padded."),
    Column("map_pixel_pix", pa.float32(), "pix / pix", "Input-image pixels per map pixel."),
    Column("image_side", pa.int32(), "pix", "Side of the input cutout in pixels."),
    Column("cam_method", pa.string(), "", "With --cam: hirescam or gradcam, and the answer explained "
                                          "('hirescam:bar_yes').", required=False),
    Column("cam_side", pa.int16(), "pix", "With --cam: side of the square class-activation maps.", required=False),
    Column(CAM_PLUS, pa.binary(), "", "With --cam: ensemble-mean +score class-activation map (what raises the "
                                      "answer's score), each member's pair scaled to unit maximum; cam_side^2 "
                                      "little-endian float16, row-major (y, x).", required=False),
    Column(CAM_MINUS, pa.binary(), "", "With --cam: the -score map (what lowers the score), as cam_plus_map.",
           required=False),
    Column("cam_origin_pix", pa.float32(), "pix", "With --cam: image-pixel coordinate of the CAM frame's "
                                                  "top-left corner (the morphology ensemble's framing).",
           required=False),
    Column("cam_pixel_pix", pa.float32(), "pix / pix", "With --cam: input-image pixels per CAM pixel.",
           required=False),
)


# ------------------------------------- inspection tables (cxai-disagree, cxai-embed; seeds 002, 004)
DISAGREEMENT_SCORE = "disagreement_score"
DISAGREEMENT_ANSWER = "disagreement_answer"
DISAGREEMENT_VOTES = "disagreement_votes"
EMBEDDING_X, EMBEDDING_Y = "embedding_x", "embedding_y"
MORPHOLOGY_CLASS = "morphology_class"
MORPHOLOGY_CLASS_VOTES = "morphology_class_votes"
OUTLIER_SCORE, OUTLIER_FLAG = "outlier_score", "outlier_flag"
INSPECTION_COLUMNS: tuple[Column, ...] = (
    Column(DISAGREEMENT_SCORE, pa.float32(), "", "Largest weighted binary cross-entropy between the volunteers' "
           "and the ensemble's per-question fraction over the answers (seed 002; weight 5 for its balanced answers, "
           "predictions clipped to [0.01, 0.99]). Null where no answer has votes."),
    Column(DISAGREEMENT_ANSWER, pa.string(), "", "The answer that gives disagreement_score."),
    Column(DISAGREEMENT_VOTES, pa.int32(), "", "Volunteers who answered that answer's question (the evidence "
           "behind the observed fraction)."),
    Column(EMBEDDING_X, pa.float32(), "", "t-SNE coordinate 1 of the galaxy's ensemble features (seed 004)."),
    Column(EMBEDDING_Y, pa.float32(), "", "t-SNE coordinate 2."),
    Column(MORPHOLOGY_CLASS, pa.string(), "", "Seed 004's five classes (its Table 1 cuts) on the ensemble's "
           "fractions: completely_round_smooth, in_between_smooth, cigar_shaped_smooth, edge_on, spiral; "
           "null where no cut passes."),
    Column(MORPHOLOGY_CLASS_VOTES, pa.string(), "", "The same cuts on the volunteers' fractions (null without votes)."),
    Column(OUTLIER_SCORE, pa.float32(), "", "Fraction of the galaxy's k nearest neighbours in the embedding whose "
           "class differs from its own (the volunteers' class where there are votes): mislabel candidates."),
    Column(OUTLIER_FLAG, pa.bool_(), "", "outlier_score at or above the job's threshold."),
)


def output_schema(passthrough: pa.Schema | None = None, *, kpc_h: bool = False, dirichlet: bool = False,
                  resolution: bool | None = None, debiased: bool = False) -> pa.Schema:
    """Arrow schema of a catalogue shard: objid, pass-through input columns, then results
    (``dirichlet``: with the Dirichlet uncertainty columns of an ensemble with Dirichlet heads;
    ``resolution``: with resolution_alpha, by default where the input has psf_fwhm_arcsec;
    ``debiased``: with the de-biased smooth / featured pair)."""
    if resolution is None:
        resolution = passthrough is not None and PSF_FWHM in passthrough.names
    def described(field: pa.Field, col: Column | None) -> pa.Field:
        if col is None or field.metadata:  # a user's own column keeps the metadata it came with
            return field
        return field.with_metadata({"unit": col.unit, "description": col.description})

    fields = [described(pa.field(OBJID, pa.int64()), OUTPUT_COLUMNS[0])]
    if passthrough is not None:
        fields += [described(f, INPUT_BY_NAME.get(f.name)) for f in passthrough
                   if f.name != OBJID and f.name not in NOT_PASSED_THROUGH]
    for c in OUTPUT_COLUMNS[1:]:
        if ((c.name == BAR_LENGTH_KPC_H and not kpc_h) or (c.name in _DIRICHLET_SET and not dirichlet)
                or (c.name in (RESOLUTION_ALPHA, RESOLUTION_ALPHA_SOURCE) and not resolution)
                or (c.name in DEBIASED_COLUMNS and not debiased)):
            continue
        fields.append(
            pa.field(c.name, c.type, metadata={"unit": c.unit, "description": c.description})
        )
    return pa.schema(fields)


def result_column_names(*, kpc_h: bool = False, dirichlet: bool = False, resolution: bool = False,
                        debiased: bool = False) -> list[str]:
    """Names of the columns catalog_xai computes (not the pass-through ones)."""
    return [f.name for f in output_schema(kpc_h=kpc_h, dirichlet=dirichlet, resolution=resolution,
                                          debiased=debiased)][1:]


# ------------------------------------------------------------------ schemas/ files
def _as_json(cols: tuple[Column, ...]) -> list[dict]:
    return [
        {
            "name": c.name,
            "type": str(c.type),
            "unit": c.unit,
            "required": c.required,
            "description": c.description,
        }
        for c in cols
    ]


def schema_documents() -> dict[str, dict]:
    """The contents of ``schemas/*.json``, derived from this module."""
    return {
        "input.json": {
            "title": "catalog_xai input shard (Parquet)",
            "contract_version": CONTRACT_VERSION,
            "notes": [
                "A survey is a set of Parquet files under one prefix.",
                "Either pixel_scale_arcsec or petroR90_r must be present.",
                "Every other column passes through to the catalogue unchanged (except image).",
            ],
            "columns": _as_json(INPUT_COLUMNS),
        },
        "output.json": {
            "title": "catalog_xai value-added catalogue shard (Parquet)",
            "contract_version": CONTRACT_VERSION,
            "notes": [
                "One row per input row, same objid, in the same order; nothing is dropped.",
                "Pass-through input columns follow objid.",
                "A null value always comes with a status other than 'ok' saying why, and a flags bit.",
                "<answer>_fraction columns are per-question fractions (Galaxy Zoo DECaLS / Zoobot); "
                "<answer>_cumulative_fraction columns are the Kaggle cumulative ones (contract 2; see CHANGES.md).",
                "Units: each field's Arrow metadata (unit, description) and astropy's table_meta_yaml, so "
                "astropy.table.Table.read gives Quantity columns; provenance: the JSON 'catalog_xai.provenance'.",
            ],
            "columns": _as_json(OUTPUT_COLUMNS),
            "flags": [{"bit": f.bit, "value": f.value, "name": f.name, "description": f.description}
                      for f in FLAG_BITS],
        },
        "maps.json": {
            "title": "catalog_xai saliency-map side dataset (Parquet, <catalogue>/_maps/<shard>.parquet, --save-maps)",
            "contract_version": CONTRACT_VERSION,
            "notes": ["One row per galaxy the job's --save-maps selection kept; join to the catalogue on objid.",
                      "Published before its catalogue shard is committed: a committed shard has its maps."],
            "columns": _as_json(MAP_COLUMNS),
        },
        "inspection.json": {
            "title": "catalog_xai inspection tables (Parquet): disagreement.parquet (cxai-disagree) and "
                     "embedding_map.parquet (cxai-embed), one row per catalogue galaxy, joined on objid",
            "contract_version": CONTRACT_VERSION,
            "columns": _as_json(INSPECTION_COLUMNS),
        },
        "gz2_tree.json": {
            "title": "Galaxy Zoo 2 decision tree (Kaggle Galaxy Challenge order)",
            "questions": [
                {
                    "name": q.name,
                    "number": q.number,
                    "parent_answer": q.parent,
                    "answers": [
                        {"kaggle": f"Class{q.number}.{i + 1}", "column": f"{q.name}_{a}_fraction",
                         "cumulative_column": f"{q.name}_{a}_cumulative_fraction"}
                        for i, a in enumerate(q.answers)
                    ],
                }
                for q in GZ2_TREE
            ],
        },
    }


def write_schemas(directory: str | Path) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, doc in schema_documents().items():
        (directory / name).write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    write_schemas(Path(__file__).resolve().parent.parent / "schemas")
