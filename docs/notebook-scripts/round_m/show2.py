import sys, numpy as np, matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
sys.path.insert(0, '.')  # run from the repository root
from catalog_xai.core import bars
from scipy import ndimage
d=np.load(sys.argv[1]); s='real'; idx=[int(x) for x in sys.argv[2].split(',')]
maps=d[s+'_maps']; m2o=d[s+'_m2o']; true=d[s+'_true']; L=d[s+'_len']; fr=d[s+'_framed'].astype(np.float32)
fig,ax=plt.subplots(len(idx),3,figsize=(15,5*len(idx)))
for k,i in enumerate(idx):
    m=bars.keep_near_centre(maps[i][None],0.18)[0]; h=m.shape[0]; th=bars.bar_axis(m); c=(h-1)/2
    ax[k,0].imshow(fr[i].transpose(1,2,0).clip(0,1)); ax[k,1].imshow(m,cmap='inferno')
    t=np.arange(-h//2,h//2+1.); rows=c+t*np.sin(th); cols=c+t*np.cos(th)
    prof=ndimage.map_coordinates(m,[rows,cols],order=1)
    img=ndimage.map_coordinates(fr[i].mean(0),[rows,cols],order=1)
    tl=true[i]/m2o[i]/2
    for a in ax[k,:2]: a.plot(cols,rows,'c-',lw=0.5); a.plot([c-tl*np.cos(th),c+tl*np.cos(th)],[c-tl*np.sin(th),c+tl*np.sin(th)],'g-',lw=2)
    ax[k,2].plot(t,prof/prof.max(),label='map on axis'); ax[k,2].plot(t,img/img.max(),label='image on axis')
    ax[k,2].axvline(-tl,color='g'); ax[k,2].axvline(tl,color='g'); ax[k,2].legend(); ax[k,2].set_title(f'#{i} true {true[i]:.0f} meas {L[i]:.0f} m2o {m2o[i]:.2f}')
plt.tight_layout(); plt.savefig('/tmp/m/detail.png',dpi=55)
