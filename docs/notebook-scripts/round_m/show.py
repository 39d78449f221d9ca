import sys, numpy as np, matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
sys.path.insert(0, '.')  # run from the repository root
from catalog_xai.core import bars
d=np.load(sys.argv[1]); s=sys.argv[2] if len(sys.argv)>2 else 'real'
maps=d[s+'_maps']; m2o=d[s+'_m2o']; true=d[s+'_true']; L=d[s+'_len']; fr=d[s+'_framed'].astype(np.float32)
err=np.log(L/true); order=np.argsort(-np.abs(err))[:8]
fig,ax=plt.subplots(4,8,figsize=(24,12))
for k,i in enumerate(order):
    m=bars.keep_near_centre(maps[i][None],0.18)[0]
    r=bars.measure_bar_profile(m,fraction=0.2,width=12,near_centre=0.18,symmetric=True)
    th=bars.bar_axis(m); h=m.shape[0]
    a=ax[(k//8)*2, k%8]; a.imshow(fr[i].transpose(1,2,0).clip(0,1)); a.set_title(f'#{i} true {true[i]:.0f} meas {L[i]:.0f}')
    b=ax[(k//8)*2+1, k%8]; b.imshow(m,cmap='inferno')
    e=np.array(r.ends); b.plot(e[:,1],e[:,0],'c-o',ms=3)
    c=(h-1)/2; tl=true[i]/m2o[i]/2
    b.plot([c-tl*np.cos(th),c+tl*np.cos(th)],[c-tl*np.sin(th)+4,c+tl*np.sin(th)+4],'g-')
for a in ax.ravel(): a.axis('off')
plt.tight_layout(); plt.savefig(f'/tmp/m/worst_{s}.png',dpi=60)
print([(int(i), round(float(true[i]),1), round(float(L[i]),1)) for i in order])
