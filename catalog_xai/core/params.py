"""Every parameter of the method, in one place: its name, its default (the paper's) and its help.

``MethodParams`` is the single source of the method's defaults.  It travels as one
object from the command line (whose options are generated from its fields, see
``catalog_xai.cli.options``) through the Ray actors to the kernels, whose own keyword
defaults read ``PAPER``.  The names are the paper's (Bhambra, Joachimi & Lahav 2022):
N, S_noise, X_input, Tc, Tl.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .units import DEFAULT_COSMOLOGY

#: Linearity statistics of Algorithm 1: the paper's |Pearson r| of the pixel coordinates, and
#: the rotation-invariant eigenvalue elongation (lambda1 - lambda2) / (lambda1 + lambda2).
LINEARITY_CRITERIA = ("pearson", "eigen")
#: Paper §4.5: (iv) measure the bar on the members' averaged map, (v) average the members' lengths.
ENSEMBLE_METHODS = ("maps", "lengths")
#: native: the cutouts already have the models' framing (GZ2: 0.02 petroR90_r arcsec/px);
#: petrosian: reframe each cutout to GZ2 framing from petroR90_r and its pixel scale;
#: measured: reframe from an R90 measured on the image (for surveys without photometry).
FRAMINGS = ("native", "petrosian", "measured")
#: auto: bf16 where the device runs it natively (CUDA with bf16, CPUs with AMX or AVX-512 BF16),
#: else fp32 (core.hardware).
PRECISIONS = ("auto", "fp32", "bf16")
#: The score SmoothGrad differentiates: the paper's cumulative Class3.1 logit, or the contrast
#: Class3.1 - Class3.2 of the bar question's two answers (specific to "barred rather than not",
#: where the cumulative score also explains "this is a face-on disk").
SCORES = ("cumulative", "contrastive")
#: How SmoothGrad aggregates the noisy copies' input gradients g: the paper's mean |g|, SmoothGrad²
#: (mean g²; Hooker et al. 2019), VarGrad (the variance of g over the copies; Adebayo et al. 2018),
#: or positive: the mean signed g summed over the colour channels and clipped at 0, the pixels whose
#: brightening raises the score (Smilkov et al. 2017's signed SmoothGrad): |g| also lights the
#: negative lobes round a structure's ends, which lengthen a bar (round M of the bar-lab notebook).
GRADIENTS = ("abs", "square", "var", "positive")
#: none: the paper's SmoothGrad; dihedral: copy k of the N noisy copies is shown to the network
#: rotated by 90° x (k mod 4) and mirrored when (k mod 8) >= 4, and its gradient mapped back, so
#: the map averages the network over the square's 8 symmetries for the same N passes (a bar's map
#: no longer depends on how its angle sits on the network's pixel grid).
SYMMETRIES = ("none", "dihedral")
#: How a bar is read from its map: the paper's Algorithm 1, or its profile along the bar's axis
#: (``bars.measure_bar_profile``: the outermost points of a strip along the map's central
#: elongation at or above a fraction of its peak).
READOUTS = ("algorithm1", "axis_profile")
#: Largest zoom of the framing a bar is measured at: beyond it the galaxy fills a few map pixels.
MAX_ZOOM = 4.0
#: Class-activation maps beside SmoothGrad (core.cam), written with the saved maps.
CAMS = ("none", "hirescam", "gradcam")


def _opt(default: Any, help: str, **extra):
    """A field whose metadata carries its command-line help (and choices, where it has them)."""
    return field(default=default, metadata={"help": help, **extra})


@dataclass(frozen=True)
class MethodParams:
    """The method's parameters, defaulting to the paper's choices.

    Raises
    ------
    ValueError
        On construction, naming every parameter that is out of range.
    """

    n_samples: int = _opt(256, "SmoothGrad N: noisy copies per galaxy and model")
    s_noise: float = _opt(0.1, "SmoothGrad S_noise: noise sigma as a fraction of each image's value range")
    x_input: bool = _opt(False, "X_input: multiply each map by the greyscale image before measuring")
    tc: float = _opt(0.85, "Algorithm 1 linearity threshold Tc")
    tl: int = _opt(30, "Algorithm 1 minimum pixel count Tl")
    linearity: str = _opt("pearson", "Algorithm 1 linearity statistic: the paper's |Pearson r| or the "
                                     "rotation-invariant eigenvalue elongation", choices=LINEARITY_CRITERIA)
    ensemble_method: str = _opt("maps", "maps: measure the averaged map (paper iv); lengths: average the "
                                        "members' lengths (paper v)", choices=ENSEMBLE_METHODS)
    framing: str | None = _opt(None, "how cutouts are framed for the models; default: as the ensemble was trained "
                                     "(its manifest). native: already GZ2-framed; petrosian: from petroR90_r; "
                                     "measured: from a size measured on each image", choices=FRAMINGS)
    score: str = _opt("cumulative", "the logit SmoothGrad explains: the paper's cumulative Class3.1, or "
                                     "contrastive Class3.1 - Class3.2", choices=SCORES)
    gradients: str = _opt("abs", "how the noisy copies' input gradients are averaged: abs (the paper's mean |g|), "
                                 "square (SmoothGrad^2), var (VarGrad) or positive (the signed mean, clipped at 0)",
                          choices=GRADIENTS)
    symmetry: str = _opt("none", "none: the paper's SmoothGrad; dihedral: the N noisy copies also cycle through the "
                                 "8 rotations/flips of the frame, gradients mapped back (same N; ~12% slower)",
                          choices=SYMMETRIES)
    near_centre: float = _opt(0.0, "Algorithm 1 sees only the map's regions above its first threshold (0.5, "
                                   "pieces up to 4 px apart joined) that come within this fraction of the map's "
                                   "side of its centre, and axis_profile only its runs that do: a bar is central, "
                                   "a neighbour or star is not. 0: every pixel (the paper)")
    readout: str = _opt("algorithm1", "how the bar is read from its map: the paper's Algorithm 1 (Tc, Tl, "
                                      "linearity), or axis_profile: the map's profile along the bar's axis, its "
                                      "length between the outermost points at or above --profile-fraction of the "
                                      "peak", choices=READOUTS)
    profile_fraction: float = _opt(0.3, "axis_profile: the fraction of the profile's peak that marks the bar's ends")
    profile_width: int = _opt(8, "axis_profile: width in map pixels of the strip along the axis (each profile "
                                 "sample is the strip's maximum across it)")
    profile_symmetric: bool = _opt(False, "axis_profile: read the bar as point-symmetric: each profile sample is "
                                          "the smaller of it and its mirror through the centre, so an arm, ring "
                                          "piece or neighbour on one side only does not lengthen the bar")
    zoom_steps: int = _opt(1, "measure the bar at this many zooms of the framing, evenly from 1 to --zoom-max, and "
                              "combine them (bars.combine_zoom_lengths): a bar the framing shows larger than the "
                              "models learnt is also seen smaller, the missing field mirrored. 1: the framing alone")
    zoom_max: float = _opt(2.0, "the largest zoom of the scan (2: the frame twice as wide, the galaxy half as large)")
    zoom_target: float = _opt(0.36, "zoom scan: the bar length, as a fraction of the frame's side, at which a "
                                    "zoom's length weighs most")
    zoom_width: float = _opt(0.35, "zoom scan: the width in natural log of each zoom's weight round --zoom-target")
    isophote: bool = _opt(False, "also measure the classical isophote bar length (photutils ellipse fits; "
                                 "about 1 s of CPU per galaxy)")
    length_scale: float = _opt(1.0, "calibration factor on every bar length (1 = raw SmoothGrad lengths; "
                                    "fitted by cxai-tune)")
    cosmology: str = _opt(DEFAULT_COSMOLOGY, "astropy cosmology realization for kpc")
    kpc_h: bool = _opt(False, "also write bar_length_kpc_h (h^-1 kpc)")
    seed: int = _opt(0, "SmoothGrad noise seed (each galaxy's noise is seeded from it and its objid)")
    cam: str = _opt("none", "class-activation maps beside SmoothGrad in the saved maps (--save-maps): HiResCAM or "
                            "Grad-CAM of --cam-answer from the morphology ensemble", choices=CAMS)
    cam_answer: str = _opt("bar_yes", "the GZ2 answer the class-activation maps explain "
                                      "(e.g. smooth_or_featured_smooth)")
    cam_layer: str = _opt("", "module name of the CAM layer (default: the last convolutional block)")
    chunk_size: int = _opt(0, "noisy images per forward/backward pass (speed and memory, not results); 0: the "
                              "fastest, measured on the device when an actor starts", speed_only=True)
    precision: str = _opt("auto", "auto: bf16 autocast where the device runs bf16 natively (AMX, AVX-512 BF16, "
                                  "CUDA), else fp32; or fp32, bf16", choices=PRECISIONS)

    def __post_init__(self) -> None:
        problems = []
        if self.n_samples < 1:
            problems.append(f"n_samples must be >= 1 (got {self.n_samples})")
        if not 0 <= self.s_noise <= 10:
            problems.append(f"s_noise must be in [0, 10] (got {self.s_noise})")
        if not 0 < self.tc <= 1:
            problems.append(f"tc must be in (0, 1] (got {self.tc})")
        if self.tl < 0:
            problems.append(f"tl must be >= 0 (got {self.tl})")
        if not 0 <= self.near_centre <= 1:
            problems.append(f"near_centre must be in [0, 1], a fraction of the map's side (got {self.near_centre})")
        if not 0 < self.profile_fraction <= 1:
            problems.append(f"profile_fraction must be in (0, 1] (got {self.profile_fraction})")
        if not 1 <= self.zoom_steps <= 16:
            problems.append(f"zoom_steps must be in [1, 16] (got {self.zoom_steps})")
        if not 1 <= self.zoom_max <= MAX_ZOOM:
            problems.append(f"zoom_max must be in [1, {MAX_ZOOM:g}] (got {self.zoom_max})")
        if not 0 < self.zoom_target <= 1:
            problems.append(f"zoom_target must be in (0, 1] of the frame's side (got {self.zoom_target})")
        if not 0 < self.zoom_width <= 10:
            problems.append(f"zoom_width must be in (0, 10] (got {self.zoom_width})")
        if not 0 <= self.profile_width <= 64:
            problems.append(f"profile_width must be in [0, 64] map pixels (got {self.profile_width})")
        if not 0 < self.length_scale < 100:
            problems.append(f"length_scale must be in (0, 100) (got {self.length_scale})")
        if self.chunk_size < 0:
            problems.append(f"chunk_size must be >= 0, 0 for measured (got {self.chunk_size})")
        from ..columns import ANSWER_NAMES

        if self.cam_answer not in ANSWER_NAMES:
            problems.append(f"cam_answer must be a GZ2 answer such as bar_yes (got {self.cam_answer!r})")
        for f in fields(self):
            choices = f.metadata.get("choices")
            value = getattr(self, f.name)
            if choices and value is not None and value not in choices:
                problems.append(f"{f.name} must be one of {choices} (got {value!r})")
        if problems:
            raise ValueError("Invalid method parameters: " + "; ".join(problems))

    def to_dict(self) -> dict:
        """The parameters as a plain dict (JSON/YAML-ready)."""
        return asdict(self)

    def identity(self) -> dict:
        """The parameters that decide what a job computes (not how fast): a job's identity."""
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.metadata.get("speed_only")}

    @classmethod
    def from_dict(cls, d: dict) -> MethodParams:
        """Parameters from a dict such as a job file's ``method`` section.

        Raises
        ------
        ValueError
            For a key that is not a parameter (named, with the known ones), or a value out of range.
        """
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"Unknown method parameter(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**d)


#: The paper's parameters: the defaults every kernel's keywords read.
PAPER = MethodParams()
