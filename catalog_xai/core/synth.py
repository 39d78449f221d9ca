"""Synthetic GZ2-style galaxy survey with known truth (the embedded default).

Each galaxy is rendered at 424x424 in the GZ2 framing (0.02 x petroR90_r arcsec per
pixel, so R90 always spans 50 pixels): a Sersic bulge or elliptical, an inclined
exponential disk, a Ferrers bar of known length and angle, logarithmic spiral arms,
a Gaussian PSF, sky and photon noise, a few stars and neighbours, an asinh colour
stretch and JPEG compression.  Simulated volunteers answer the GZ2 tree from the
truth, giving cumulative vote fractions with realistic multinomial scatter.

Pure numpy: ``render_galaxy`` returns an array and a truth dict; ``make_catalogue``
returns column arrays.  Writing shards is the job of :mod:`catalog_xai.io`.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from .. import columns as C
from .units import kpc_per_arcsec

IMAGE_SIZE = 424
R90_PIX = 1.0 / C.GZ2_PIXEL_SCALE_PER_PETRO  # 50 px: R90 in GZ2-framed pixels
PSF_FWHM_ARCSEC = 1.4  # typical SDSS r-band seeing
SKY_NOISE_STRETCHED = (0.002, 0.012)  # rms sky noise per pixel after the stretch (SDSS cutouts: ~0.0025)
STRETCH_SOFTENING = (80, 200)  # asinh softening of the colour stretch (calibrated in docs/bar-lab-notebook.md)

# RGB colour of each component (SDSS gri composite: old stars red, young stars blue).
_COLOURS = {  # linear; with the Lupton stretch they match the 36 Hoyle cutouts' centre-to-disk colours
    "bulge": np.array([1.0, 0.80, 0.42]),
    "disk": np.array([1.0, 0.88, 0.64]),
    "arms": np.array([0.8, 0.85, 0.9]),
    "bar": np.array([1.0, 0.83, 0.48]),
    "star": np.array([0.95, 0.95, 1.0]),
}

#: The alt renderer's palette: more saturated, as its per-channel stretch washes colours out.
_ALT_COLOURS = {
    "bulge": np.array([1.0, 0.45, 0.08]),
    "disk": np.array([1.0, 0.65, 0.25]),
    "arms": np.array([0.55, 0.7, 1.0]),
    "bar": np.array([1.0, 0.5, 0.12]),
    "star": np.array([0.95, 0.95, 1.0]),
}
RENDER_STYLES = ("train", "alt")


def _sersic(r: np.ndarray, re: float, n: float) -> np.ndarray:
    b = 2.0 * n - 1.0 / 3.0 + 0.009876 / n
    return np.exp(-b * ((r / re) ** (1.0 / n) - 1.0))


def _rotate(x: np.ndarray, y: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    c, s = np.cos(angle), np.sin(angle)
    return c * x + s * y, -s * x + c * y


def _moffat_psf_fft(shape: tuple[int, int], fwhm_pix: float, beta: float = 3.0) -> np.ndarray:
    """Fourier transform of a centred, unit-sum Moffat PSF (for the alt renderer)."""
    alpha = fwhm_pix / (2.0 * np.sqrt(2.0 ** (1.0 / beta) - 1.0))
    yy = np.fft.fftfreq(shape[0])[:, None] * shape[0]
    xx = np.fft.fftfreq(shape[1])[None, :] * shape[1]
    psf = (1.0 + (xx**2 + yy**2) / alpha**2) ** (-beta)
    return np.fft.rfft2(psf / psf.sum())


def _gaussian_psf_fft(shape: tuple[int, int], sigma_pix: float) -> np.ndarray:
    ky = np.fft.fftfreq(shape[0])[:, None]
    kx = np.fft.rfftfreq(shape[1])[None, :]
    return np.exp(-2.0 * (np.pi * sigma_pix) ** 2 * (kx**2 + ky**2))


_Z_GRID = np.linspace(0.005, 0.3, 600)
_KPC_GRID: np.ndarray | None = None


def _kpc_grid() -> np.ndarray:
    """Planck18 kpc per arcsec on ``_Z_GRID``, computed once (astropy per call would dominate
    rendering time)."""
    global _KPC_GRID
    if _KPC_GRID is None:
        _KPC_GRID = kpc_per_arcsec(_Z_GRID)
    return _KPC_GRID


def _kpc_per_arcsec(z: float) -> float:
    return float(np.interp(z, _Z_GRID, _kpc_grid()))


def sample_truth(rng: np.random.Generator, *, size_independent_of_class: bool = False) -> dict:
    """Draw the physical and morphological parameters of one galaxy.

    ``size_independent_of_class``: disks and smooth galaxies share one size distribution (by
    default disks are larger), so that the true class does not depend on the resolution, as
    seed 003's bias statistics assume.
    """
    t: dict = {}
    t["redshift"] = float(rng.uniform(0.02, 0.10))
    t["is_disk"] = bool(rng.random() < 0.72)
    median_kpc = 8.0 if size_independent_of_class else (9.0 if t["is_disk"] else 7.0)
    r90_kpc = float(rng.lognormal(np.log(median_kpc), 0.3))
    t["petroR90_r"] = r90_kpc / _kpc_per_arcsec(t["redshift"])
    t["cos_i"] = float(rng.uniform(0.08, 1.0)) if t["is_disk"] else 1.0
    t["edge_on"] = t["is_disk"] and t["cos_i"] < 0.3
    t["pa"] = float(rng.uniform(0, np.pi))
    t["bulge_to_total"] = float(rng.uniform(0.0, 0.45)) if t["is_disk"] else 1.0
    t["axis_ratio"] = float(rng.uniform(0.35, 1.0)) if not t["is_disk"] else t["cos_i"]
    t["has_bar"] = t["is_disk"] and t["cos_i"] > 0.45 and rng.random() < 0.55
    t["bar_a_pix"] = float(rng.uniform(0.2, 0.6) * R90_PIX) if t["has_bar"] else 0.0
    t["bar_q"] = float(rng.uniform(0.2, 0.35))
    t["bar_phi"] = float(rng.uniform(0, np.pi))  # bar angle in the disk plane, from the line of nodes
    t["bar_strength"] = float(rng.uniform(0.2, 0.6)) if t["has_bar"] else 0.0
    # Arms as common in barred as in unbarred disks: nothing but the bar may tell a bar is there.
    t["has_arms"] = t["is_disk"] and not t["edge_on"] and rng.random() < 0.62
    t["arm_count"] = int(rng.choice([1, 2, 3, 4, 5], p=[0.05, 0.65, 0.15, 0.1, 0.05]))
    t["arm_pitch_deg"] = float(rng.uniform(8, 35))
    t["arm_amplitude"] = float(rng.uniform(0.3, 0.9)) if t["has_arms"] else 0.0
    t["n_stars"] = int(rng.poisson(1.0))
    t["n_neighbours"] = int(rng.poisson(0.7))
    t["merger"] = bool(rng.random() < 0.04)
    return set_bar_semi_major(t, t["bar_a_pix"])


def set_bar_semi_major(t: dict, a_pix: float) -> dict:
    """Give ``t``'s bar the semi-major axis ``a_pix`` (disk plane, GZ2-framed pixels) and update
    what follows from it: the projected length (pix, arcsec, kpc) and angle.  Returns ``t``."""
    t["bar_a_pix"] = a_pix
    # Projected bar (what the image shows): end points (±a, 0) in the disk plane.
    phi = t["bar_phi"]
    half = a_pix * np.hypot(np.cos(phi), np.sin(phi) * t["cos_i"])
    t["bar_length_pix"] = 2.0 * half
    t["bar_angle_deg"] = float(
        np.degrees(t["pa"] + np.arctan2(np.sin(phi) * t["cos_i"], np.cos(phi))) % 180.0
    ) if t["has_bar"] else float("nan")
    if t.get("arms_at_bar_ends"):  # arms that leave the bar's ends move with them
        _start_arms(t, a_pix, phi)
    pix_arcsec = C.GZ2_PIXEL_SCALE_PER_PETRO * t["petroR90_r"]
    t["pixel_scale_arcsec"] = pix_arcsec
    t["bar_length_arcsec"] = t["bar_length_pix"] * pix_arcsec
    t["bar_length_kpc"] = t["bar_length_arcsec"] * _kpc_per_arcsec(t["redshift"])
    return t


def set_arm_start(t: dict, rng: np.random.Generator, probability: float) -> dict:
    """With ``probability``, give a face-on-enough disk grand-design arms that start sharply at a
    radius: at the bar's two ends, phase-locked to them, in a barred disk (as in most real barred
    spirals, whose arms leave the bar's ends and which a saliency map must not take for more bar);
    at a radius drawn like the bar's in an unbarred one, so that a sharp arm start tells nothing of
    whether there is a bar.  Draws from ``rng`` only when ``probability`` > 0; returns ``t``.
    """
    if probability <= 0 or not t["is_disk"] or t["edge_on"] or rng.random() >= probability:
        return t
    t.update(has_arms=True, arm_count=2, arm_amplitude=float(rng.uniform(0.5, 0.9)), arm_ramp_h=0.15)
    if t["has_bar"]:  # at the bar's ends in the disk plane (``_bar_frame``'s axis), and kept there
        t["arms_at_bar_ends"] = True
        return _start_arms(t, t["bar_a_pix"], t["bar_phi"])
    return _start_arms(t, float(rng.uniform(0.2, 0.6) * R90_PIX), float(rng.uniform(0, np.pi)))


def _start_arms(t: dict, radius: float, azimuth: float) -> dict:
    """Arms of ``t`` that start at ``radius`` (disk plane, GZ2-framed pixels) at ``azimuth``."""
    t["arm_start_pix"] = radius
    t["arm_phase"] = azimuth - np.log(max(radius, 1.0)) / np.tan(np.radians(t["arm_pitch_deg"]))
    return t


#: The real tuning cutouts' regime (../shared/data/hoyle_bar_lengths): nearby galaxies that fill
#: a 128-px cutout at ~0.2"/px (R90 50-80 px, so 7-11 seeing FWHMs) with bars 0.35-0.8 R90 in
#: semi-major axis (full lengths ~40-140 px).
FRAME_FILLING_R90_PX = (50.0, 80.0)
FRAME_FILLING_ARCSEC_PER_PX = (0.15, 0.25)
FRAME_FILLING_BAR_A_R90 = (0.35, 0.8)


def fill_frame(t: dict, rng: np.random.Generator, size: int = 128) -> float:
    """Move ``t`` into the real tuning cutouts' regime and return the pixel scale (arcsec per
    pixel) to render it at (``render_galaxy``'s ``pixel_scale_arcsec``) in a ``size``-px cutout.

    R90 spans ``FRAME_FILLING_R90_PX`` x size / 128 pixels of ``FRAME_FILLING_ARCSEC_PER_PX``: the
    galaxy moves nearer (its redshift from its physical size), so that seeing blurs it as much as
    it does the real ones; a barred disk's bar gets a semi-major axis drawn from
    ``FRAME_FILLING_BAR_A_R90``.  The lab's other generated bars are 19-47 px in the models'
    frame, the real ones 34-97 (docs/bar-lab-notebook.md, rounds L and N).
    """
    r90_px = float(rng.uniform(*FRAME_FILLING_R90_PX)) * size / 128
    scale = float(rng.uniform(*FRAME_FILLING_ARCSEC_PER_PX))
    r90_kpc = t["petroR90_r"] * _kpc_per_arcsec(t["redshift"])
    t["petroR90_r"] = r90_px * scale
    t["redshift"] = float(np.interp(r90_kpc / t["petroR90_r"], _kpc_grid(), _Z_GRID))
    a_r90 = float(rng.uniform(*FRAME_FILLING_BAR_A_R90)) if t["has_bar"] else 0.0
    set_bar_semi_major(t, a_r90 * R90_PIX)
    return scale


def _texture(shape: tuple[int, int], scale_px: float, amplitude: float, seed: int) -> np.ndarray:
    """A log-normal multiplicative field of mean 1: white noise smoothed over ``scale_px``,
    exp(amplitude x unit-variance field - amplitude^2 / 2)."""
    from scipy import ndimage

    g = ndimage.gaussian_filter(np.random.default_rng(seed).standard_normal(shape), max(scale_px, 0.5))
    g /= max(float(g.std()), 1e-12)
    return np.exp(amplitude * g - amplitude**2 / 2)


def set_disk_texture(t: dict, rng: np.random.Generator, probability: float) -> dict:
    """With ``probability``, give a disk clumpy texture (star-forming knots, flocculent light):
    real disks have it, the generator's smooth disks do not.  Amplitude 0.2-0.6 in log, clumps
    0.05-0.15 disk scale lengths.  Draws from ``rng`` only when ``probability`` > 0; returns ``t``."""
    if probability <= 0 or not t["is_disk"] or rng.random() >= probability:
        return t
    t.update(disk_texture=float(rng.uniform(0.2, 0.6)), texture_scale_h=float(rng.uniform(0.05, 0.15)),
             texture_seed=int(rng.integers(2**31)))
    return t


def set_nucleus(t: dict, rng: np.random.Generator, probability: float) -> dict:
    """With ``probability``, give a disk an unresolved nucleus holding 0.5-4 % of the galaxy's
    light, as most of the real SDSS barred galaxies show (the generator's bulges are smooth Sersic
    profiles).  Draws from ``rng`` only when ``probability`` > 0; returns ``t``."""
    if probability > 0 and t["is_disk"] and rng.random() < probability:
        t["nucleus_fraction"] = float(rng.uniform(0.005, 0.04))
    return t


def _bar_frame(t: dict, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coordinates along and across the bar in the disk plane, from the galaxy's (u, v) (major,
    minor axis in the image), and the bar's squared elliptical radius m^2 (1 on its outline)."""
    bu, bv = _rotate(u, v / max(t["cos_i"], 0.08), t["bar_phi"])
    return bu, bv, (bu / t["bar_a_pix"]) ** 2 + (bv / (t["bar_q"] * t["bar_a_pix"])) ** 2


def render_galaxy(t: dict, rng: np.random.Generator, size: int = IMAGE_SIZE, *,
                  pixel_scale_arcsec: float | None = None, style: str = "train") -> np.ndarray:
    """Render the truth ``t`` as a uint8 RGB cutout of ``size`` pixels.

    By default in the GZ2 framing (0.02 petroR90_r arcsec per 424-px pixel, scaled to
    ``size``); with ``pixel_scale_arcsec``, at that scale instead (e.g. 0.2 for SDSS-like
    tight cutouts).  ``style="alt"`` renders the same truth differently (a boxy flat bar,
    Moffat PSF, correlated noise, a per-channel stretch, other colours): a test set whose
    look the models were not trained on.
    """
    if style not in RENDER_STYLES:
        raise ValueError(f"style must be one of {RENDER_STYLES}, got {style!r}")
    if pixel_scale_arcsec is None:
        scale = size / IMAGE_SIZE  # output pixels per 424-px unit; truth is in 424-px units
    else:
        scale = t["pixel_scale_arcsec"] / pixel_scale_arcsec
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    c = (size - 1) / 2.0
    x, y = (xx - c) / scale, (yy - c) / scale
    img = np.zeros((size, size, 3))
    alt = style == "alt"
    colours = _ALT_COLOURS if alt else _COLOURS

    u, v = _rotate(x, y, t["pa"])  # u along the galaxy's major axis
    flux_total = 1.0
    if t["is_disk"]:
        h = R90_PIX / 3.9
        rd = np.hypot(u, v / max(t["cos_i"], 0.08))
        disk = np.exp(-rd / h)
        if t["edge_on"]:
            disk *= np.exp(-np.abs(v) / (0.15 * h))  # thin vertical profile
        if t.get("disk_texture", 0.0) > 0:  # clumpy star formation over the disk and arms
            disk = disk * _texture(disk.shape, t["texture_scale_h"] * h * scale, t["disk_texture"], t["texture_seed"])
        if t["has_arms"]:
            theta = np.arctan2(v / max(t["cos_i"], 0.08), u)
            m = t["arm_count"]
            wind = np.log(np.maximum(rd, 1.0)) / np.tan(np.radians(t["arm_pitch_deg"]))
            # By default arms start at 0.4 h, independent of the bar (an arm edge at the bar's end, in
            # barred disks only, would betray its length); ``set_arm_start`` moves the start
            arm = 0.5 * (1 + np.cos(m * (theta - wind - t.get("arm_phase", 0.0))))
            r_in = t.get("arm_start_pix", 0.4 * h)
            grow = np.clip((rd - r_in) / (t.get("arm_ramp_h", 0.5) * h), 0, 1)
            arms = disk * t["arm_amplitude"] * arm**3 * grow * 2.0
            disk = disk * (1 - 0.6 * t["arm_amplitude"] * grow) + arms * 0.5
            img += colours["arms"] * arms[..., None] / arms.sum() * 0.35 * flux_total * (1 - t["bulge_to_total"])
        img += colours["disk"] * disk[..., None] / disk.sum() * (1 - t["bulge_to_total"]) * flux_total
        if t["has_bar"]:
            bu, bv, m2 = _bar_frame(t, u, v)
            if alt:  # boxy isophotes, nearly flat along the bar, a sharp end
                mb = (np.abs(bu / t["bar_a_pix"]) ** 3 + np.abs(bv / (t["bar_q"] * t["bar_a_pix"])) ** 3) ** (2 / 3)
                bar = np.where(mb < 1, np.sqrt(1 - np.minimum(mb, 1)), 0.0)
            else:  # Ferrers n = 1: flat enough that the isophotes' ellipticity peaks near the bar's end, as
                # in the real SDSS bars (generator_calibration); n = 2 peaked at half the bar
                bar = np.where(m2 < 1, 1 - np.minimum(m2, 1), 0.0)
            img += colours["bar"] * bar[..., None] / bar.sum() * t["bar_strength"] * flux_total
    if t["bulge_to_total"] > 0:
        re = (0.12 if t["is_disk"] else 0.4) * R90_PIX
        n = 2.5 if t["is_disk"] else 4.0
        q = t["axis_ratio"] if not t["is_disk"] else max(t["cos_i"], 0.6)
        rb = np.hypot(u, v / q)
        bulge = _sersic(np.maximum(rb, 0.5), re, n)
        img += colours["bulge"] * bulge[..., None] / bulge.sum() * t["bulge_to_total"] * flux_total
    if t.get("nucleus_fraction", 0.0) > 0:  # an unresolved nucleus: a point at the centre, seeing-blurred below
        c = (size - 1) / 2.0
        lo, w = int(np.floor(c)), c - np.floor(c)
        for dy, wy in ((0, 1 - w), (1, w)):
            for dx, wx in ((0, 1 - w), (1, w)):
                img[lo + dy, lo + dx] += colours["bulge"] * wy * wx * t["nucleus_fraction"] * flux_total

    for _ in range(t["n_neighbours"]):
        px, py = rng.uniform(-1.7, 1.7, 2) * R90_PIX * (1.0 if not t["merger"] else 0.4)
        q, ang, re = rng.uniform(0.4, 1), rng.uniform(0, np.pi), rng.uniform(4, 15)
        nu, nv = _rotate(x - px, y - py, ang)
        nb = _sersic(np.maximum(np.hypot(nu, nv / q), 0.5), re, rng.uniform(1, 4))
        img += _COLOURS["bulge"] * nb[..., None] / nb.sum() * rng.uniform(0.05, 0.4)
    for _ in range(t["n_stars"]):
        sx, sy = rng.integers(0, size, 2)
        img[sy, sx] += _COLOURS["star"] * rng.uniform(0.002, 0.05)

    # PSF in image pixels: Gaussian seeing, or (alt) a Moffat profile with broad wings.
    fwhm_pix = PSF_FWHM_ARCSEC / t["pixel_scale_arcsec"] * scale
    kern = _moffat_psf_fft((size, size), fwhm_pix) if alt else _gaussian_psf_fft((size, size), fwhm_pix / 2.355)
    for ch in range(3):
        img[..., ch] = np.fft.irfft2(np.fft.rfft2(img[..., ch]) * kern, s=(size, size))

    # Photon + sky noise, then an asinh (Lupton-like) stretch to 8 bits.  The brightest
    # noiseless pixel maps to just under full scale, as in SDSS colour cutouts, where < 2 %
    # of the pixels inside the bar radius reach 0.97 (median 0.4 %, the 36 Hoyle galaxies);
    # a stretch that saturates the core would hide the bar inside it (saliency-notes.md).
    peak = img.max() * rng.uniform(1.05, 1.3)
    img = img / peak
    brightest = img.reshape(-1, 3)[np.argmax(img.max(axis=2))]
    # Noise is set in the stretched image, where SDSS colour cutouts of bright galaxies show
    # ~0.003 rms per pixel: sky sigma in linear units is that over the stretch's slope at 0.
    stretch = rng.uniform(*STRETCH_SOFTENING)
    gain = rng.uniform(2e4, 2e5)
    noise = rng.normal(0, 1, img.shape) * np.sqrt(np.maximum(img, 0) / gain)
    noise += rng.normal(0, 1, img.shape) * rng.uniform(*SKY_NOISE_STRETCHED) * np.arcsinh(stretch) / stretch
    if alt:  # resampled survey images: pixel-correlated noise (variance kept)
        k = _gaussian_psf_fft((size, size), 0.8)
        for ch in range(3):
            noise[..., ch] = np.fft.irfft2(np.fft.rfft2(noise[..., ch]) * k, s=(size, size)) * 2.0
    img = img + noise
    if alt:  # a per-channel asinh stretch (flattens colours)
        img = np.arcsinh(stretch * np.maximum(img, 0)) / np.arcsinh(stretch)
    else:  # Lupton et al. (2004), as SDSS colour cutouts: stretch the mean intensity, keep the colour
        # ratios, and scale a pixel whose brightest channel passes full scale down to it (hue kept)
        def lupton(a: np.ndarray) -> np.ndarray:
            lum = np.maximum(a.mean(axis=-1, keepdims=True), 1e-9)
            return np.maximum(a, 0) * np.arcsinh(stretch * lum) / (lum * np.arcsinh(stretch))

        # the brightest noiseless pixel's brightest channel lands at 0.88-1 (SDSS: median 0.99)
        img = lupton(img) * rng.uniform(0.88, 1.0) / lupton(brightest).max()
        img /= np.maximum(img.max(axis=2, keepdims=True), 1.0)
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def bar_mask(t: dict, size: int, field: float = IMAGE_SIZE) -> np.ndarray:
    """(size, size) float mask of the bar's projected ellipse on a grid of ``size`` pixels that
    spans the central ``field`` pixels of the 424-px GZ2 frame (all zeros for an unbarred galaxy).

    1 - m^2 inside the outline (m the bar's elliptical radius), peak 1 at the centre: what a
    saliency map that isolates the bar should look like.
    """
    if not t.get("has_bar"):
        return np.zeros((size, size), np.float32)
    step = field / size
    coord = (np.arange(size) + 0.5 - size / 2) * step
    x, y = np.meshgrid(coord, coord)
    u, v = _rotate(x, y, t["pa"])
    m2 = _bar_frame(t, u, v)[2]
    return np.where(m2 < 1, 1 - np.minimum(m2, 1), 0.0).astype(np.float32)


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _answer_probabilities(t: dict, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per-question answer probabilities a volunteer would give, from the truth."""
    res = float(np.clip(t["petroR90_r"] / 8.0, 0.3, 1.5))  # small galaxies look smoother
    if "feat_override" in t:  # the resolution-bias simulation (make_catalogue's resolution_theta)
        feat = t["feat_override"]
    elif t["is_disk"]:
        feat = np.clip(0.35 + 0.6 * (1 - t["bulge_to_total"]) * res + 0.3 * t["has_arms"], 0.05, 0.97)
    else:
        feat = 0.06
    star = 0.01
    p = {"smooth_or_featured": np.array([(1 - feat) * (1 - star), feat * (1 - star), star])}
    eo = 0.92 if t["edge_on"] else (0.25 if t["is_disk"] and t["cos_i"] < 0.4 else 0.04)
    p["edge_on"] = np.array([eo, 1 - eo])
    if t["has_bar"]:
        vis = np.clip(t["bar_strength"] * 2.2 * (t["bar_a_pix"] / R90_PIX + 0.3) * res, 0.2, 0.95)
    else:
        vis = 0.06
    p["bar"] = np.array([vis, 1 - vis])
    sp = np.clip(0.2 + 0.9 * t["arm_amplitude"] * res, 0.05, 0.95) if t["has_arms"] else 0.12
    p["spiral_arms"] = np.array([sp, 1 - sp])
    bt = t["bulge_to_total"] if t["is_disk"] else 0.8
    centres = np.array([0.02, 0.15, 0.35, 0.6])
    w = np.exp(-((bt - centres) ** 2) / (2 * 0.1**2)) + 0.03
    p["bulge_prominence"] = w / w.sum()
    odd = 0.7 if t["merger"] else (0.18 if t["n_neighbours"] else 0.08)
    p["anything_odd"] = np.array([odd, 1 - odd])
    q = t["axis_ratio"]
    w = np.array([np.exp(-((q - 0.95) ** 2) / 0.02), np.exp(-((q - 0.65) ** 2) / 0.03),
                  np.exp(-((q - 0.35) ** 2) / 0.02)]) + 0.03
    p["how_rounded"] = w / w.sum()
    w = (np.array([0.05, 0.05, 0.15, 0.1, 0.3, 0.05, 0.02])
         + (np.array([0, 0, 0.3, 0.1, 0, 0.9, 0]) if t["merger"] else 0))
    p["odd_feature"] = w / w.sum()
    w = np.array([0.6 * bt + 0.1, 0.1, 0.8 * (1 - bt) + 0.05])
    p["bulge_shape"] = w / w.sum()
    pitch = t["arm_pitch_deg"]
    w = np.array([np.exp(-((pitch - 10) ** 2) / 40), np.exp(-((pitch - 20) ** 2) / 40),
                  np.exp(-((pitch - 32) ** 2) / 40)]) + 0.05
    p["arm_winding"] = w / w.sum()
    w = np.full(6, 0.04)
    w[min(t["arm_count"], 5) - 1] += 0.7
    w[5] += 0.15
    p["arm_count"] = w / w.sum()
    return p


def simulate_votes(t: dict, rng: np.random.Generator, n_volunteers: int | None = None,
                   return_counts: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Volunteers walk the GZ2 tree; return the 37 cumulative vote fractions (and the counts)."""
    n = int(n_volunteers or rng.integers(30, 60))
    probs = _answer_probabilities(t, rng)
    votes: dict[str, np.ndarray] = {}
    out, all_counts = [], []
    for q in C.GZ2_TREE:
        reached = n if q.parent is None else int(votes[q.parent])
        counts = rng.multinomial(reached, probs[q.name]) if reached else np.zeros(len(q.answers), int)
        for i, cnt in enumerate(counts):
            votes[f"{q.number}.{i + 1}"] = cnt
        out.extend(counts / n)
        all_counts.extend(counts)
    fractions = np.asarray(out, dtype=np.float32)
    return (fractions, np.asarray(all_counts, dtype=np.int32)) if return_counts else fractions


def make_catalogue(n: int, seed: int, *, first_objid: int = 1, barred_only: bool = False,
                   style: str = "train", resolution_theta: float | None = None) -> dict[str, np.ndarray | list]:
    """``n`` synthetic galaxies as input-contract columns plus truth and vote columns.

    Galaxy ``k`` depends only on ``(seed, first_objid + k)``, so shards of one survey
    can be generated independently and in any order.  ``barred_only`` redraws each
    galaxy until it has a bar (a barred sample for evaluating lengths); ``style`` is the
    renderer's (``render_galaxy``).

    ``resolution_theta``: volunteers biased by resolution as seed 003 models it.  With
    alpha = petroR90_r / PSF FWHM, a disk looks smooth to all its volunteers with probability
    e(alpha) = exp(-alpha^2 / 2 theta^2), and otherwise gets clearly featured votes; smooth
    galaxies are never called disks (the generator's own mild size trend is off, and disks and
    smooth galaxies share one size distribution, so the true class is independent of alpha).  The images
    are unchanged; the columns ``psf_fwhm_arcsec``, ``true_resolution_alpha`` and
    ``true_looks_smooth`` are added.
    """
    cols: dict[str, list] = {k: [] for k in (C.OBJID, C.IMAGE, C.REDSHIFT, C.PETRO_R90)}
    truth_keys = ("has_bar", "bar_length_pix", "bar_length_arcsec", "bar_length_kpc", "bar_angle_deg",
                  "is_disk", "edge_on", "has_arms", "bulge_to_total",
                  # the bar's geometry, from which ``bar_mask`` redraws it
                  "bar_a_pix", "bar_q", "bar_phi", "pa", "cos_i")
    for k in truth_keys:
        cols[f"true_{k}"] = []
    votes = []
    if resolution_theta is not None:
        cols.update({"psf_fwhm_arcsec": [], "true_resolution_alpha": [], "true_looks_smooth": []})
    for k in range(n):
        objid = first_objid + k
        rng = np.random.default_rng([seed, objid])
        t = sample_truth(rng, size_independent_of_class=resolution_theta is not None)
        while barred_only and not t["has_bar"]:
            t = sample_truth(rng, size_independent_of_class=resolution_theta is not None)
        rgb = render_galaxy(t, rng, style=style)
        cols[C.OBJID].append(objid)
        cols[C.IMAGE].append(encode_jpeg(rgb))
        cols[C.REDSHIFT].append(t["redshift"])
        cols[C.PETRO_R90].append(t["petroR90_r"])
        for key in truth_keys:
            cols[f"true_{key}"].append(t[key])
        if resolution_theta is not None:
            a = t["petroR90_r"] / PSF_FWHM_ARCSEC
            looks_smooth = bool(t["is_disk"] and rng.random() < np.exp(-a * a / (2 * resolution_theta**2)))
            t["feat_override"] = 0.88 if t["is_disk"] and not looks_smooth else 0.06
            cols["psf_fwhm_arcsec"].append(PSF_FWHM_ARCSEC)
            cols["true_resolution_alpha"].append(a)
            cols["true_looks_smooth"].append(looks_smooth)
        votes.append(simulate_votes(t, rng, return_counts=True))
    out: dict = {k: (v if k == C.IMAGE else np.asarray(v)) for k, v in cols.items()}
    out[C.OBJID] = out[C.OBJID].astype(np.int64)
    v = np.stack([f for f, _ in votes])
    counts = np.stack([c for _, c in votes])
    for j, name in enumerate(C.LABEL_COLUMNS):
        out[name] = v[:, j]
    for j, name in enumerate(C.VOTE_COUNT_COLUMNS):
        out[name] = counts[:, j]
    return out


def cutout_bar_length(t: dict) -> float:
    """The bar's full length in the pixels of the cutout it is rendered in."""
    return t["bar_length_arcsec"] / t["render_scale"] if "render_scale" in t else t["bar_length_pix"]


def stratified_barred_truths(n_per_cell: int, seed: int, *, length_bins: int = 4, angle_bins: int = 6,
                             frame_filling: bool = False) -> list[tuple[dict, np.random.Generator]]:
    """Barred truths filling a (length x angle) grid, ``n_per_cell`` in each cell, with each one's
    generator (to render it).  Length edges are quantiles of the generator's own barred lengths;
    angle bins are equal slices of [0, 180) deg.  A fixed validation set: same seed, same galaxies.

    ``frame_filling``: each candidate goes through ``fill_frame`` first (its scale in
    ``t["render_scale"]``, to render at 128 px) and the lengths binned are in those cutouts' pixels.
    """
    pool, k = [], 0
    need = n_per_cell * length_bins * angle_bins
    while len(pool) < max(400, 8 * need):  # candidates, in a reproducible order
        rng = np.random.default_rng([seed, k])
        k += 1
        t = sample_truth(rng)
        if t["has_bar"]:
            if frame_filling:
                t["render_scale"] = fill_frame(t, rng)
            pool.append((t, rng))
    lengths = np.array([cutout_bar_length(t) for t, _ in pool])
    edges = np.quantile(lengths, np.linspace(0, 1, length_bins + 1)[1:-1])
    cells: dict[tuple[int, int], list] = {}
    for t, rng in pool:
        cell = (int(np.searchsorted(edges, cutout_bar_length(t))), int(t["bar_angle_deg"] // (180 / angle_bins)))
        if len(cells.setdefault(cell, [])) < n_per_cell:
            cells[cell].append((t, rng))
    out = [g for key in sorted(cells) for g in cells[key]]
    if len(out) < need:
        raise RuntimeError(f"only {len(out)} of {need} stratified galaxies found; draw more candidates")
    return out
