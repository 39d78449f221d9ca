"""Round N: a generated set in the real set's regime (tight 128-px cutouts, galaxy filling the frame,
bars 0.35-0.8 R90 in semi-major axis), to test whether it moves with the real set when a setting changes."""
import sys, time, json; sys.path.insert(0, '.')
import numpy as np
from benchmarks.bar_lab import LabSet, run_lab_ensemble
from catalog_xai import columns as C, storage
from catalog_xai.core import synth
from catalog_xai.core.params import MethodParams
from scipy.stats import pearsonr
def long_set(seed, n_per_cell=8, style='train', arms=0.0):
    truths = synth.stratified_barred_truths(n_per_cell, seed)
    imgs, L, A, S = [], [], [], []
    for t, rng in truths:
        r2 = np.random.default_rng([seed, 7, int(t['pa'] * 1e6)])
        a = float(r2.uniform(0.35, 0.8) * synth.R90_PIX)
        t['bar_a_pix'] = a
        half = a * np.hypot(np.cos(t['bar_phi']), np.sin(t['bar_phi']) * t['cos_i'])
        r90_out = float(r2.uniform(50, 80))  # R90 in output pixels: the galaxy fills the 128-px cutout
        scale_arcsec = t['petroR90_r'] / r90_out
        synth.set_arm_start(t, r2, arms)
        rgb = synth.render_galaxy(t, rng, 128, pixel_scale_arcsec=scale_arcsec, style=style)
        imgs.append(synth.encode_jpeg(rgb))
        L.append(2 * half * (r90_out / synth.R90_PIX)); A.append(t['bar_angle_deg']); S.append(scale_arcsec)
    n = len(imgs)
    return LabSet(f'long-{seed}', np.arange(1, n + 1), imgs, np.array(L), np.array(A), np.array(S),
                  np.full(n, np.nan), np.full(n, 0.03), False)
if __name__ == '__main__':
    ckpt, tag = sys.argv[1], sys.argv[2]
    over = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    sets = sys.argv[4].split(',') if len(sys.argv) > 4 else ['train']
    ens = storage.load_ensemble(ckpt)
    params = MethodParams.from_dict({'n_samples': 64, **ens.manifest.get('method', {}), **over})
    out = {}
    for style in sets:
        lab = long_set(9104 if style == 'train' else 9105, style='alt' if style == 'alt' else 'train',
                       arms=0.5 if style == 'arms' else 0.0)
        t0 = time.time(); r = run_lab_ensemble(ens, lab, params)
        Lm = r['length_pix']; ok = np.isfinite(Lm)
        print(tag, style, json.dumps(over), f'{time.time()-t0:.0f}s rho {pearsonr(Lm[ok], lab.true_pix[ok])[0]:.3f} median ratio {np.median(Lm[ok]/lab.true_pix[ok]):.2f} true px {np.percentile(lab.true_pix,[5,50,95]).round()}', flush=True)
        out[style + '_maps'] = r['maps'].astype(np.float32); out[style + '_len'] = Lm; out[style + '_true'] = lab.true_pix
        out[style + '_m2o'] = r['map_to_original']; out[style + '_framed'] = r['framed'].astype(np.float16)
    np.savez_compressed(f'/tmp/n/L_{tag}.npz', **out)
