"""Round N: is the real maps' 6-8 px ripple the SDSS JPEG's 8x8 blocks?  (a) the lab's generated
sets re-encoded as the real cutouts are (PIL quality 75, 4:2:0); (b) the real cutouts deblocked
(Gaussian sigma px in the cutout) and re-encoded at quality 100."""
import sys, io, json, time; sys.path.insert(0, '.')
import numpy as np, PIL.Image as I
from dataclasses import replace
from scipy import ndimage
from scipy.stats import pearsonr
from benchmarks.bar_lab import generated_set, real_set, run_lab_ensemble, DEFAULT_REAL
from catalog_xai import storage
from catalog_xai.core.params import MethodParams
def recode(b, quality, sigma=0.0):
    a = np.asarray(I.open(io.BytesIO(b)).convert('RGB')).astype(np.float32)
    if sigma > 0: a = ndimage.gaussian_filter(a, (sigma, sigma, 0))
    out = io.BytesIO(); I.fromarray(np.clip(a + 0.5, 0, 255).astype(np.uint8)).save(out, 'JPEG', quality=quality); return out.getvalue()
ens = storage.load_ensemble(sys.argv[1])
params = MethodParams.from_dict({'n_samples': 64, **ens.manifest.get('method', {})})
tag = sys.argv[2]; out = {}
for spec in sys.argv[3].split(','):
    name, q, sig = spec.split(':'); q = int(q); sig = float(sig)
    lab = real_set(DEFAULT_REAL) if name == 'real' else generated_set(name)
    if q: lab = replace(lab, images=[recode(b, q, sig) for b in lab.images])
    t0 = time.time(); r = run_lab_ensemble(ens, lab, params); L = r['length_pix']; ok = np.isfinite(L)
    print(tag, spec, f'{time.time()-t0:.0f}s rho {pearsonr(L[ok], lab.true_pix[ok])[0]:.3f} ratio {np.median(L[ok]/lab.true_pix[ok]):.2f}', flush=True)
    k = spec.replace(':', '_').replace('.', 'p').replace('-', '_')
    out[k + '_maps'] = r['maps'].astype(np.float32); out[k + '_len'] = L; out[k + '_true'] = lab.true_pix
    out[k + '_framed'] = r['framed'].astype(np.float16)
np.savez_compressed(f'/tmp/n/J_{tag}.npz', **out)
