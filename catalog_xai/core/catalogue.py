"""One batch of galaxies through the whole method: arrays in, catalogue columns out.

This is the science of a survey job with no Ray and no files: decode and frame the
cutouts, classify with the ensemble, SmoothGrad the bar logit, measure the bar, and
convert its length to original pixels, arcsec and kpc.  A row that cannot be computed
gets nulls and a ``status`` that says why; it never raises for bad data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import torch

from .. import columns as C
from . import bars, hardware, labels, saliency, units
from .ensemble import Ensemble
from .params import MethodParams
from .preprocess import FramedBatch, frame_batch_zooms, resolve_framing

if TYPE_CHECKING:
    from astropy.cosmology import Cosmology


def _float_array(values: Iterable[object] | None, n: int) -> np.ndarray:
    """Per-row floats; None, and what does not read as a number (text columns), become NaN."""
    out = np.full(n, np.nan)
    for i, v in enumerate(values if values is not None else ()):
        try:
            out[i] = np.nan if v is None else float(v)
        except (TypeError, ValueError):
            pass
    return out


def _show(v: object) -> str:
    """A user's value as it reads in a status: numbers with %g, anything else quoted."""
    return f"{v:g}" if isinstance(v, (int, float, np.number)) and not isinstance(v, bool) else repr(v)


def _given(values: Sequence[object] | None, i: int) -> bool:
    """Whether row i has a value at all (NaN and None count as none)."""
    v = None if values is None else values[i]
    return v is not None and not (isinstance(v, float) and np.isnan(v))


@dataclass
class EnsembleOutput:
    """What the device computes for a batch: fractions and per-model saliency maps (on the CPU)."""

    framed: FramedBatch  # the images as the models saw them, and each row's fate
    fractions: np.ndarray  # (n, 37) ensemble-mean cumulative (Kaggle) fractions, NaN for bad rows
    spread: np.ndarray  # (n, 37) their ensemble standard deviation
    conditional: np.ndarray  # (n, 37) ensemble mean of each member's per-question fractions
    conditional_spread: np.ndarray  # (n, 37) their ensemble standard deviation
    maps: np.ndarray  # (M, len(ok_rows), H, W) normalised SmoothGrad maps
    framing: str  # how the cutouts were framed (params.FRAMINGS)
    dirichlet_std: np.ndarray | None = None  # (n, 37) per-question Dirichlet std (Dirichlet heads only)
    embeddings: list[np.ndarray] | None = None  # per member (len(ok_rows), F_m) pooled features, when asked
    cams: tuple[np.ndarray, np.ndarray] | None = None  # (+score, -score) (len(ok_rows), S, S), params.cam
    cam_crop_px: np.ndarray | None = None  # (n,) side in image pixels of the frame the CAMs cover
    debiased: np.ndarray | None = None  # (n, 2) de-biased (smooth, featured) of a DDB ensemble (seed 003)
    zoom_length_pix: np.ndarray | None = None  # (n,) bar length (cutout px) combined over a zoom scan

    @property
    def n(self) -> int:
        return len(self.framed.reasons)

    @property
    def ok_rows(self) -> list[int]:
        return self.framed.ok_rows

    @property
    def reasons(self) -> list[list[str]]:
        return self.framed.reasons

    @property
    def map_to_original(self) -> np.ndarray:
        return self.framed.map_to_original

    @property
    def data_side(self) -> np.ndarray:
        return self.framed.data_side


def ensemble_mean_maps(inferred: EnsembleOutput) -> np.ndarray:
    """(len(ok_rows), S, S) the ensemble-mean map of each good row, outside its cutout's data zeroed."""
    side = inferred.data_side[inferred.ok_rows]
    return saliency.restrict_to_data(saliency.ensemble_mean_map(torch.from_numpy(inferred.maps)).numpy(), side)


def with_model_framing(params: MethodParams, ensemble: Ensemble) -> MethodParams:
    """``params`` with the framing made explicit: the ensemble's own unless the user chose one
    (then a ``FramingWarning`` names both).

    Raises
    ------
    ValueError
        If the ensemble's or the requested framing is not one of ``FRAMINGS``.
    """
    return replace(params, framing=resolve_framing(ensemble.framing, params.framing))


def params_for_device(params: MethodParams, maps_from: Ensemble, galaxies_per_call: int | None = None) -> MethodParams:
    """``params`` with ``precision="auto"`` and ``chunk_size=0`` decided for the device of the
    ensemble that computes the maps (``hardware.choose``: measured once per process): what a
    catalogue shard records it was made with.  ``galaxies_per_call``: the most galaxies one call
    will hold, so that no chunk larger than the copies it runs is timed."""
    if params.precision != "auto" and params.chunk_size:
        return params
    precision, chunk = hardware.choose(maps_from.members, input_size=maps_from.spec.input_size,
                                       device=maps_from.device, precision=params.precision,
                                       chunk_size=params.chunk_size,
                                       target=int(np.atleast_1d(saliency.score_target(params.score))[0]),
                                       max_chunk=galaxies_per_call * saliency.copies_run(
                                           params.n_samples, params.s_noise, params.symmetry)
                                       if galaxies_per_call else None)
    return replace(params, precision=precision, chunk_size=int(chunk))


def _frame(ensemble: Ensemble, objid: Sequence[int], image: Sequence[bytes | None], params: MethodParams,
           pixel_scale_arcsec, petro_r90, skip: Sequence[str | None] | None = None, zoom: float = 1.0,
           padding: str = "sky") -> tuple[FramedBatch, str]:
    """The cutouts decoded and framed as ``ensemble`` was trained (times ``zoom``), and the framing used."""
    batches, framing = _frame_zooms(ensemble, objid, image, params, pixel_scale_arcsec, petro_r90, skip, (zoom,),
                                    padding)
    return batches[0], framing


def _frame_zooms(ensemble: Ensemble, objid: Sequence[int], image: Sequence[bytes | None], params: MethodParams,
                 pixel_scale_arcsec, petro_r90, skip: Sequence[str | None] | None, zooms: Sequence[float],
                 padding: str) -> tuple[list[FramedBatch], str]:
    """``_frame`` at each of ``zooms`` (``preprocess.frame_batch_zooms``: each cutout decoded once)."""
    n = len(objid)
    spec = ensemble.spec
    framing = resolve_framing(ensemble.framing, params.framing)
    r90_pix = None
    if framing == "petrosian":
        r90_pix = units.r90_pixels(_float_array(petro_r90, n), _float_array(pixel_scale_arcsec, n))
    skip = skip or ["objid missing: row not processed" if o is None else None for o in objid]
    return frame_batch_zooms(image, input_size=spec.input_size, crop_fraction=spec.crop_fraction, framing=framing,
                             r90_pix=r90_pix, skip=skip, zooms=zooms, padding=padding), framing


def run_ensemble(ensemble: Ensemble, *, objid: Sequence[int], image: Sequence[bytes | None],
                 params: MethodParams = MethodParams(), pixel_scale_arcsec: Sequence[float | None] | None = None,
                 petro_r90: Sequence[float | None] | None = None,
                 bar_ensemble: Ensemble | None = None, embeddings: bool = False,
                 debias_ensemble: Ensemble | None = None) -> EnsembleOutput:
    """Decode and frame the cutouts as the ensemble was trained, classify them and compute their SmoothGrad maps.

    ``bar_ensemble``: take the saliency maps (and so the bar lengths) from this ensemble, each
    ensemble seeing the cutouts framed as it was trained; the fractions still come from
    ``ensemble``.  A model that classifies real galaxies well need not have maps that isolate
    bars, and the reverse (docs/bar-lab-notebook.md).  A row one framing cannot use is not used
    by either.  Rows that cannot be decoded or framed get a reason, not an exception.
    ``embeddings``: also keep each member's pooled features (seed 004); ``params.cam``: also
    compute class-activation maps of ``params.cam_answer`` with ``ensemble`` (core.cam);
    ``debias_ensemble``: also the de-biased smooth / featured pair of an ensemble trained with
    seed 003's DDB loss (the mean over its members of the softmax of their two first logits).

    Raises
    ------
    ValueError
        If the ensemble's or the requested framing is not one of ``FRAMINGS``.
    """
    n = len(objid)
    framed, framing = _frame(ensemble, objid, image, params, pixel_scale_arcsec, petro_r90)
    maps_from, framed_maps = ensemble, framed
    if bar_ensemble is not None and bar_ensemble is not ensemble:
        maps_from = bar_ensemble
        # rows the morphology framing refused are refused here too, with the same reason
        skip = ["; ".join(r) if r else None for r in framed.reasons]
        framed_maps, _ = _frame(bar_ensemble, objid, image, params, pixel_scale_arcsec, petro_r90, skip=skip)
        ok_maps = set(framed_maps.ok_rows)
        keep = [k for k, i in enumerate(framed.ok_rows) if i in ok_maps]
        framed = replace(framed, x=framed.x[keep], ok_rows=[framed.ok_rows[k] for k in keep])
    ok_rows = framed_maps.ok_rows  # == framed.ok_rows
    frac = np.full((n, C.N_OUTPUTS), np.nan, dtype=np.float32)
    spread = np.full((n, C.N_OUTPUTS), np.nan, dtype=np.float32)
    cond, cond_spread = frac.copy(), spread.copy()
    side = maps_from.spec.input_size
    maps = np.zeros((len(maps_from), 0, side, side), np.float32)
    dirichlet = "dirichlet" in ensemble.heads
    dstd = np.full((n, C.N_OUTPUTS), np.nan, np.float32) if dirichlet else None
    feats, cams = None, None
    debiased = None if debias_ensemble is None else np.full((n, 2), np.nan, np.float32)
    if ok_rows:
        x = framed.x.to(ensemble.device).contiguous(memory_format=torch.channels_last)
        preds, variances = (t.cpu().numpy() for t in ensemble.predict_moments(x))  # (M, B, 37) each
        frac[ok_rows] = preds.mean(axis=0)
        spread[ok_rows] = preds.std(axis=0)
        per_question = labels.conditional_from_cumulative(preds)  # per member, then averaged
        cond[ok_rows], cond_spread[ok_rows] = per_question.mean(axis=0), per_question.std(axis=0)
        if dirichlet:  # the Dirichlet members' mean variance
            dstd[ok_rows] = np.sqrt(np.nanmean(variances[[h == "dirichlet" for h in ensemble.heads]], axis=0))
        if embeddings:
            feats = [f.cpu().numpy() for f in ensemble.embed(x)]
        if params.cam != "none":
            from .cam import ensemble_cams

            plus, minus = ensemble_cams(ensemble.models, framed.x.to(ensemble.device), C.ANSWER_NAMES.index(
                params.cam_answer), method=params.cam, layer=params.cam_layer or None)
            cams = (plus.numpy(), minus.numpy())
        if debias_ensemble is not None:
            debiased[ok_rows] = _debiased_pair(debias_ensemble, framed, ensemble, objid, image, params,
                                               pixel_scale_arcsec, petro_r90)
        run = params_for_device(params, maps_from)  # "auto" and chunk 0 decided (measured once per process)
        if params.zoom_steps > 1:
            framed_maps, maps, zoom_length = _zoom_scan(maps_from, framed_maps, objid, image, params,
                                                        pixel_scale_arcsec, petro_r90, run)
        else:
            if maps_from is not ensemble:
                x = framed_maps.x.to(maps_from.device).contiguous(memory_format=torch.channels_last)
            maps = _smoothgrad_within_memory(maps_from, x, params, run.precision, run.chunk_size,
                                             saliency.galaxy_seeds([objid[i] for i in ok_rows], params.seed))
    return EnsembleOutput(framed_maps, frac, spread, cond, cond_spread, maps, framing, dstd, feats, cams,
                          None if cams is None else framed.crop_px, debiased,
                          zoom_length if params.zoom_steps > 1 else None)


def _measure_maps(maps: np.ndarray, data_side: np.ndarray, params: MethodParams) -> tuple[np.ndarray, ...]:
    """Each good row's bar from its members' maps (M, B, S, S), the data filling the central
    ``data_side`` (B,) map pixels: length (map px), threshold and whether it reaches the data's edge."""
    if params.ensemble_method == "maps":
        mean = saliency.restrict_to_data(saliency.ensemble_mean_map(torch.from_numpy(maps)).numpy(), data_side)
        member_maps = [bars.keep_near_centre(mean, params.near_centre)]
    else:
        member_maps = [bars.keep_near_centre(saliency.restrict_to_data(m, data_side), params.near_centre)
                       for m in maps]
    per_model = [bars.measure_bars(m, **bars.readout_keywords(params)) for m in member_maps]
    at_edge = np.any([_reaches_edge(m, r, data_side, params.readout) for m, r in zip(member_maps, per_model)], axis=0)
    return (np.mean([r["length_pix"] for r in per_model], axis=0),
            np.mean([r["threshold"] for r in per_model], axis=0), at_edge)


def _zoom_scan(maps_from: Ensemble, framed: FramedBatch, objid, image, params: MethodParams, pixel_scale_arcsec,
               petro_r90, run: MethodParams) -> tuple[FramedBatch, np.ndarray, np.ndarray]:
    """The bar measured at ``params.zoom_steps`` zooms of the framing from 1 to ``zoom_max`` (the
    field beyond the cutout mirrored) and combined (``bars.combine_zoom_lengths``).

    Returns the rows of ``framed`` as the zoom that weighs most saw them, its maps, and the
    combined lengths (n,) in cutout pixels (NaN where no zoom measured a bar)."""
    n = len(objid)
    skip = ["; ".join(r) if r else None for r in framed.reasons]  # rows refused stay refused
    zooms = np.linspace(1.0, params.zoom_max, params.zoom_steps)
    length_pix, length_frame = np.full((len(zooms), n), np.nan), np.full((len(zooms), n), np.nan)
    views = []
    batches, _ = _frame_zooms(maps_from, objid, image, params, pixel_scale_arcsec, petro_r90, skip,
                              [float(z) for z in zooms], "mirror")
    for k, fb in enumerate(batches):
        maps = np.zeros((len(maps_from), 0) + tuple(fb.x.shape[-2:]), np.float32)
        if fb.ok_rows:
            x = fb.x.to(maps_from.device).contiguous(memory_format=torch.channels_last)
            maps = _smoothgrad_within_memory(maps_from, x, params, run.precision, run.chunk_size,
                                             saliency.galaxy_seeds([objid[i] for i in fb.ok_rows], params.seed))
            length, _, _ = _measure_maps(maps, fb.data_side[fb.ok_rows], params)
            length_pix[k, fb.ok_rows] = length * fb.map_to_original[fb.ok_rows]
            length_frame[k, fb.ok_rows] = length / fb.input_size
        views.append((fb, {row: j for j, row in enumerate(fb.ok_rows)}, maps))
    combined, best = bars.combine_zoom_lengths(length_pix, length_frame, target=params.zoom_target,
                                               width=params.zoom_width)
    xs, shown, crop_px = [], [], framed.crop_px.copy()
    for i in framed.ok_rows:  # shown at its best zoom, or at zoom 1 (which frames every row) if none measured
        fb, pos, maps = views[max(best[i], 0)]
        xs.append(fb.x[pos[i]])
        shown.append(maps[:, pos[i]])
        crop_px[i] = fb.crop_px[i]
    x = torch.stack(xs) if xs else framed.x
    maps = np.stack(shown, axis=1) if shown else views[0][2]
    return replace(framed, x=x, crop_px=crop_px), maps, combined


def _smoothgrad_within_memory(maps_from: Ensemble, x: torch.Tensor, params: MethodParams, precision: str,
                              chunk_size: int, seeds: Sequence[int]) -> np.ndarray:
    """SmoothGrad maps (M, B, H, W) of ``maps_from``, retried with half the chunk each time the
    device runs out of memory (``hardware.smaller_chunk_after_out_of_memory``): the same maps,
    since every galaxy's noise comes from its own seed."""
    chunk = hardware.chunk_that_fits(maps_from.device, chunk_size)
    while True:
        try:
            return saliency.smoothgrad(
                maps_from.members,
                x,
                n_samples=params.n_samples,
                s_noise=params.s_noise,
                x_input=params.x_input,
                target=saliency.score_target(params.score),
                seeds=seeds,
                chunk_size=chunk,
                autocast_dtype=torch.bfloat16 if precision == "bf16" else None,
                gradients=params.gradients,
                symmetry=params.symmetry,
            ).cpu().numpy()
        except RuntimeError as exc:
            if not hardware.is_out_of_memory(exc) or chunk <= 1:
                raise
            smaller = hardware.smaller_chunk_after_out_of_memory(maps_from.device, chunk)
            print(f"out of memory on {maps_from.device} with {chunk} images per pass: retrying with {smaller}",
                  flush=True)
            chunk = smaller


def _debiased_pair(debias: Ensemble, framed: FramedBatch, ensemble: Ensemble, objid, image, params,
                   pixel_scale_arcsec, petro_r90) -> np.ndarray:
    """(len(framed.ok_rows), 2) de-biased (smooth, featured) probabilities of the DDB ensemble, on
    the cutouts framed as it was trained (NaN for a row its framing refuses)."""
    geometry = lambda e: (e.spec.input_size, e.spec.crop_fraction, e.framing)  # noqa: E731
    if geometry(debias) == geometry(ensemble):
        return _debiased_probabilities(debias, framed.x)
    skip = ["; ".join(r) if r else None for r in framed.reasons]  # rows already refused stay refused
    again, _ = _frame(debias, objid, image, params, pixel_scale_arcsec, petro_r90, skip=skip)
    out = np.full((len(framed.ok_rows), 2), np.nan, np.float32)
    if again.ok_rows:  # a subset of framed.ok_rows
        pos = {r: k for k, r in enumerate(framed.ok_rows)}
        out[[pos[r] for r in again.ok_rows]] = _debiased_probabilities(debias, again.x)
    return out


@torch.inference_mode()
def _debiased_probabilities(debias: Ensemble, x: torch.Tensor) -> np.ndarray:
    x = x.to(debias.device).contiguous(memory_format=torch.channels_last)
    sl = C.question_slices()["smooth_or_featured"]
    return torch.stack([torch.softmax(m(x)[:, sl.start : sl.start + 2].float(), dim=1)
                        for m in debias.members]).mean(0).cpu().numpy()


def measure_and_convert(
    inferred: EnsembleOutput,
    *,
    objid: Sequence[int],
    redshift: Sequence[float | None] | None,
    pixel_scale_arcsec: Sequence[float | None] | None = None,
    petro_r90: Sequence[float | None] | None = None,
    params: MethodParams = MethodParams(),
    cosmology: Cosmology | None = None,
    isophote: tuple[np.ndarray, list[str]] | None = None,
    psf_fwhm: Sequence[float | None] | None = None,
    petro_r50: Sequence[float | None] | None = None,
    image: Sequence[bytes | None] | None = None,
) -> dict[str, np.ndarray]:
    """Bar lengths from the maps, in pixels, arcsec and kpc, and every row's status (CPU only).

    ``isophote``: the classical lengths (original pixels) and statuses of ``isophote_lengths``.
    ``psf_fwhm`` (the survey's PSF FWHMs, arcsec): also the resolution alpha of each galaxy
    (``resolution_alpha``); ``image`` lets it measure a size where no Petrosian radius is given.

    Raises
    ------
    ValueError
        If ``cosmology`` is None and ``params.cosmology`` is not an astropy realization.
    """
    n, ok_rows = inferred.n, inferred.ok_rows
    reasons = [list(r) for r in inferred.reasons]
    flags = np.zeros(n, np.int32)  # columns.FLAG_BITS, set beside each reason
    ok_set = set(ok_rows)
    for i in range(n):
        if i not in ok_set:
            flags[i] |= C.FLAG["objid_missing"] if objid[i] is None else C.FLAG["image_unusable"]
    cosmo = cosmology if cosmology is not None else units.get_cosmology(params.cosmology)
    length_map = np.full(n, np.nan)
    threshold = np.full(n, np.nan)
    at_edge = np.zeros(n, bool)
    if ok_rows:
        length_map[ok_rows], threshold[ok_rows], at_edge[ok_rows] = _measure_maps(
            inferred.maps, inferred.data_side[ok_rows], params)
    # a zoom scan's length combines several framings; the map shown is its best zoom's
    raw = length_map * inferred.map_to_original if inferred.zoom_length_pix is None else inferred.zoom_length_pix
    length_pix = raw * params.length_scale
    for i in ok_rows:
        if not np.isfinite(length_pix[i]):
            reasons[i].append("saliency map flat: no bar length")
            flags[i] |= C.FLAG["saliency_flat"]

    given_scale, given_petro = _float_array(pixel_scale_arcsec, n), _float_array(petro_r90, n)
    scale = units.pixel_scale(given_scale, given_petro)
    z = _float_array(redshift, n)
    arcsec, kpc, kpc_h = units.physical_lengths(length_pix, scale, z, cosmo)
    for i in ok_rows:
        if not np.isfinite(length_pix[i]):
            continue
        if not np.isfinite(arcsec[i]):
            flags[i] |= C.FLAG["no_pixel_scale"]
            if not (_given(pixel_scale_arcsec, i) or _given(petro_r90, i)):
                reasons[i].append("no pixel scale: arcsec and kpc not computed")
            else:
                given = {k: v[i] for k, v in (("pixel_scale", pixel_scale_arcsec), ("petroR90_r", petro_r90))
                         if v is not None}
                shown = ", ".join(f"{k} {_show(v)}" for k, v in given.items())
                reasons[i].append(f"pixel scale unusable ({shown}; usable: 0 to {units.MAX_PIXEL_SCALE_ARCSEC:g} "
                                  "arcsec/px): arcsec and kpc not computed")
        elif not np.isfinite(kpc[i]):
            flags[i] |= C.FLAG["no_redshift"]
            if not _given(redshift, i):
                reasons[i].append("no redshift: kpc not computed")
            else:
                reasons[i].append(f"redshift {_show(redshift[i])} unusable: kpc not computed")

    ids = list(objid)
    out: dict[str, np.ndarray] = {C.OBJID: np.array(ids, dtype=object if None in ids else np.int64)}
    for names, values in ((C.FRACTION_COLUMNS, inferred.conditional), (C.SPREAD_COLUMNS, inferred.conditional_spread),
                          (C.CUMULATIVE_COLUMNS, inferred.fractions), (C.CUMULATIVE_SPREAD_COLUMNS, inferred.spread),
                          (C.DIRICHLET_STD_COLUMNS, inferred.dirichlet_std)):
        if values is not None:
            out.update({name: values[:, j] for j, name in enumerate(names)})
    out[C.BAR_LENGTH_PIX] = length_pix.astype(np.float32)
    out[C.BAR_LENGTH_ARCSEC] = arcsec.astype(np.float32)
    out[C.BAR_LENGTH_KPC] = kpc.astype(np.float32)
    if params.kpc_h:
        out[C.BAR_LENGTH_KPC_H] = kpc_h.astype(np.float32)
    out[C.BAR_THRESHOLD] = threshold.astype(np.float32)
    out[C.BAR_REACHES_EDGE] = np.array([bool(e) if np.isfinite(v) else None for e, v in zip(at_edge, length_pix)],
                                       dtype=object)
    if psf_fwhm is not None:
        alpha, source = resolution_alpha(ok_rows, psf_fwhm, petro_r50, petro_r90, scale, image)
        out[C.RESOLUTION_ALPHA] = alpha.astype(np.float32)
        out[C.RESOLUTION_ALPHA_SOURCE] = source
        for i in ok_rows:
            if not np.isfinite(alpha[i]):
                flags[i] |= C.FLAG["no_resolution"]
                reasons[i].append("no usable PSF FWHM or galaxy size: resolution_alpha not computed")
    if inferred.debiased is not None:
        out[C.DEBIASED_COLUMNS[0]], out[C.DEBIASED_COLUMNS[1]] = inferred.debiased[:, 0], inferred.debiased[:, 1]
    iso_pix = np.full(n, np.nan) if isophote is None else isophote[0]
    out[C.BAR_LENGTH_ISOPHOTE_PIX] = iso_pix.astype(np.float32)
    out[C.BAR_LENGTH_ISOPHOTE_ARCSEC] = (iso_pix * scale).astype(np.float32)
    out[C.ISOPHOTE_STATUS] = np.array(["not requested (--isophote)"] * n if isophote is None else isophote[1],
                                      dtype=object)
    out[C.STATUS] = np.array(["; ".join(r) if r else C.STATUS_OK for r in reasons], dtype=object)
    flags[at_edge & np.isfinite(length_pix)] |= C.FLAG["bar_reaches_edge"]
    if isophote is not None:
        flags[np.array([s != C.STATUS_OK for s in isophote[1]], bool)] |= C.FLAG["isophote_failed"]
    out[C.FLAGS] = flags
    return out


def _reaches_edge(maps: np.ndarray, measured: dict, data_side: np.ndarray, readout: str) -> np.ndarray:
    """Whether each measured bar may continue beyond the data: Algorithm 1's mask touches its edge,
    or an end of the axis profile lies at it."""
    if readout == "axis_profile":
        return saliency.ends_reach_edge(measured["ends"], maps.shape[-2:], data_side)
    return saliency.bar_reaches_edge(maps, measured["threshold"], data_side)


def resolution_alpha(ok_rows: Sequence[int], psf_fwhm, petro_r50, petro_r90, pixel_scale: np.ndarray,
                     image: Sequence[bytes | None] | None) -> tuple[np.ndarray, np.ndarray]:
    """Each row's alpha = size / PSF FWHM (seed 003) and which size it used: petroR50_r, else
    petroR90_r, else an R90 measured on the image times the pixel scale (None where none)."""
    from .preprocess import decode_image, measure_r90_pixels
    from .resolution import alpha as ratio

    n = len(pixel_scale)
    psf = _float_array(psf_fwhm, n)
    size, source = np.full(n, np.nan), np.full(n, None, dtype=object)
    for name, values in (("petroR50_r", petro_r50), ("petroR90_r", petro_r90)):
        v = _float_array(values, n)
        use = np.isnan(size) & (v > 0)
        size[use], source[use] = v[use], name
    for i in ok_rows:
        if np.isnan(size[i]) and image is not None and np.isfinite(pixel_scale[i]) and np.isfinite(psf[i]):
            size[i], source[i] = measure_r90_pixels(decode_image(image[i])) * pixel_scale[i], "measured R90"
    a = ratio(size, psf)
    source[~np.isfinite(a)] = None
    return a, source


def classify_batch(
    ensemble: Ensemble,
    *,
    objid: Sequence[int],
    image: Sequence[bytes | None],
    redshift: Sequence[float | None] | None,
    pixel_scale_arcsec: Sequence[float | None] | None = None,
    petro_r90: Sequence[float | None] | None = None,
    params: MethodParams = MethodParams(),
    cosmology: Cosmology | None = None,
    bar_ensemble: Ensemble | None = None,
    psf_fwhm: Sequence[float | None] | None = None,
    petro_r50: Sequence[float | None] | None = None,
    debias_ensemble: Ensemble | None = None,
) -> dict[str, np.ndarray]:
    """Catalogue columns (``columns.result_column_names``) for one batch of galaxies.

    ``bar_ensemble``: the ensemble whose maps measure the bars (see ``run_ensemble``).
    Bad rows get nulls and a status, never an exception.

    Raises
    ------
    ValueError
        If the ensemble's or the requested framing is not one of ``FRAMINGS``, or ``cosmology``
        is None and ``params.cosmology`` is not an astropy realization.
    """
    inferred = run_ensemble(ensemble, objid=objid, image=image, params=params, pixel_scale_arcsec=pixel_scale_arcsec,
                            petro_r90=petro_r90, bar_ensemble=bar_ensemble, debias_ensemble=debias_ensemble)
    iso = isophote_lengths(image, inferred.ok_rows) if params.isophote else None
    return measure_and_convert(inferred, objid=objid, redshift=redshift, pixel_scale_arcsec=pixel_scale_arcsec,
                               petro_r90=petro_r90, params=params, cosmology=cosmology, isophote=iso,
                               psf_fwhm=psf_fwhm, petro_r50=petro_r50, image=image)


def isophote_lengths(image: Sequence[bytes | None], ok_rows: Sequence[int]) -> tuple[np.ndarray, list[str]]:
    """The classical isophote bar length (original pixels) and its status for each row; rows the
    models could not use are not fitted either."""
    from .isophotes import isophote_bar_length
    from .preprocess import decode_image

    lengths = np.full(len(image), np.nan)
    status = ["image not usable"] * len(image)
    for i in ok_rows:
        res = isophote_bar_length(decode_image(image[i]).astype(np.float64).mean(axis=2))
        lengths[i], status[i] = res.length_pix, res.status
    return lengths, status
