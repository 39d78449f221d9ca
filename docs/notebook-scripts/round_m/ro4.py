import sys; sys.path.insert(0, __import__('os').path.dirname(__file__))
from ro import *
srcs=[np.load(p) for p in sys.argv[1].split(',')]
names=sys.argv[2].split(',')  # one name per member across the files, in order
members={}
for s in SETS:
    ms=np.concatenate([np.nan_to_num(d[s+'_members'].astype(np.float64)) for d in srcs],1)
    members[s]=ms
base=srcs[0]
def build(idx):
    out={}
    for s in SETS:
        maps=np.nan_to_num(bars.keep_near_centre(members[s][:,idx].mean(1),0.18))
        out[s]=dict(P=[prof(m) for m in maps],m2o=base[s+'_m2o'],true=base[s+'_true'],scale=base[s+'_scale'],maps=maps)
    return out
for combo in sys.argv[3].split(';'):
    idx=[names.index(n) for n in combo.split('+')]
    data=build(idx)
    for f in (0.2,0.25):
        score(data, lambda t,p,m,f=f: outer(t,p,m,f), f'{combo} f{f}')
