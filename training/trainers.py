"""Training procedures: teacher, and the distillation of every student."""
import itertools
import time

import numpy as np
import torch
import torch.nn.functional as F

from common import (set_seed, batches, kd_loss, set_mode, freeze_binary, spike_accuracy)
from models import TeacherCNN, MLPStudent, ConvStudent, EnsembleStudent

# Distillation hyper-parameters (documented in training/README.md)
KD_T = 4.0        # distillation temperature
KD_ALPHA = 0.7    # weight of the KL term
BS = 64
LOGIT_SCALE = 1.0  # student logits = LOGIT_SCALE * output spike counts


def log(*a):
    print(*a, flush=True)


def tt(x):
    return torch.as_tensor(np.asarray(x), dtype=torch.float32)


# ----------------------------------------------------------------------------- teacher
def train_teacher(xtr, ytr, xte, yte, seed=0, epochs=60):
    set_seed(seed)
    net = TeacherCNN()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    rng = np.random.RandomState(seed)
    X, Y = tt(xtr), torch.as_tensor(ytr)
    for ep in range(epochs):
        net.train()
        for idx in _idx_batches(len(xtr), BS, rng):
            xb = X[idx]
            # light augmentation: random 1-pixel shifts of the 8x8 image
            dx, dy = rng.randint(-1, 2), rng.randint(-1, 2)
            xb = torch.roll(xb.view(-1, 8, 8), shifts=(dy, dx), dims=(1, 2)).reshape(-1, 64)
            loss = F.cross_entropy(net(xb), Y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    net.eval()
    with torch.no_grad():
        acc = float((net(tt(xte)).argmax(1).numpy() == yte).mean())
    return net, acc


def _idx_batches(n, bs, rng):
    p = rng.permutation(n)
    for i in range(0, n, bs):
        yield torch.as_tensor(p[i:i + bs])


@torch.no_grad()
def eval_spikes(model, x, T, **kw):
    model.eval()
    out = model(tt(x), T, **kw)
    return out.permute(1, 0, 2).numpy().astype(np.uint8)     # N x T x 10


def eval_acc(model, x, y, T, **kw):
    return spike_accuracy(eval_spikes(model, x, T, **kw).sum(1), y)


def run_stage(model, xtr, ytr, T, epochs, lr, wd, loss_fn, seed, tag):
    """One training stage; loss_fn(model, xb, yb, idx) -> loss."""
    rng = np.random.RandomState(seed)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=wd)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    X, Y = tt(xtr), torch.as_tensor(ytr)
    t0 = time.time()
    for ep in range(epochs):
        model.train()
        for idx in _idx_batches(len(xtr), BS, rng):
            loss = loss_fn(model, X[idx], Y[idx], idx)
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    log(f"  [{tag}] {epochs} epochs, {time.time() - t0:.1f}s")


def kd_step(T, teacher_logits, kd_T=KD_T, alpha=KD_ALPHA):
    def f(model, xb, yb, idx):
        counts = model(xb, T).sum(0) * LOGIT_SCALE
        return kd_loss(counts, teacher_logits[idx], yb, kd_T, alpha)
    return f


# ----------------------------------------------------------------------------- students
def train_two_stage(model, xtr, ytr, xte, yte, T, tlog, seed, ep1=40, ep2=40, tag=""):
    """SEI-BWSNN two-stage recipe: stage 1 full precision (weight decay 1e-4), stage 2 binary
    weights initialised from stage 1 (weight decay 0, lower lr). Both with the KD loss."""
    set_seed(seed)
    set_mode(model, "fp")
    run_stage(model, xtr, ytr, T, ep1, 2e-3, 1e-4, kd_step(T, tlog), seed, tag + " stage1 fp")
    acc_fp = eval_acc(model, xte, yte, T)
    set_mode(model, "bin")
    run_stage(model, xtr, ytr, T, ep2, 1e-3, 0.0, kd_step(T, tlog), seed + 1, tag + " stage2 bin")
    acc_bin = eval_acc(model, xte, yte, T)
    log(f"  [{tag}] fp acc {acc_fp:.4f}  binary acc {acc_bin:.4f}")
    return acc_fp, acc_bin


def train_mlp_bw(xtr, ytr, xte, yte, tlog, T=8, seed=1):
    set_seed(seed)
    m = MLPStudent(hidden=128, beta=0.875, reset="subtract")
    acc_fp, acc_bin = train_two_stage(m, xtr, ytr, xte, yte, T, tlog, seed, tag="mlp_bw")
    freeze_binary(m)
    _fold_in_scale(m, m.fc1)
    return m, {"stage1_fp_acc": acc_fp, "stage2_binary_acc": acc_bin}


def _fold_in_scale(m, first):
    with torch.no_grad():
        first.weight.mul_(m.in_scale)      # exact (power of two)
    m.in_scale = 1.0


def train_conv_bw(xtr, ytr, xte, yte, tlog, T=8, seed=2):
    set_seed(seed)
    m = ConvStudent(ch=16, beta=0.75, reset="zero")
    acc_fp, acc_bin = train_two_stage(m, xtr, ytr, xte, yte, T, tlog, seed, ep1=30, ep2=30, tag="conv_bw")
    m.fold_bn()
    acc_fold = eval_acc(m, xte, yte, T)
    # stage 3: binary fine-tuning of the BN-folded network (what gets exported)
    run_stage(m, xtr, ytr, T, 10, 2e-4, 0.0, kd_step(T, tlog), seed + 2, "conv_bw stage3 folded")
    freeze_binary(m)
    _fold_in_scale(m, m.conv0)
    acc_final = eval_acc(m, xte, yte, T)
    log(f"  [conv_bw] after BN fold {acc_fold:.4f}, after folded fine-tune {acc_final:.4f}")
    return m, {"stage1_fp_acc": acc_fp, "stage2_binary_acc": acc_bin,
               "bn_folded_acc_before_finetune": acc_fold}


def train_ensemble_bw(xtr, ytr, xte, yte, tlog, tfeat, T=8, seed=4, n=4, lam=1.0, drop=True, ep=60, hidden=32, p_full=0.5, feat=8):
    """SNE-style: student k regresses teacher feature slice k (see below; features normalised to [0,1]
    by their 99th percentile on the training set) with MSE on its feature spike rates, plus the
    KD classification loss on the ensemble output. Dropout-style activation: for every batch
    a random subset of students is kept (see below); dropped students contribute nothing
    (their head slice and bias share are removed) and NO rescaling is applied, so that the
    exported head works unchanged for any subset. Subset sampling per batch: with probability
    p_full all N students, otherwise K ~ U{1..N-1} and a uniformly random K-subset."""
    # The teacher's D features are cut into D / feat slices of feat each; student k regresses
    # slice k mod (D / feat). With N = D / feat every slice has one student (ensemble_bw: N = 4,
    # 8 of 32 features each); with more students the slices are covered round-robin, so that
    # every slice has a second student when one is missing.
    d_feat = tfeat.shape[1]
    if d_feat % feat:
        raise ValueError(f"{d_feat} teacher features do not cut into slices of {feat}")
    set_seed(seed)
    m = EnsembleStudent(n=n, hidden=hidden, feat=feat, beta=0.9375, reset="zero")
    scale = np.percentile(tfeat, 99, axis=0) + 1e-6
    cols = [(k * feat) % d_feat + j for k in range(n) for j in range(feat)]
    target = torch.as_tensor(np.clip(tfeat / scale, 0, 1)[:, cols], dtype=torch.float32)
    rng = np.random.RandomState(seed + 100)
    fd = m.feat

    def step(model, xb, yb, idx):
        k = n if (not drop or rng.rand() < p_full) else rng.randint(1, n)
        keep = rng.choice(n, k, replace=False)
        mask = torch.zeros(n)
        mask[keep] = 1.0
        out, feats = model(xb, T, mask=mask, return_feats=True)
        rate = feats.mean(0)                          # B x N*feat
        colmask = mask.repeat_interleave(fd)
        mse = (((rate - target[idx]) ** 2) * colmask).sum() / (colmask.sum() * len(idx))
        return kd_loss(out.sum(0) * LOGIT_SCALE, tlog[idx], yb, KD_T, KD_ALPHA) + lam * mse

    set_mode(m, "fp")
    run_stage(m, xtr, ytr, T, ep, 2e-3, 1e-4, step, seed, "ensemble_bw stage1 fp")
    acc_fp = eval_acc(m, xte, yte, T)
    set_mode(m, "bin")
    run_stage(m, xtr, ytr, T, ep, 1e-3, 0.0, step, seed + 1, "ensemble_bw stage2 bin")
    freeze_binary(m)
    for k in range(n):
        _fold_in_scale_ens(m, m.fc1[k])
    m.in_scale = 1.0
    acc_bin = eval_acc(m, xte, yte, T)
    log(f"  [ensemble_bw] fp acc {acc_fp:.4f}  binary acc {acc_bin:.4f}")
    return m, {"stage1_fp_acc": acc_fp, "stage2_binary_acc": acc_bin,
               "feature_regression_weight": lam, "teacher_feature_norm": "divide by per-dim 99th percentile, clip to [0,1]"}


def _fold_in_scale_ens(m, layer):
    with torch.no_grad():
        layer.weight.mul_(m.in_scale)


def ensemble_k_table(m, xte, yte, T, n_random=200, seed=5):
    """Accuracy for every K = 1..N: every subset evaluated (exhaustive), best subset, mean over
    all K-subsets (= expectation over uniformly random K-subsets) and the mean over n_random
    random draws (with replacement among subsets)."""
    n = m.n
    res = {}
    accs = {}
    for k in range(1, n + 1):
        for sub in itertools.combinations(range(n), k):
            mask = torch.zeros(n)
            mask[list(sub)] = 1.0
            accs[sub] = eval_acc(m, xte, yte, T, mask=mask)
    rng = np.random.RandomState(seed)
    table = []
    for k in range(1, n + 1):
        subs = [s for s in accs if len(s) == k]
        best = max(subs, key=lambda s: (accs[s], [-i for i in s]))
        draws = [accs[subs[rng.randint(len(subs))]] for _ in range(n_random)]
        table.append({"K": k, "n_subsets": len(subs), "best_subset": list(best),
                      "best_acc": accs[best], "worst_acc": min(accs[s] for s in subs),
                      "mean_acc_all_subsets": float(np.mean([accs[s] for s in subs])),
                      "mean_acc_random_draws": float(np.mean(draws)), "n_random_draws": n_random})
    return table, {",".join(map(str, s)): a for s, a in accs.items()}


def train_mlp_bw_t4(xtr, ytr, xte, yte, tlog, seed=3, T_long=16, T_short=4):
    """Temporal self-distillation: an mlp_bw-shaped binary student trained at T = 16 (from the
    ANN teacher, two stages) is the teacher for the same network at T = 4: the T = 4 student
    starts from the T = 16 weights and is fine-tuned (binary) with
    alpha*tau^2*KL(softmax(c16*(4/16)/tau) || softmax(c4/tau)) + (1-alpha)*CE(c4),
    c = output spike counts (teacher counts rescaled to the student's count range)."""
    set_seed(seed)
    m16 = MLPStudent(hidden=128, beta=0.875, reset="subtract")
    acc_fp16, acc_bin16 = train_two_stage(m16, xtr, ytr, xte, yte, T_long, tlog, seed, tag="mlp_bw_t16")
    acc16_at16 = eval_acc(m16, xte, yte, T_long)
    acc16_at4 = eval_acc(m16, xte, yte, T_short)
    with torch.no_grad():
        m16.eval()
        c16 = m16(tt(xtr), T_long).sum(0) * (T_short / T_long)
    m4 = MLPStudent(hidden=128, beta=0.875, reset="subtract")
    m4.load_state_dict(m16.state_dict())
    set_mode(m4, "bin")
    run_stage(m4, xtr, ytr, T_short, 40, 5e-4, 0.0, kd_step(T_short, c16), seed + 7, "mlp_bw_t4 self-distill")
    acc4 = eval_acc(m4, xte, yte, T_short)
    # comparison: the same network trained directly at T = 4 from the ANN teacher
    set_seed(seed)
    mdir = MLPStudent(hidden=128, beta=0.875, reset="subtract")
    _, acc_direct4 = train_two_stage(mdir, xtr, ytr, xte, yte, T_short, tlog, seed, tag="mlp_bw_t4 direct-ANN-KD baseline")
    log(f"  [mlp_bw_t4] T16 model: {acc16_at16:.4f} at T=16, {acc16_at4:.4f} at T=4; "
        f"self-distilled T=4: {acc4:.4f}; direct ANN-KD at T=4: {acc_direct4:.4f}")
    freeze_binary(m4)
    _fold_in_scale(m4, m4.fc1)
    return m4, {"t16_model_acc_at_T16": acc16_at16, "t16_model_acc_at_T4_no_distill": acc16_at4,
                "t16_stage1_fp_acc": acc_fp16, "self_distilled_acc_at_T4": acc4,
                "direct_ann_kd_acc_at_T4_baseline": acc_direct4}
