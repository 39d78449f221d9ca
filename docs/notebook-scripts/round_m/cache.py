"""Cache the product's mean maps of the lab's four sets for one bar checkpoint (round M)."""
import sys, time, json
from dataclasses import replace
import numpy as np
sys.path.insert(0, '.')  # run from the repository root
from benchmarks.bar_lab import generated_set, real_set, run_lab_ensemble, DEFAULT_REAL
from catalog_xai import storage
from catalog_xai.core.params import MethodParams
ckpt, tag = sys.argv[1], sys.argv[2]
sets = sys.argv[3].split(',') if len(sys.argv) > 3 else ['real', 'generated-tune', 'generated-alt', 'generated']
over = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
ens = storage.load_ensemble(ckpt)
params = MethodParams.from_dict({'n_samples': 64, **ens.manifest.get('method', {}), **over})
print(params)
out = {}
for name in sets:
    t0 = time.time()
    lab = real_set(DEFAULT_REAL) if name == 'real' else generated_set(name)
    r = run_lab_ensemble(ens, lab, params)
    key = name.replace('-', '_')
    out[key + '_maps'] = r['maps'].astype(np.float32)
    out[key + '_m2o'] = r['map_to_original']
    out[key + '_len'] = r['length_pix']
    out[key + '_true'] = lab.true_pix
    out[key + '_angle'] = lab.angle_deg
    out[key + '_scale'] = lab.pixel_scale
    out[key + '_framed'] = r['framed'].astype(np.float16)
    rho = np.corrcoef(r['length_pix'][np.isfinite(r['length_pix'])], lab.true_pix[np.isfinite(r['length_pix'])])[0, 1]
    print(name, len(lab.images), f'{time.time()-t0:.0f}s rho {rho:.3f}', flush=True)
np.savez_compressed(f'/tmp/m/C_{tag}.npz', **out)
