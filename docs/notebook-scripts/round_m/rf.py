import sys, numpy as np, torch, matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
sys.path.insert(0, '.')  # run from the repository root
from catalog_xai import storage
ens=storage.load_ensemble('saliency-evidence'); d=np.load('/tmp/m/C_SE.npz')
fr=torch.tensor(d['real_framed'].astype(np.float32))
fig,ax=plt.subplots(2,4,figsize=(16,8))
for k,i in enumerate([20,5]):
  for j,model in enumerate(ens.models[:2]):
    x=fr[i:i+1].clone().requires_grad_(True)
    logits,ev=model(x,return_evidence=True)
    z=ev[0,0]; p=np.unravel_index(int(z.argmax()),z.shape)
    g,=torch.autograd.grad(z[p],x); g=g[0].abs().sum(0).numpy()
    ax[k,2*j].imshow(torch.sigmoid(z).detach().numpy()); ax[k,2*j].set_title(f'#{i} m{j} sigmoid(z), argmax {p}')
    ax[k,2*j+1].imshow(g**0.5,cmap='inferno'); ax[k,2*j+1].plot(p[1]*4+1.5,p[0]*4+1.5,'c+'); ax[k,2*j+1].set_title('|dz_p/dx|^0.5')
plt.tight_layout(); plt.savefig('/tmp/m/rf.png',dpi=55)
