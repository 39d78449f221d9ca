import sys, numpy as np
sys.path.insert(0, '.')  # run from the repository root
from catalog_xai.core import bars
from scipy import ndimage
from scipy.stats import pearsonr
SETS=['generated_tune','generated','generated_alt','real']
def prof(m, width=12, symmetric=True):
    h,w=m.shape; th=bars.bar_axis(m); reach=int(np.ceil(np.hypot(h,w)/2))
    t=np.arange(-reach,reach+1.); s=np.linspace(-width/2,width/2,int(width)+1)
    tt,ss=np.meshgrid(t,s,indexing='ij'); cy,cx=(h-1)/2,(w-1)/2
    rows=cy+tt*np.sin(th)+ss*np.cos(th); cols=cx+tt*np.cos(th)-ss*np.sin(th)
    p=ndimage.map_coordinates(m,[rows,cols],order=1,cval=0.).max(1)
    if symmetric: p=np.minimum(p,p[::-1])
    return t,p
def load(path):
    d=np.load(path); out={}
    for s in SETS:
        maps=bars.keep_near_centre(d[s+'_maps'].astype(np.float64),0.18)
        maps=np.nan_to_num(maps)
        P=[prof(m) for m in maps]
        out[s]=dict(P=P,m2o=d[s+'_m2o'],true=d[s+'_true'],len=d[s+'_len'],scale=d[s+'_scale'],maps=maps,angle=d[s+'_angle'])
    return out
def score(data, fn, label):
    row=[]
    for s in SETS:
        D=data[s]; L=np.array([fn(t,p,m) for (t,p),m in zip(D['P'],D['maps'])])*D['m2o']
        ok=np.isfinite(L)
        if s=='real': r=pearsonr(L[ok]*D['scale'][ok],D['true'][ok]*D['scale'][ok])[0]
        else: r=pearsonr(L[ok],D['true'][ok])[0]
        row.append(f'{r:.3f}')
    print(f'{label:55s}', ' '.join(row), flush=True)
def outer(t,p,m,f=0.2,near=0.18*112):
    peak=p.max(); above=p>=f*peak
    g=2; joined=ndimage.binary_closing(np.pad(above,g),iterations=g)[g:-g]|above
    runs,n=ndimage.label(joined)
    if n>1:
        nearest=ndimage.minimum(np.abs(t),runs,index=np.arange(1,n+1))
        keep=np.flatnonzero(nearest<=max(near,nearest.min()))+1
        above&=np.isin(runs,keep)
    k=np.flatnonzero(above); return max(t[k[-1]]-t[k[0]],1.)
def peakpos(t,p,m):
    return 2*abs(t[np.argmax(p)])
def rms(t,p,m,f=0.2):
    w=np.where(p>=f*p.max(),p,0); return 2*np.sqrt((w*t*t).sum()/w.sum())
if __name__=='__main__':
    data=load(sys.argv[1])
    print('columns:', SETS)
    score(data, lambda t,p,m: outer(t,p,m), 'outermost f0.2 (shipped)')
    for f in (0.3,0.4,0.5): score(data, lambda t,p,m,f=f: outer(t,p,m,f), f'outermost f{f}')
    score(data, peakpos, 'peak position x2')
    for f in (0.1,0.2,0.4): score(data, lambda t,p,m,f=f: rms(t,p,m,f), f'rms |t| above f{f}')
