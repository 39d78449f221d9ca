"""Per-member maps of the lab's four sets (round M)."""
import sys, time, json, warnings
from dataclasses import replace
import numpy as np
sys.path.insert(0, '.')  # run from the repository root
from benchmarks.bar_lab import generated_set, real_set, DEFAULT_REAL
from catalog_xai import storage
from catalog_xai.core import saliency
from catalog_xai.core.catalogue import run_ensemble
from catalog_xai.core.params import MethodParams
ckpt, tag = sys.argv[1], sys.argv[2]
over = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
ens = storage.load_ensemble(ckpt)
params = MethodParams.from_dict({'n_samples': 64, **ens.manifest.get('method', {}), **over})
out = {}
for name in ['real', 'generated-tune', 'generated-alt', 'generated']:
    lab = real_set(DEFAULT_REAL) if name == 'real' else generated_set(name)
    p = replace(params, framing=ens.framing if lab.gz2_framed or ens.framing != 'native' else 'measured')
    mm, m2o, fr = [], [], []
    for s in range(0, len(lab.images), 16):
        sl = slice(s, s + 16)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            inf = run_ensemble(ens, objid=list(lab.objid[sl]), image=lab.images[sl], params=p, pixel_scale_arcsec=list(lab.pixel_scale[sl]))
        side = inf.data_side[inf.ok_rows]
        mm.append(np.stack([saliency.restrict_to_data(m, side) for m in inf.maps], 1))
        m2o.append(inf.map_to_original); fr.append(inf.framed.x.numpy())
    key = name.replace('-', '_')
    out[key + '_members'] = np.concatenate(mm).astype(np.float32)  # (B, M, S, S)
    out[key + '_m2o'] = np.concatenate(m2o); out[key + '_true'] = lab.true_pix
    out[key + '_angle'] = lab.angle_deg; out[key + '_scale'] = lab.pixel_scale
    print(name, flush=True)
np.savez_compressed(f'/tmp/m/M_{tag}.npz', **out)
