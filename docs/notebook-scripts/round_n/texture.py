"""Round N (T): do clumpy disks (synth.set_disk_texture) or a point nucleus (synth.set_nucleus)
reproduce the real maps' speckle and rings and their errors?  The lab's generated-tune and
generated-long truths with texture and/or a nucleus on every disk."""
import sys, time; sys.path.insert(0, '.')
import numpy as np
from dataclasses import replace
from scipy.stats import pearsonr
from benchmarks.bar_lab import LabSet, SEEDS, run_lab_ensemble
from catalog_xai import columns as C, storage
from catalog_xai.core import synth
from catalog_xai.core.ensemble import Ensemble
from catalog_xai.core.params import MethodParams
def textured(name, probability=1.0, nucleus=0.0):
    long = name == 'generated-long'
    truths = synth.stratified_barred_truths(8, SEEDS[name], frame_filling=long)
    imgs = []
    for t, rng in truths:
        own = np.random.default_rng([7, int(t['pa'] * 1e6)])
        synth.set_disk_texture(t, own, probability)
        synth.set_nucleus(t, own, nucleus)
        kw = dict(size=128, pixel_scale_arcsec=t['render_scale']) if long else {}
        imgs.append(synth.encode_jpeg(synth.render_galaxy(t, rng, **kw)))
    get = lambda k: np.array([t[k] for t, _ in truths], dtype=float)
    scale = get('render_scale') if long else get('petroR90_r') * C.GZ2_PIXEL_SCALE_PER_PETRO
    true = get('bar_length_arcsec') / scale
    return LabSet(name + '-textured', np.arange(1, len(imgs) + 1), imgs, true, get('bar_angle_deg'), scale,
                  get('petroR90_r'), get('redshift'), not long)
if __name__ == '__main__':
    shipped = storage.load_ensemble(sys.argv[1] if len(sys.argv) > 1 else 'catalog_xai/weights/saliency-evidence')
    params = MethodParams.from_dict({'n_samples': 64, **shipped.manifest.get('method', {})})
    out = {}
    for name in ('generated-tune', 'generated-long'):
        for p, nuc in ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)):
            lab = textured(name, p, nuc); t0 = time.time(); r = run_lab_ensemble(shipped, lab, params); L = r['length_pix']
            print(f'{name} texture {p} nucleus {nuc}: rho {pearsonr(L, lab.true_pix)[0]:.3f} ratio {np.median(L / lab.true_pix):.2f} ({time.time() - t0:.0f} s)', flush=True)
            k = f'{name}_{p}_{nuc}'.replace('-', '_').replace('.', 'p')
            out[k + '_maps'] = r['maps'].astype(np.float16); out[k + '_framed'] = r['framed'].astype(np.float16)
            out[k + '_len'] = L; out[k + '_true'] = lab.true_pix
    np.savez_compressed('/tmp/n/T_SE.npz', **out)
