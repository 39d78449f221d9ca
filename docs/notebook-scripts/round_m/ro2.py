import sys; sys.path.insert(0, __import__('os').path.dirname(__file__))
from ro import *
def eqw(t,p,m,f=0.0):
    q=np.where(p>=f*p.max(),p,0); return q.sum()/p.max()
def encl(t,p,m,frac=0.9,f=0.1):
    q=np.where(p>=f*p.max(),p,0); r=np.abs(t); o=np.argsort(r); c=np.cumsum(q[o]); c/=c[-1]
    return 2*r[o][np.searchsorted(c,frac)]
def steep(t,p,m,f=0.2):
    # outermost sample where the profile falls (outward) below f of the mean level inside
    L0=outer(t,p,m,0.2); return L0
data=load(sys.argv[1])
for f in (0.0,0.1,0.2,0.3): score(data, lambda t,p,m,f=f: eqw(t,p,m,f), f'equivalent width above f{f}')
for fr in (0.7,0.8,0.9,0.95):
    for f in (0.1,0.2): score(data, lambda t,p,m,fr=fr,f=f: encl(t,p,m,fr,f), f'enclosing {fr} of profile above f{f}')
