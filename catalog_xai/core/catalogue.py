"""One batch of galaxies through the whole method: arrays in, catalogue columns out.

This is the science of a survey job with no Ray and no files: decode and frame the
cutouts, classify with the ensemble, SmoothGrad the bar logit, measure the bar, and
convert its length to original pixels, arcsec and kpc.  A row that cannot be computed
gets nulls and a ``status`` that says why; it never raises for bad data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Sequence

import numpy as np
import torch

from . import bars, saliency, units
from .. import columns as C
from .ensemble import Ensemble
from .preprocess import FRAMINGS, ImageError, decode_image, frame_galaxy

ENSEMBLE_METHODS = ("maps", "lengths")  # paper §4.5 methods (iv) and (v)


@dataclass(frozen=True)
class MethodParams:
    """Every parameter of the method, defaulting to the paper's choice."""

    n_samples: int = 256  # N
    noise_level: float = 0.1  # S_noise, relative to each image's value range
    multiply_by_input: bool = False  # X_input
    tc: float = 0.85
    tl: int = 30
    linearity: str = "pearson"  # the paper's |r|; "eigen" is rotation-invariant
    ensemble_method: str = "maps"  # (iv) average maps, or (v) average lengths
    cosmology: str = units.DEFAULT_COSMOLOGY
    kpc_h: bool = False  # also write bar_length_kpc_h
    seed: int = 0
    chunk_size: int = 256  # images per forward/backward pass
    precision: str = "fp32"  # "fp32" or "bf16" (autocast)
    framing: str = "native"
    length_scale: float = 1.0  # calibration: lengths x this (fitted by jobs/tune_bars.py; 1 = the paper's raw lengths)

    def __post_init__(self):
        problems = []
        if self.n_samples < 1:
            problems.append(f"n_samples must be >= 1 (got {self.n_samples})")
        if not 0 <= self.noise_level <= 10:
            problems.append(f"noise_level must be in [0, 10] (got {self.noise_level})")
        if not 0 < self.tc <= 1:
            problems.append(f"tc must be in (0, 1] (got {self.tc})")
        if self.tl < 0:
            problems.append(f"tl must be >= 0 (got {self.tl})")
        if self.linearity not in bars.LINEARITY_CRITERIA:
            problems.append(f"linearity must be one of {bars.LINEARITY_CRITERIA} (got {self.linearity!r})")
        if self.ensemble_method not in ENSEMBLE_METHODS:
            problems.append(f"ensemble_method must be one of {ENSEMBLE_METHODS} (got {self.ensemble_method!r})")
        if self.precision not in ("fp32", "bf16"):
            problems.append(f"precision must be 'fp32' or 'bf16' (got {self.precision!r})")
        if self.framing not in FRAMINGS:
            problems.append(f"framing must be one of {FRAMINGS} (got {self.framing!r})")
        if not 0 < self.length_scale < 100:
            problems.append(f"length_scale must be in (0, 100) (got {self.length_scale})")
        if self.chunk_size < 1:
            problems.append(f"chunk_size must be >= 1 (got {self.chunk_size})")
        if problems:
            raise ValueError("Invalid method parameters: " + "; ".join(problems))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "MethodParams":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"Unknown method parameter(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**d)


def _float_array(values, n) -> np.ndarray:
    """Per-row floats; None, and what does not read as a number (text columns), become NaN."""
    out = np.full(n, np.nan)
    for i, v in enumerate(values if values is not None else ()):
        try:
            out[i] = np.nan if v is None else float(v)
        except (TypeError, ValueError):
            pass
    return out


def _show(v) -> str:
    """A user's value as it reads in a status: numbers with %g, anything else quoted."""
    return f"{v:g}" if isinstance(v, (int, float, np.number)) and not isinstance(v, bool) else repr(v)


def _given(values, i) -> bool:
    """Whether row i has a value at all (NaN and None count as none)."""
    v = None if values is None else values[i]
    return v is not None and not (isinstance(v, float) and np.isnan(v))


@dataclass
class EnsembleOutput:
    """What the device computes for a batch: fractions and per-model saliency maps (on the CPU)."""

    n: int
    ok_rows: list[int]  # rows whose image decoded
    reasons: list[list[str]]  # per row, why values are missing so far
    fractions: np.ndarray  # (n, 37) ensemble mean, NaN for bad rows
    spread: np.ndarray  # (n, 37) ensemble standard deviation
    maps: np.ndarray  # (M, len(ok_rows), H, W) normalised SmoothGrad maps
    map_to_original: np.ndarray  # (n,) original pixels per map pixel, NaN for bad rows
    data_side: np.ndarray  # (n,) side in map pixels of the centred square the cutout fills (< map side when padded)


def run_ensemble(ensemble: Ensemble, *, objid: Sequence[int], image: Sequence[bytes | None],
                 params: MethodParams = MethodParams(), pixel_scale_arcsec=None, petro_r90=None) -> EnsembleOutput:
    """Decode and frame the cutouts, classify them and compute their SmoothGrad maps."""
    n = len(objid)
    spec = ensemble.spec
    reasons: list[list[str]] = [[] for _ in range(n)]
    r90_pix = np.full(n, np.nan)
    if params.framing == "petrosian":
        r90_pix = units.r90_pixels(_float_array(petro_r90, n), _float_array(pixel_scale_arcsec, n))
    tensors, ok_rows, crops, sizes = [], [], [], []
    for i, data in enumerate(image):
        if objid[i] is None:  # kept as a row, but without an id it cannot be matched or seeded
            reasons[i].append("objid missing: row not processed")
            continue
        try:
            rgb = decode_image(data)
            x, crop = frame_galaxy(rgb, input_size=spec.input_size, crop_fraction=spec.crop_fraction,
                                   framing=params.framing, r90_pix=r90_pix[i])
        except ImageError as err:
            reasons[i].append(str(err))
            continue
        tensors.append(x)
        ok_rows.append(i)
        crops.append(crop)
        sizes.append(rgb.shape[0])

    frac = np.full((n, C.N_OUTPUTS), np.nan, dtype=np.float32)
    spread = np.full((n, C.N_OUTPUTS), np.nan, dtype=np.float32)
    to_orig = np.full(n, np.nan)
    data_side = np.full(n, np.nan)
    maps = np.zeros((len(ensemble), 0, spec.input_size, spec.input_size), np.float32)
    if ok_rows:
        x = torch.stack(tensors).to(ensemble.device).contiguous(memory_format=torch.channels_last)
        preds = ensemble.predict(x).cpu().numpy()  # (M, B, 37)
        frac[ok_rows] = preds.mean(axis=0)
        spread[ok_rows] = preds.std(axis=0)
        maps = saliency.smoothgrad(
            ensemble.members,
            x,
            n_samples=params.n_samples,
            noise_level=params.noise_level,
            multiply_by_input=params.multiply_by_input,
            seeds=saliency.galaxy_seeds([objid[i] for i in ok_rows], params.seed),
            chunk_size=params.chunk_size,
            autocast_dtype=torch.bfloat16 if params.precision == "bf16" else None,
        ).cpu().numpy()
        to_orig[ok_rows] = np.asarray(crops, dtype=float) / spec.input_size
        data_side[ok_rows] = np.minimum(np.asarray(sizes, float) / np.asarray(crops, float), 1.0) * spec.input_size
    return EnsembleOutput(n, ok_rows, reasons, frac, spread, maps, to_orig, data_side)


def measure_and_convert(
    inferred: EnsembleOutput,
    *,
    objid: Sequence[int],
    redshift: Sequence[float | None] | None,
    pixel_scale_arcsec: Sequence[float | None] | None = None,
    petro_r90: Sequence[float | None] | None = None,
    params: MethodParams = MethodParams(),
    cosmology=None,
) -> dict[str, np.ndarray]:
    """Bar lengths from the maps, in pixels, arcsec and kpc, and every row's status (CPU only)."""
    n, ok_rows = inferred.n, inferred.ok_rows
    reasons = [list(r) for r in inferred.reasons]
    cosmo = cosmology if cosmology is not None else units.get_cosmology(params.cosmology)
    length_map = np.full(n, np.nan)
    threshold = np.full(n, np.nan)
    if ok_rows:
        meas_kw = dict(tc=params.tc, tl=params.tl, criterion=params.linearity)
        side = inferred.data_side[ok_rows]
        if params.ensemble_method == "maps":
            mean_map = saliency.ensemble_mean_map(torch.from_numpy(inferred.maps)).numpy()
            res = bars.measure_bars(saliency.restrict_to_data(mean_map, side), **meas_kw)
            length_map[ok_rows], threshold[ok_rows] = res["length_pix"], res["threshold"]
        else:
            per_model = [bars.measure_bars(saliency.restrict_to_data(m, side), **meas_kw) for m in inferred.maps]
            length_map[ok_rows] = np.mean([r["length_pix"] for r in per_model], axis=0)
            threshold[ok_rows] = np.mean([r["threshold"] for r in per_model], axis=0)
        for i in ok_rows:
            if not np.isfinite(length_map[i]):
                reasons[i].append("saliency map flat: no bar length")

    length_pix = length_map * inferred.map_to_original * params.length_scale
    given_scale, given_petro = _float_array(pixel_scale_arcsec, n), _float_array(petro_r90, n)
    scale = units.pixel_scale(given_scale, given_petro)
    z = _float_array(redshift, n)
    arcsec, kpc, kpc_h = units.physical_lengths(length_pix, scale, z, cosmo)
    for i in ok_rows:
        if not np.isfinite(length_pix[i]):
            continue
        if not np.isfinite(arcsec[i]):
            if not (_given(pixel_scale_arcsec, i) or _given(petro_r90, i)):
                reasons[i].append("no pixel scale: arcsec and kpc not computed")
            else:
                given = {k: v[i] for k, v in (("pixel_scale", pixel_scale_arcsec), ("petroR90_r", petro_r90)) if v is not None}
                shown = ", ".join(f"{k} {_show(v)}" for k, v in given.items())
                reasons[i].append(f"pixel scale unusable ({shown}; usable: 0 to {units.MAX_PIXEL_SCALE_ARCSEC:g} "
                                  "arcsec/px): arcsec and kpc not computed")
        elif not np.isfinite(kpc[i]):
            if not _given(redshift, i):
                reasons[i].append("no redshift: kpc not computed")
            else:
                reasons[i].append(f"redshift {_show(redshift[i])} unusable: kpc not computed")

    ids = list(objid)
    out: dict[str, np.ndarray] = {C.OBJID: np.array(ids, dtype=object if None in ids else np.int64)}
    for j, (fc, sc) in enumerate(zip(C.FRACTION_COLUMNS, C.SPREAD_COLUMNS)):
        out[fc], out[sc] = inferred.fractions[:, j], inferred.spread[:, j]
    out[C.BAR_LENGTH_PIX] = length_pix.astype(np.float32)
    out[C.BAR_LENGTH_ARCSEC] = arcsec.astype(np.float32)
    out[C.BAR_LENGTH_KPC] = kpc.astype(np.float32)
    if params.kpc_h:
        out[C.BAR_LENGTH_KPC_H] = kpc_h.astype(np.float32)
    out[C.BAR_THRESHOLD] = threshold.astype(np.float32)
    out[C.STATUS] = np.array(["; ".join(r) if r else C.STATUS_OK for r in reasons], dtype=object)
    return out


def classify_batch(
    ensemble: Ensemble,
    *,
    objid: Sequence[int],
    image: Sequence[bytes | None],
    redshift: Sequence[float | None] | None,
    pixel_scale_arcsec: Sequence[float | None] | None = None,
    petro_r90: Sequence[float | None] | None = None,
    params: MethodParams = MethodParams(),
    cosmology=None,
) -> dict[str, np.ndarray]:
    """Catalogue columns (``columns.result_column_names``) for one batch of galaxies."""
    inferred = run_ensemble(ensemble, objid=objid, image=image, params=params, pixel_scale_arcsec=pixel_scale_arcsec,
                            petro_r90=petro_r90)
    return measure_and_convert(inferred, objid=objid, redshift=redshift, pixel_scale_arcsec=pixel_scale_arcsec,
                               petro_r90=petro_r90, params=params, cosmology=cosmology)
