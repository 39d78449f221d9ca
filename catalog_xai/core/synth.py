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

# RGB colour of each component (SDSS gri composite: old stars red, young stars blue).
_COLOURS = {
    "bulge": np.array([1.0, 0.78, 0.52]),
    "disk": np.array([0.85, 0.82, 0.85]),
    "arms": np.array([0.6, 0.75, 1.0]),
    "bar": np.array([1.0, 0.82, 0.6]),
    "star": np.array([0.95, 0.95, 1.0]),
}


def _sersic(r: np.ndarray, re: float, n: float) -> np.ndarray:
    b = 2.0 * n - 1.0 / 3.0 + 0.009876 / n
    return np.exp(-b * ((r / re) ** (1.0 / n) - 1.0))


def _rotate(x: np.ndarray, y: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    c, s = np.cos(angle), np.sin(angle)
    return c * x + s * y, -s * x + c * y


def _gaussian_psf_fft(shape: tuple[int, int], sigma_pix: float) -> np.ndarray:
    ky = np.fft.fftfreq(shape[0])[:, None]
    kx = np.fft.rfftfreq(shape[1])[None, :]
    return np.exp(-2.0 * (np.pi * sigma_pix) ** 2 * (kx**2 + ky**2))


_Z_GRID = np.linspace(0.005, 0.3, 600)
_KPC_GRID: np.ndarray | None = None


def _kpc_per_arcsec(z: float) -> float:
    """Planck18 scale, interpolated (astropy per call would dominate rendering time)."""
    global _KPC_GRID
    if _KPC_GRID is None:
        _KPC_GRID = kpc_per_arcsec(_Z_GRID)
    return float(np.interp(z, _Z_GRID, _KPC_GRID))


def sample_truth(rng: np.random.Generator) -> dict:
    """Draw the physical and morphological parameters of one galaxy."""
    t: dict = {}
    t["redshift"] = float(rng.uniform(0.02, 0.10))
    t["is_disk"] = bool(rng.random() < 0.72)
    r90_kpc = float(rng.lognormal(np.log(9.0 if t["is_disk"] else 7.0), 0.3))
    t["petroR90_r"] = r90_kpc / _kpc_per_arcsec(t["redshift"])
    t["cos_i"] = float(rng.uniform(0.08, 1.0)) if t["is_disk"] else 1.0
    t["edge_on"] = t["is_disk"] and t["cos_i"] < 0.3
    t["pa"] = float(rng.uniform(0, np.pi))
    t["bulge_to_total"] = float(rng.uniform(0.0, 0.6)) if t["is_disk"] else 1.0
    t["axis_ratio"] = float(rng.uniform(0.35, 1.0)) if not t["is_disk"] else t["cos_i"]
    t["has_bar"] = t["is_disk"] and t["cos_i"] > 0.45 and rng.random() < 0.55
    t["bar_a_pix"] = float(rng.uniform(0.3, 0.85) * R90_PIX) if t["has_bar"] else 0.0
    t["bar_q"] = float(rng.uniform(0.2, 0.35))
    t["bar_phi"] = float(rng.uniform(0, np.pi))  # bar angle in the disk plane, from the line of nodes
    t["bar_strength"] = float(rng.uniform(0.15, 0.45)) if t["has_bar"] else 0.0
    t["has_arms"] = t["is_disk"] and not t["edge_on"] and rng.random() < (0.75 if t["has_bar"] else 0.55)
    t["arm_count"] = int(rng.choice([1, 2, 3, 4, 5], p=[0.05, 0.65, 0.15, 0.1, 0.05]))
    t["arm_pitch_deg"] = float(rng.uniform(8, 35))
    t["arm_amplitude"] = float(rng.uniform(0.3, 0.9)) if t["has_arms"] else 0.0
    t["n_stars"] = int(rng.poisson(1.0))
    t["n_neighbours"] = int(rng.poisson(0.7))
    t["merger"] = bool(rng.random() < 0.04)
    # Projected bar (what the image shows): end points (±a, 0) in the disk plane.
    a, phi = t["bar_a_pix"], t["bar_phi"]
    half = a * np.hypot(np.cos(phi), np.sin(phi) * t["cos_i"])
    t["bar_length_pix"] = 2.0 * half
    t["bar_angle_deg"] = float(
        np.degrees(t["pa"] + np.arctan2(np.sin(phi) * t["cos_i"], np.cos(phi))) % 180.0
    ) if t["has_bar"] else float("nan")
    pix_arcsec = C.GZ2_PIXEL_SCALE_PER_PETRO * t["petroR90_r"]
    t["pixel_scale_arcsec"] = pix_arcsec
    t["bar_length_arcsec"] = t["bar_length_pix"] * pix_arcsec
    t["bar_length_kpc"] = t["bar_length_arcsec"] * _kpc_per_arcsec(t["redshift"])
    return t


def render_galaxy(t: dict, rng: np.random.Generator, size: int = IMAGE_SIZE) -> np.ndarray:
    """Render the truth ``t`` as a uint8 RGB cutout of ``size`` pixels (GZ2 framing)."""
    scale = size / IMAGE_SIZE  # allow smaller renders for tests; truth is in 424-px units
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    c = (size - 1) / 2.0
    x, y = (xx - c) / scale, (yy - c) / scale
    img = np.zeros((size, size, 3))

    u, v = _rotate(x, y, t["pa"])  # u along the galaxy's major axis
    flux_total = 1.0
    if t["is_disk"]:
        h = R90_PIX / 3.9
        rd = np.hypot(u, v / max(t["cos_i"], 0.08))
        disk = np.exp(-rd / h)
        if t["edge_on"]:
            disk *= np.exp(-np.abs(v) / (0.15 * h))  # thin vertical profile
        if t["has_arms"]:
            theta = np.arctan2(v / max(t["cos_i"], 0.08), u)
            m = t["arm_count"]
            wind = np.log(np.maximum(rd, 1.0)) / np.tan(np.radians(t["arm_pitch_deg"]))
            arm = 0.5 * (1 + np.cos(m * (theta - wind)))
            r_in = max(t["bar_a_pix"], 0.4 * h)
            grow = np.clip((rd - r_in) / (0.5 * h), 0, 1)
            arms = disk * t["arm_amplitude"] * arm**3 * grow * 2.0
            disk = disk * (1 - 0.6 * t["arm_amplitude"] * grow) + arms * 0.5
            img += _COLOURS["arms"] * arms[..., None] / arms.sum() * 0.35 * flux_total * (1 - t["bulge_to_total"])
        img += _COLOURS["disk"] * disk[..., None] / disk.sum() * (1 - t["bulge_to_total"]) * flux_total
        if t["has_bar"]:
            bu, bv = _rotate(u, v / max(t["cos_i"], 0.08), t["bar_phi"])
            m2 = (bu / t["bar_a_pix"]) ** 2 + (bv / (t["bar_q"] * t["bar_a_pix"])) ** 2
            bar = np.where(m2 < 1, (1 - np.minimum(m2, 1)) ** 2, 0.0)
            img += _COLOURS["bar"] * bar[..., None] / bar.sum() * t["bar_strength"] * flux_total
    if t["bulge_to_total"] > 0:
        re = (0.12 if t["is_disk"] else 0.4) * R90_PIX
        n = 2.5 if t["is_disk"] else 4.0
        q = t["axis_ratio"] if not t["is_disk"] else max(t["cos_i"], 0.6)
        rb = np.hypot(u, v / q)
        bulge = _sersic(np.maximum(rb, 0.5), re, n)
        img += _COLOURS["bulge"] * bulge[..., None] / bulge.sum() * t["bulge_to_total"] * flux_total

    for _ in range(t["n_neighbours"]):
        px, py = rng.uniform(-1.7, 1.7, 2) * R90_PIX * (1.0 if not t["merger"] else 0.4)
        q, ang, re = rng.uniform(0.4, 1), rng.uniform(0, np.pi), rng.uniform(4, 15)
        nu, nv = _rotate(x - px, y - py, ang)
        nb = _sersic(np.maximum(np.hypot(nu, nv / q), 0.5), re, rng.uniform(1, 4))
        img += _COLOURS["bulge"] * nb[..., None] / nb.sum() * rng.uniform(0.05, 0.4)
    for _ in range(t["n_stars"]):
        sx, sy = rng.integers(0, size, 2)
        img[sy, sx] += _COLOURS["star"] * rng.uniform(0.002, 0.05)

    # PSF (Gaussian seeing) in image pixels.
    fwhm_pix = PSF_FWHM_ARCSEC / t["pixel_scale_arcsec"] * scale
    kern = _gaussian_psf_fft((size, size), fwhm_pix / 2.355)
    for ch in range(3):
        img[..., ch] = np.fft.irfft2(np.fft.rfft2(img[..., ch]) * kern, s=(size, size))

    # Photon + sky noise, then an asinh (Lupton-like) stretch to 8 bits.
    peak = np.quantile(img.max(axis=2), 0.999)
    img = img / peak
    gain = rng.uniform(300, 1500)
    img = img + rng.normal(0, 1, img.shape) * np.sqrt(np.maximum(img, 0) / gain)
    img += rng.normal(0, rng.uniform(0.004, 0.015), img.shape)
    stretch = rng.uniform(6, 12)
    img = np.arcsinh(stretch * np.maximum(img, 0)) / np.arcsinh(stretch)
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _answer_probabilities(t: dict, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per-question answer probabilities a volunteer would give, from the truth."""
    res = float(np.clip(t["petroR90_r"] / 8.0, 0.3, 1.5))  # small galaxies look smoother
    if t["is_disk"]:
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


def make_catalogue(n: int, seed: int, *, first_objid: int = 1,
                   barred_only: bool = False) -> dict[str, np.ndarray | list]:
    """``n`` synthetic galaxies as input-contract columns plus truth and vote columns.

    Galaxy ``k`` depends only on ``(seed, first_objid + k)``, so shards of one survey
    can be generated independently and in any order.  ``barred_only`` redraws each
    galaxy until it has a bar (a barred sample for evaluating lengths).
    """
    cols: dict[str, list] = {k: [] for k in (C.OBJID, C.IMAGE, C.REDSHIFT, C.PETRO_R90)}
    truth_keys = ("has_bar", "bar_length_pix", "bar_length_arcsec", "bar_length_kpc", "bar_angle_deg",
                  "is_disk", "edge_on", "has_arms", "bulge_to_total")
    for k in truth_keys:
        cols[f"true_{k}"] = []
    votes = []
    for k in range(n):
        objid = first_objid + k
        rng = np.random.default_rng([seed, objid])
        t = sample_truth(rng)
        while barred_only and not t["has_bar"]:
            t = sample_truth(rng)
        rgb = render_galaxy(t, rng)
        cols[C.OBJID].append(objid)
        cols[C.IMAGE].append(encode_jpeg(rgb))
        cols[C.REDSHIFT].append(t["redshift"])
        cols[C.PETRO_R90].append(t["petroR90_r"])
        for key in truth_keys:
            cols[f"true_{key}"].append(t[key])
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
