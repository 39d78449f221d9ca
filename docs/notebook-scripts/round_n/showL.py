import sys, numpy as np, matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
d = np.load(sys.argv[1]); picks = [(s, int(i)) for s, i in (p.split(':') for p in sys.argv[3].split(','))]
fig, ax = plt.subplots(2, len(picks), figsize=(2.2*len(picks), 4.6))
for k, (s, i) in enumerate(picks):
    img = d[s+'_framed'][i].astype(np.float32); img = np.moveaxis(img, 0, -1) if img.shape[0] == 3 else img
    ax[0, k].imshow(np.clip(img, 0, 1)); ax[0, k].set_title(f'{s}#{i} T{d[s+"_true"][i]:.0f} L{d[s+"_len"][i]:.0f}', fontsize=7)
    ax[1, k].imshow(d[s+'_maps'][i], cmap='inferno')
    for a in ax[:, k]: a.axis('off')
plt.tight_layout(); plt.savefig(sys.argv[2], dpi=80)
