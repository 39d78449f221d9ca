"""Round N: lengths read from each of the 8 dihedral views separately (member-mean map per view):
does their spread say which galaxies are measured badly?"""
import sys; sys.path.insert(0, 'docs/notebook-scripts/round_m')
from ro import *
import torch
from catalog_xai import storage
from catalog_xai.core import saliency
from scipy.stats import spearmanr
ens = storage.load_ensemble(sys.argv[1] if len(sys.argv) > 1 else 'catalog_xai/weights/saliency-evidence')
C = np.load('/tmp/m/C_SE.npz')
def inverse(m, k):
    m = m.flip(-1) if k >= 4 else m
    return torch.rot90(m, -(k % 4), dims=(-2, -1))
out = {}
for s in SETS:
    x = torch.from_numpy(C[s+'_framed'].astype(np.float32))
    views = []
    for k in range(8):
        with torch.no_grad(): pass
        m = saliency.smoothgrad(ens.members, saliency.dihedral(x, k), n_samples=1, s_noise=0.0, x_input=False,
                                target=saliency.score_target('cumulative'), symmetry='none', chunk_size=32)
        m = inverse(m, k)  # back to the galaxy's own orientation, before X_input
        m = saliency.normalise_maps(m * saliency.greyscale(x)[None]).mean(0).numpy()
        views.append(m)
    V = np.stack(views, 1)  # (B, 8, H, W)
    out[s] = V
    mean_maps = np.nan_to_num(bars.keep_near_centre(V.mean(1).astype(np.float64), 0.18))
    L8 = np.array([[outer(*prof(np.nan_to_num(bars.keep_near_centre(v.astype(np.float64)[None], 0.18)[0])), None) for v in g] for g in V]) * C[s+'_m2o'][:, None]
    Lm = np.array([outer(*prof(mm), mm) for mm in mean_maps]) * C[s+'_m2o']
    T = C[s+'_true']
    spread = (np.percentile(L8, 75, 1) - np.percentile(L8, 25, 1)) / np.median(L8, 1)
    err = np.abs(np.log(Lm / T))
    print(f'{s:15s} mean-map rho {pearsonr(Lm, T)[0]:.3f} (cached {pearsonr(C[s+"_len"], T)[0]:.3f}) | median of 8 view lengths {pearsonr(np.median(L8, 1), T)[0]:.3f} | '
          f'spread median {np.median(spread):.2f}, spearman(spread, |log err|) {spearmanr(spread, err)[0]:.2f}', flush=True)
np.savez_compressed('/tmp/n/V_SE.npz', **{k: v.astype(np.float16) for k, v in out.items()})
