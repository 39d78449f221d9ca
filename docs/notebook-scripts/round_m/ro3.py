import sys; sys.path.insert(0, __import__('os').path.dirname(__file__))
from ro import *
d=np.load(sys.argv[1])
def norm(x):
    mx=x.max(axis=(-2,-1),keepdims=True); return np.where(mx>0,x/np.where(mx>0,mx,1),0)
COMB={'mean':lambda M: M.mean(1),'min':lambda M: M.min(1),'geo':lambda M: np.sqrt(np.clip(M,0,None).prod(1)),
      'm0':lambda M: M[:,0],'m1':lambda M: M[:,1]}
def build(comb):
    out={}
    for s in SETS:
        maps=np.nan_to_num(bars.keep_near_centre(norm(COMB[comb](np.nan_to_num(d[s+'_members'].astype(np.float64)))),0.18))
        out[s]=dict(P=[prof(m) for m in maps],m2o=d[s+'_m2o'],true=d[s+'_true'],scale=d[s+'_scale'],maps=maps)
    return out
for comb in sys.argv[2].split(','):
    data=build(comb)
    for f in (0.15,0.2,0.25,0.3):
        score(data, lambda t,p,m,f=f: outer(t,p,m,f), f'{comb} outermost f{f}')
