"""Round N diagnostic: the lab's generated-tune truths with arms attached to the bar's ends."""
import sys, time, json; sys.path.insert(0, '.')
import numpy as np
from benchmarks.bar_lab import LabSet, SEEDS, run_lab_ensemble
from catalog_xai import columns as C, storage
from catalog_xai.core import synth
from catalog_xai.core.params import MethodParams
from scipy.stats import pearsonr
def arm_set(name, style='train', seed_offset=0):
    truths = synth.stratified_barred_truths(8, SEEDS[name] + seed_offset)
    out = []
    for t, rng in truths:
        synth.set_arm_start(t, np.random.default_rng([99, int(t['bar_a_pix'] * 1000)]), 1.0)
        out.append((t, rng))
    images = [synth.encode_jpeg(synth.render_galaxy(t, rng, style=style)) for t, rng in out]
    get = lambda k: np.array([t[k] for t, _ in out], dtype=float)
    r90 = get('petroR90_r')
    return LabSet(name + '-arms', np.arange(1, len(out) + 1), images, get('bar_length_pix'), get('bar_angle_deg'),
                  r90 * C.GZ2_PIXEL_SCALE_PER_PETRO, r90, get('redshift'), True)
if __name__ == '__main__':
    ckpt, tag = sys.argv[1], sys.argv[2]
    ens = storage.load_ensemble(ckpt)
    params = MethodParams.from_dict({'n_samples': 64, **ens.manifest.get('method', {})})
    out = {}
    for name in sys.argv[3].split(','):
        lab = arm_set(name, style='alt' if name.endswith('alt') else 'train')
        t0 = time.time(); r = run_lab_ensemble(ens, lab, params)
        L = r['length_pix']; ok = np.isfinite(L)
        print(name, 'arms', f'{time.time()-t0:.0f}s rho {pearsonr(L[ok], lab.true_pix[ok])[0]:.3f} median ratio {np.median(L[ok]/lab.true_pix[ok]):.2f}', flush=True)
        key = name.replace('-', '_') + '_arms'
        out[key + '_maps'] = r['maps'].astype(np.float32); out[key + '_len'] = L; out[key + '_true'] = lab.true_pix
        out[key + '_m2o'] = r['map_to_original']
        out[key + '_img'] = r['framed'].astype(np.float16)
    np.savez_compressed(f'/tmp/n/A_{tag}.npz', **out)
