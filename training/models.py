"""Teacher ANN and the snnTorch students.

All students: snnTorch `Leaky` neurons (threshold 1.0, fixed beta), direct input encoding
(the pixel values are the input current at every step), output layer = Leaky neurons whose
spike counts decide the class. Student logits for the distillation losses = output spike
counts over the T steps.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
import snntorch as snn

from common import BinLinear, BinConv2d, THRESHOLD


def leaky(beta, reset):
    # snnTorch default surrogate (atan); reset "subtract" is snnTorch's default
    # (docs/semantics.md: subtract-undecayed), "zero" is NIR's hard reset.
    return snn.Leaky(beta=beta, threshold=THRESHOLD, reset_mechanism=reset, learn_beta=False)


# ----------------------------------------------------------------------------- teacher
class TeacherCNN(nn.Module):
    """Conventional ANN teacher: conv(1->32) conv(32->64) maxpool fc(1024->128) fc(128->32) fc(32->10).
    The 32-dim ReLU output of the penultimate layer is the feature vector the ensemble
    students regress (4 slices of 8)."""

    def __init__(self, feat=32):
        super().__init__()
        self.c1 = nn.Conv2d(1, 32, 3, padding=1)
        self.c2 = nn.Conv2d(32, 64, 3, padding=1)
        self.f1 = nn.Linear(64 * 4 * 4, 128)
        self.f2 = nn.Linear(128, feat)
        self.f3 = nn.Linear(feat, 10)
        self.drop = nn.Dropout(0.2)

    def features(self, x):
        x = x.view(-1, 1, 8, 8) / 16.0
        x = F.relu(self.c1(x))
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        x = self.drop(F.relu(self.f1(x.flatten(1))))
        return F.relu(self.f2(x))

    def forward(self, x):
        return self.f3(self.features(x))

    def macs(self):
        return (32 * 9 * 64) + (64 * 32 * 9 * 64) + 1024 * 128 + 128 * 32 + 32 * 10


# ----------------------------------------------------------------------------- students
class MLPStudent(nn.Module):
    """Binary-weight MLP 64-H-10: fc1 -> LIF -> fc2 -> LIF(out)."""

    def __init__(self, hidden=128, beta=0.875, reset="subtract"):
        super().__init__()
        self.in_scale = 1.0 / 16.0   # folded into fc1 at export (exact: power of two)
        self.fc1 = BinLinear(64, hidden)
        self.lif1 = leaky(beta, reset)
        self.fc2 = BinLinear(hidden, 10)
        self.lif2 = leaky(beta, reset)
        self.beta, self.reset = beta, reset

    def weight_layers(self):
        return [("fc1", self.fc1), ("fc2", self.fc2)]

    def forward(self, x, T, record=None):
        x = x * self.in_scale if self.in_scale != 1.0 else x
        cur1 = self.fc1(x)                       # direct encoding: same current every step
        w2, b2 = self.fc2.effective()            # binarize once per forward, not per step
        mem1 = torch.zeros_like(cur1)
        mem2 = None
        out = []
        for t in range(T):
            spk1, mem1 = self.lif1(cur1, mem1)
            cur2 = F.linear(spk1, w2, b2)
            if mem2 is None:
                mem2 = torch.zeros_like(cur2)
            spk2, mem2 = self.lif2(cur2, mem2)
            out.append(spk2)
            if record is not None:
                record.setdefault("fc1", []).append(x)
                record.setdefault("fc2", []).append(spk1)
                record.setdefault("lif1", []).append(spk1)
                record.setdefault("lif2", []).append(spk2)
        return torch.stack(out)                  # T x B x 10


class ConvStudent(nn.Module):
    """Binary-weight conv student for 1x8x8 input, multi-shortcut residual block (SEI-BWSNN):

        conv0 -> LIF0 = s0
        conv1(s0) + s0 -> LIF1 = s1      (shortcut s0 bypasses the conv1->LIF1 sub-mode)
        conv2(s1) + s1 -> LIF2 = s2      (shortcut s1 bypasses the conv2->LIF2 sub-mode)
        AvgPool2d(2)(s2) -> Flatten -> fc -> LIF(out)

    BatchNorm2d after each conv during training; folded into the binary conv weights/biases
    before the final fine-tuning and export."""

    def __init__(self, ch=16, beta=0.75, reset="zero"):
        super().__init__()
        self.in_scale = 1.0 / 16.0
        self.conv0 = BinConv2d(1, ch, 3, padding=1)
        self.conv1 = BinConv2d(ch, ch, 3, padding=1)
        self.conv2 = BinConv2d(ch, ch, 3, padding=1)
        self.bn0, self.bn1, self.bn2 = nn.BatchNorm2d(ch), nn.BatchNorm2d(ch), nn.BatchNorm2d(ch)
        self.lif0, self.lif1, self.lif2 = leaky(beta, reset), leaky(beta, reset), leaky(beta, reset)
        self.pool = nn.AvgPool2d(2)
        self.fc = BinLinear(ch * 4 * 4, 10)
        self.lif_out = leaky(beta, reset)
        self.ch, self.beta, self.reset = ch, beta, reset

    def weight_layers(self):
        return [("conv0", self.conv0), ("conv1", self.conv1), ("conv2", self.conv2), ("fc", self.fc)]

    @torch.no_grad()
    def fold_bn(self):
        """Fold each BatchNorm (running stats) into the preceding conv: a binary row a*sign(w)
        times the per-channel BN scale g stays binary (+-|a*g|)."""
        for conv, bn in ((self.conv0, self.bn0), (self.conv1, self.bn1), (self.conv2, self.bn2)):
            if isinstance(bn, nn.Identity):
                continue
            w, b = conv.effective()
            g = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            conv.weight.copy_(w * g.view(-1, 1, 1, 1))
            conv.bias.copy_((b - bn.running_mean) * g + bn.bias)
        self.bn0, self.bn1, self.bn2 = nn.Identity(), nn.Identity(), nn.Identity()

    def forward(self, x, T, record=None):
        x = x.view(-1, 1, 8, 8)
        x = x * self.in_scale if self.in_scale != 1.0 else x
        cur0 = self.bn0(self.conv0(x))
        w1, b1 = self.conv1.effective()
        w2, b2 = self.conv2.effective()
        wf, bf = self.fc.effective()
        conv = lambda z, w, b: F.conv2d(z, w, b, 1, 1)
        m0 = torch.zeros_like(cur0)
        m1 = m2 = m3 = None
        out = []
        for t in range(T):
            s0, m0 = self.lif0(cur0, m0)
            c1 = self.bn1(conv(s0, w1, b1)) + s0
            if m1 is None:
                m1 = torch.zeros_like(c1)
            s1, m1 = self.lif1(c1, m1)
            c2 = self.bn2(conv(s1, w2, b2)) + s1
            if m2 is None:
                m2 = torch.zeros_like(c2)
            s2, m2 = self.lif2(c2, m2)
            p = self.pool(s2).flatten(1)
            c3 = F.linear(p, wf, bf)
            if m3 is None:
                m3 = torch.zeros_like(c3)
            s3, m3 = self.lif_out(c3, m3)
            out.append(s3)
            if record is not None:
                for k, v in (("conv0", x), ("conv1", s0), ("conv2", s1), ("fc", p),
                             ("lif0", s0), ("lif1", s1), ("lif2", s2), ("lif_out", s3)):
                    record.setdefault(k, []).append(v)
        return torch.stack(out)


class EnsembleStudent(nn.Module):
    """SNE-style ensemble of N binary students, each 64-32-8 (fc1 -> LIF -> fc2 -> LIF = 8
    spiking features), and a shared binary head over the concatenated N*8 features whose
    column slices (10 x 8 each, bias split b/N each) all sum into one output LIF layer."""

    def __init__(self, n=4, hidden=32, feat=8, beta=0.9375, reset="zero"):
        super().__init__()
        self.n, self.feat = n, feat
        self.in_scale = 1.0 / 16.0
        self.fc1 = nn.ModuleList([BinLinear(64, hidden) for _ in range(n)])
        self.lif1 = nn.ModuleList([leaky(beta, reset) for _ in range(n)])
        self.fc2 = nn.ModuleList([BinLinear(hidden, feat) for _ in range(n)])
        self.lif2 = nn.ModuleList([leaky(beta, reset) for _ in range(n)])
        self.head = BinLinear(n * feat, 10)
        self.lif_out = leaky(beta, reset)
        self.beta, self.reset = beta, reset

    def weight_layers(self):
        out = []
        for k in range(self.n):
            out += [(f"s{k}_fc1", self.fc1[k]), (f"s{k}_fc2", self.fc2[k])]
        return out + [("head", self.head)]

    def forward(self, x, T, mask=None, record=None, return_feats=False):
        B = x.shape[0]
        if mask is None:
            mask = torch.ones(self.n)
        x = x * self.in_scale if self.in_scale != 1.0 else x
        cur1 = [self.fc1[k](x) for k in range(self.n)]
        m1 = [torch.zeros_like(c) for c in cur1]
        m2 = [None] * self.n
        m3 = None
        wh, bh = self.head.effective()
        w2 = [self.fc2[k].effective() for k in range(self.n)]
        # bias split b/N per student head slice; a dropped student drops its share too
        bias = bh * (mask.sum() / self.n)
        colmask = mask.repeat_interleave(self.feat)
        out, feats = [], []
        for t in range(T):
            fs = []
            for k in range(self.n):
                s1, m1[k] = self.lif1[k](cur1[k], m1[k])
                c2 = F.linear(s1, *w2[k])
                if m2[k] is None:
                    m2[k] = torch.zeros_like(c2)
                s2, m2[k] = self.lif2[k](c2, m2[k])
                fs.append(s2)
                if record is not None:
                    record.setdefault(f"s{k}_fc1", []).append(x)
                    record.setdefault(f"s{k}_fc2", []).append(s1)
                    record.setdefault(f"s{k}_lif1", []).append(s1)
                    record.setdefault(f"s{k}_lif2", []).append(s2)
            f = torch.cat(fs, dim=1) * colmask
            c3 = F.linear(f, wh) + bias
            if m3 is None:
                m3 = torch.zeros_like(c3)
            s3, m3 = self.lif_out(c3, m3)
            out.append(s3)
            feats.append(torch.cat(fs, dim=1))
            if record is not None:
                record.setdefault("head", []).append(f)
                record.setdefault("lif_out", []).append(s3)
        out = torch.stack(out)
        if return_feats:
            return out, torch.stack(feats)
        return out
