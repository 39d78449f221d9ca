"""Round O: show frame-filling galaxies smaller (zoom Z x the measured framing's crop), the
missing field filled in four ways: the true field (rendered larger, same pixel scale), the
border median (the product's padding), a modelled sky (border median + noise of the border's
scatter, per channel), a mirror of the cutout.  Shipped pair, product path (petrosian framing
carrying the zoomed R90).  usage: zoom_pad.py SETS ZS PADS  e.g. generated-long,real 1,1.5,2 true,median,sky"""
import io, sys, time; sys.path.insert(0, '.')
import numpy as np
from PIL import Image
from scipy.stats import pearsonr
from benchmarks.bar_lab import generated_set, real_set, DEFAULT_REAL, SEEDS, N_PER_CELL
from catalog_xai import storage
from catalog_xai.core import synth
from catalog_xai.core.params import MethodParams
from catalog_xai.core.preprocess import decode_image, measure_r90_pixels
from dataclasses import replace
from catalog_xai import columns as C
from catalog_xai.core.catalogue import ensemble_mean_maps, measure_and_convert, run_ensemble


def run_lab_ensemble(ens, lab, p):
    """bar_lab's loop, passing petroR90 (the zoomed framing) through."""
    out = {"length_pix": np.full(len(lab.images), np.nan), "maps": [], "map_to_original": []}
    for s in range(0, len(lab.images), 16):
        sl = slice(s, s + 16)
        kw = dict(objid=list(lab.objid[sl]), pixel_scale_arcsec=list(lab.pixel_scale[sl]))
        inf = run_ensemble(ens, image=lab.images[sl], params=p, petro_r90=list(lab.petro_r90[sl]), **kw)
        cols = measure_and_convert(inf, redshift=list(lab.redshift[sl]), params=p, **kw)
        out["length_pix"][sl] = cols[C.BAR_LENGTH_PIX]
        out["maps"].append(ensemble_mean_maps(inf)); out["map_to_original"].append(inf.map_to_original)
    for k in ("maps", "map_to_original"):
        out[k] = np.concatenate(out[k])
    return out

sets, zs, pads = sys.argv[1].split(','), [float(z) for z in sys.argv[2].split(',')], sys.argv[3].split(',')
BIG = 512
ens = storage.load_ensemble('catalog_xai/weights/saliency-evidence')
params = replace(MethodParams.from_dict({'n_samples': 64, **ens.manifest.get('method', {})}), framing='petrosian')
import os
NS = int(os.environ.get('NS', '0')); TAG = f'_ns{NS}' if NS else ''
if NS: params = replace(params, n_samples=NS)

def png(a):
    b = io.BytesIO(); Image.fromarray(a).save(b, format='PNG'); return b.getvalue()

def pad(rgb, side, how, rng):
    s = rgb.shape[0]; p = (side - s) // 2
    if p <= 0:
        return rgb
    if how in ('ray', 'raynn'):
        return ray_pad(rgb, side, rng, noise=how == 'ray')
    if how == 'mirror':
        return np.pad(rgb, ((p, p), (p, p), (0, 0)), mode='symmetric') if p <= s else pad(np.pad(rgb, ((s-1, s-1), (s-1, s-1), (0, 0)), mode='symmetric'), side, how, rng)
    border = np.concatenate([rgb[:2].reshape(-1, 3), rgb[-2:].reshape(-1, 3), rgb[:, :2].reshape(-1, 3), rgb[:, -2:].reshape(-1, 3)]).astype(float)
    med = np.median(border, axis=0)
    out = np.empty((s + 2 * p, s + 2 * p, 3), float); out[:] = med
    if how == 'sky':
        mad = 1.4826 * np.median(np.abs(border - med), axis=0)
        out += rng.standard_normal(out.shape) * mad
    out[p:p + s, p:p + s] = rgb
    return np.clip(np.round(out), 0, 255).astype(np.uint8)

def ray_pad(rgb, side, rng, noise=True):
    """Extend the galaxy's light along rays from the centre: the cutout's (smoothed) light where
    the ray leaves the cutout, decaying exponentially with the outer profile's scale length,
    on the border's sky level, plus noise of the border's scatter."""
    from scipy import ndimage
    s = rgb.shape[0]; p = (side - s) // 2; c = (s - 1) / 2
    a = rgb.astype(float)
    border = np.concatenate([a[:2].reshape(-1, 3), a[-2:].reshape(-1, 3), a[:, :2].reshape(-1, 3), a[:, -2:].reshape(-1, 3)])
    sky = np.median(border, axis=0); mad = 1.4826 * np.median(np.abs(border - sky), axis=0)
    sm = np.stack([ndimage.gaussian_filter(a[..., k], 2.0) for k in range(3)], -1) - sky
    yy, xx = np.indices((s, s)); r = np.hypot(yy - c, xx - c)
    tot = sm.sum(-1); ri = r.astype(int).ravel()
    prof = np.bincount(ri, tot.ravel()) / np.maximum(np.bincount(ri), 1)
    rr = np.arange(int(0.6 * c), int(c)); pr = prof[rr]
    good = pr > 0
    h = 10.0
    if good.sum() > 5:
        slope = np.polyfit(rr[good], np.log(pr[good]), 1)[0]
        h = float(np.clip(-1 / slope, 3, 60)) if slope < 0 else 60.0
    n = s + 2 * p; Y, X = np.indices((n, n)); dy, dx = Y - p - c, X - p - c
    m = np.maximum(np.abs(dy), np.abs(dx)); f = np.where(m > 0, (c - 0.5) / np.maximum(m, 1e-9), 1.0)
    by, bx = np.clip(c + f * dy, 0, s - 1), np.clip(c + f * dx, 0, s - 1)
    edge = np.stack([ndimage.map_coordinates(sm[..., k], [by, bx], order=1) for k in range(3)], -1)
    dist = np.hypot(dy, dx) * np.maximum(1 - f, 0)
    out = sky + np.maximum(edge, 0) * np.exp(-dist / h)[..., None]
    if noise:
        out = out + rng.standard_normal(out.shape) * mad
    out[p:p + s, p:p + s] = a
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


for name in sets:
    if name == 'real':
        lab = real_set(DEFAULT_REAL); big = None
    else:
        lab = generated_set(name)
        truths = synth.stratified_barred_truths(N_PER_CELL, SEEDS[name], frame_filling=True)
        big = [synth.render_galaxy(t, rng, BIG, pixel_scale_arcsec=t['render_scale']) for t, rng in truths] if 'true' in pads else None
    rgbs = [decode_image(b) for b in lab.images]
    r90 = np.array([measure_r90_pixels(a) for a in rgbs])
    for z in zs:
        for how in pads:
            if how == 'true' and big is None:
                continue
            rng = np.random.default_rng(0)
            side = int(np.ceil(z * 0.25 * 8.48 * r90.max())) + 4
            side += side % 2
            if how == 'true':
                c = (BIG - 128) // 2; imgs = []
                for b in big:
                    q = min(BIG, 128 + 2 * ((side - 128) // 2 + 2))
                    o = (BIG - q) // 2; imgs.append(png(b[o:o + q, o:o + q]))
            else:
                imgs = [png(pad(a, side, how, rng)) for a in rgbs]
            L2 = replace(lab, images=imgs, petro_r90=z * r90 * lab.pixel_scale)
            t0 = time.time()
            res = run_lab_ensemble(ens, L2, params)
            L = res['length_pix']; ok = np.isfinite(L)
            print(f'{name:15s} Z {z:4.2f} {how:7s} Pearson {pearsonr(L[ok], lab.true_pix[ok])[0]:.3f} '
                  f'ratio {np.median(L[ok] / lab.true_pix[ok]):.2f} n {ok.sum()} bar px in frame median '
                  f'{np.median(lab.true_pix / res["map_to_original"]):.0f} ({time.time() - t0:.0f} s)', flush=True)
            np.savez_compressed(f'/tmp/o/zp_{name}_{z}_{how}{TAG}.npz', L=L, true=lab.true_pix, maps=res['maps'].astype(np.float16), m2o=res['map_to_original'])
