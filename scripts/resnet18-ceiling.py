#!/usr/bin/env python3
"""The layer-major ceiling of the ResNet-18 scale model streamed on the ULX3S (an estimate for
docs/streaming.md section 3, not a model of any built design).

A layer-major schedule with a double-buffered tile buffer overlaps a layer's weight transfer
with that layer's compute only, so a pass takes at least the sum over layers of
max(compute, transfer), not max(sum compute, sum transfer). Transfer: the layer's weight bits
at the SDRAM's 0.977 x 16 bits a cycle (`plan`'s figure). Compute: the rows fused over T of
section 1, every projection a gather: a 3x3 convolution rows x words x T (rows = C x H x W /
lanes, words = 9 x C_in / plane word, the plane word m x lanes with m = min(C_in / lanes,
plane bits / lanes), at least lanes), the stem one word a row, a 10-bit shortcut ten bit-plane
gathers, an identity shortcut one beat a row; the update overlapped. With the steps side by
side (`par` popcount sets on one weight word, each with another step's plane word), a word
takes ceil(T / par) beats instead of T. The layer list is
`training/gen_scale_models.py`'s resnet18_cifar. Checked against the cycle engine's cycles
for today's datapath (`plan ... --inputs in4_resnet18_cifar.npy`): 16 lanes, 64-bit planes,
T = 8: 4.90 M here, 5.13 M there; 32, 64, T = 4: 1.54 M, 1.59 M; 64, 64, T = 4: 1.08 M, 1.11 M.

  python3 scripts/resnet18-ceiling.py
"""
import math
B=0.977*16  # bits per cycle from the SDRAM
# (name, cout, H, W, cin, k, stride_in_factor, weight bits main, shortcut: None|('o2o')|('bp',cin,bits))
L=[('lif1',64,32,32,3,3,'stem',1728,None)]
def blk(s,c,h,ci,first):
    a=(f'l{s}b{0 if first else 1}_lifa',c,h,h,ci,3,'conv',c*ci*9,None)
    sc=('bp',ci,10) if (first and ci!=c) else ('o2o',)
    b=(f'l{s}b{0 if first else 1}_lifb',c,h,h,c,3,'conv',c*c*9,sc)
    return [a,b]
ch=[64,128,256,512]; hw=[32,16,8,4]
prev=64
for s in range(4):
    L+=blk(s+1,ch[s],hw[s],prev,True); L+=blk(s+1,ch[s],hw[s],ch[s],False); prev=ch[s]
L.append(('lif_out',10,1,1,512,1,'fc',8192,None))
def run(lanes,P,T,par=1,verbose=False):
    """Cycles a pass (sum of max), compute and transfer. `par` popcount sets share each weight
    word, each on another step's plane word: a word takes ceil(T / par) beats, and with par > 1
    a row's T updates (one a cycle, overlapped with the next row's gather) floor it at T."""
    tot=0;Ct=0;Xt=0
    for (n,co,h,w,ci,k,kind,wb,sc) in L:
        ln=min(lanes,co if co>=16 else 16)
        rows=co*h*w/ln
        m=min(max(1,ci//ln), max(1,P//ln)); pw=m*ln
        if kind=='stem': words=1
        elif kind=='fc': rows=1; words=ci/pw
        else: words=math.ceil(9*ci/pw)
        x=wb/B
        if sc and sc[0]=='bp':
            words+=10*math.ceil(sc[1]/pw); x+=co*sc[1]*10/B
        elif sc: words+=1
        c=rows*max(words*math.ceil(T/par), T if par>1 else 0)
        tot+=max(c,x); Ct+=c; Xt+=x
        if verbose: print(f'{n:10s} compute {c:9.0f} transfer {x:9.0f}')
    return tot,Ct,Xt
def show(lanes,P,T,par=1):
    tot,Ct,Xt=run(lanes,P,T,par)
    bits=lanes*max(P,lanes)*par
    print(f'lanes {lanes} P {P} T {T} steps side by side {par} ({bits} gathered bits a cycle): sum max {tot/1e6:.3f}M  compute {Ct/1e6:.3f}M transfer {Xt/1e6:.3f}M  fraction {Xt/tot:.3f} (perfect overlap {Xt/max(Ct,Xt):.3f})')
print('one step a beat (each weight word read T times):')
for (lanes,P,T) in [(16,64,8),(32,64,4),(64,64,8),(64,128,8),(64,64,4),(32,64,8),(64,128,4)]:
    show(lanes,P,T)
print('every step a beat (each weight word read once, T popcount sets):')
for (lanes,P,T) in [(8,64,8),(16,32,4),(16,64,4),(16,64,8),(32,32,4),(32,64,4)]:
    show(lanes,P,T,T)
run(64,64,8,verbose=True)
