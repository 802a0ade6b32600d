"""Mutants and variants of chapter 6 (generalisation and regularisation).

Each function is appended to `solutions/ch6_regularisation.py` under its exercise's
name, so it may use torch and the reference module's other functions.
"""

from __future__ import annotations

import torch

from tests.mutants import mutant, variant

# ------------------------------------------------------------------ ch6.dropout_forward


@mutant("ch6.dropout_forward", expect=r"scal|1 ?/ ?\(1 ?- ?p\)|inverted|expect")
def dropout_forward__no_rescale(x, p, u, training=True):
    if not training:
        return x.clone()
    return torch.where(u >= p, x, torch.zeros_like(x))


@mutant("ch6.dropout_forward", expect=r"keep|mask|u ?>= ?p|drop")
def dropout_forward__keeps_below_p(x, p, u, training=True):
    # keeps where u < p: p is read as the keep probability
    if not training:
        return x.clone()
    if p >= 1:
        return torch.zeros_like(x)
    return torch.where(u < p, x / (1 - p), torch.zeros_like(x))


@mutant("ch6.dropout_forward", expect=r"eval|training")
def dropout_forward__scales_in_eval(x, p, u, training=True):
    # classic (non-inverted) test-time scaling on top of inverted dropout
    if not training:
        return x * (1 - p)
    if p >= 1:
        return torch.zeros_like(x)
    return torch.where(u >= p, x / (1 - p), torch.zeros_like(x))


@mutant("ch6.dropout_forward", expect=r"p ?= ?1|nan|zero|finite")
def dropout_forward__nan_at_p_one(x, p, u, training=True):
    if not training:
        return x.clone()
    return x * (u >= p).to(dtype=x.dtype) / (1 - p)


@variant("ch6.dropout_forward")
def dropout_forward__mask_times_scale(x, p, u, training=True):
    if not training:
        return x + 0  # a new tensor with the same values
    scale = 0.0 if p >= 1 else 1.0 / (1.0 - p)
    mask = (u >= p).to(dtype=x.dtype) * scale
    return x * mask


# ---------------------------------------------------------------- ch6.dropout_backward


@mutant("ch6.dropout_backward", expect=r"scal|1 ?/ ?\(1 ?- ?p\)|inverted")
def dropout_backward__no_rescale(dout, p, u):
    return torch.where(u >= p, dout, torch.zeros_like(dout))


@mutant("ch6.dropout_backward", expect=r"keep|mask|u ?>= ?p")
def dropout_backward__keeps_below_p(dout, p, u):
    if p >= 1:
        return torch.zeros_like(dout)
    return torch.where(u < p, dout / (1 - p), torch.zeros_like(dout))


@mutant("ch6.dropout_backward", expect=r"p ?= ?1|nan|zero|finite")
def dropout_backward__nan_at_p_one(dout, p, u):
    return dout * (u >= p).to(dtype=dout.dtype) / (1 - p)


@variant("ch6.dropout_backward")
def dropout_backward__via_forward(dout, p, u):
    # the forward is linear with a fixed mask: its gradient is the same masking
    return dropout_forward(dout, p, u, training=True)


# --------------------------------------------------------------------- ch6.adamw_step


@mutant("ch6.adamw_step", expect=r"decoupl|weight decay|decay|L2")
def adamw_step__coupled_decay(w, dw, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
    # Adam with L2: the decay goes through the adaptive denominator
    dw = dw + weight_decay * w
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw * dw
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return w - lr * m_hat / (torch.sqrt(v_hat) + eps), m, v


@mutant("ch6.adamw_step", expect=r"bias.correct|bias|\bt\b")
def adamw_step__no_bias_correction(w, dw, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
    w = w * (1 - lr * weight_decay)
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw * dw
    return w - lr * m / (torch.sqrt(v) + eps), m, v


@mutant("ch6.adamw_step", expect=r"decay|learning rate|\blr\b")
def adamw_step__decay_not_scaled_by_lr(w, dw, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
    w = w * (1 - weight_decay)
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw * dw
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return w - lr * m_hat / (torch.sqrt(v_hat) + eps), m, v


@mutant("ch6.adamw_step", expect=r"eps|epsilon|sqrt")
def adamw_step__eps_inside_sqrt(w, dw, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
    w = w * (1 - lr * weight_decay)
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw * dw
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return w - lr * m_hat / torch.sqrt(v_hat + eps), m, v


@variant("ch6.adamw_step")
def adamw_step__folded_bias_correction(w, dw, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
    # Kingma and Ba's form: the corrections folded into the step size and eps
    m = torch.lerp(dw, m, beta1)
    v = torch.addcmul(v * beta2, dw, dw, value=1 - beta2)
    c2 = (1 - beta2**t) ** 0.5
    step = lr * c2 / (1 - beta1**t)
    return w - lr * weight_decay * w - step * m / (torch.sqrt(v) + eps * c2), m, v


# ------------------------------------------------------- ch6.label_smoothing_cross_entropy


@mutant("ch6.label_smoothing_cross_entropy", expect=r"C ?- ?1|other classes|uniform|every class")
def label_smoothing_cross_entropy__smooth_over_other_classes(logits, y, smoothing):
    num_classes = logits.shape[1]
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    target = torch.full_like(log_probs, smoothing / (num_classes - 1))
    target = target.scatter(1, y[:, None], 1 - smoothing)
    return -(target * log_probs).sum(dim=1).mean()


@mutant("ch6.label_smoothing_cross_entropy", expect=r"stab|overflow|large|finite|nan|inf")
def label_smoothing_cross_entropy__unstable_softmax(logits, y, smoothing):
    probs = torch.exp(logits) / torch.exp(logits).sum(dim=1, keepdim=True)
    log_probs = torch.log(probs)
    nll = -log_probs.gather(1, y[:, None]).squeeze(1)
    return ((1 - smoothing) * nll - smoothing * log_probs.mean(dim=1)).mean()


@mutant("ch6.label_smoothing_cross_entropy", expect=r"smooth|uniform")
def label_smoothing_cross_entropy__drops_uniform_term(logits, y, smoothing):
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    return ((1 - smoothing) * -log_probs.gather(1, y[:, None]).squeeze(1)).mean()


@mutant("ch6.label_smoothing_cross_entropy", expect=r"mean|average|sum|batch")
def label_smoothing_cross_entropy__sum_over_batch(logits, y, smoothing):
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    nll = -log_probs.gather(1, y[:, None]).squeeze(1)
    return ((1 - smoothing) * nll - smoothing * log_probs.mean(dim=1)).sum()


@variant("ch6.label_smoothing_cross_entropy")
def label_smoothing_cross_entropy__soft_targets(logits, y, smoothing):
    num_classes = logits.shape[1]
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    onehot = torch.zeros_like(logits).scatter(1, y[:, None], 1.0)
    target = (1 - smoothing) * onehot + smoothing / num_classes
    return -(target * log_probs).sum(dim=1).mean()


# ------------------------------------------------------------------ ch6.early_stopping


@mutant("ch6.early_stopping", expect=r"patience|off.by.one|late|early")
def early_stopping__stops_one_epoch_late(val_losses, patience, min_delta=0.0):
    best, best_epoch, bad = val_losses[0], 0, 0
    for epoch in range(1, len(val_losses)):
        if val_losses[epoch] < best - min_delta:
            best, best_epoch, bad = val_losses[epoch], epoch, 0
        else:
            bad += 1
            if bad > patience:
                return best_epoch, epoch
    return best_epoch, None


@mutant("ch6.early_stopping", expect=r"min_delta|delta|threshold")
def early_stopping__ignores_min_delta(val_losses, patience, min_delta=0.0):
    best, best_epoch, bad = val_losses[0], 0, 0
    for epoch in range(1, len(val_losses)):
        if val_losses[epoch] < best:
            best, best_epoch, bad = val_losses[epoch], epoch, 0
        else:
            bad += 1
            if bad >= patience:
                return best_epoch, epoch
    return best_epoch, None


@mutant("ch6.early_stopping", expect=r"best|stop|after")
def early_stopping__best_over_all_epochs(val_losses, patience, min_delta=0.0):
    # finds the stop epoch correctly, but takes the best epoch over the whole list
    best, bad, stop = val_losses[0], 0, None
    for epoch in range(1, len(val_losses)):
        if val_losses[epoch] < best - min_delta:
            best, bad = val_losses[epoch], 0
        else:
            bad += 1
            if bad >= patience:
                stop = epoch
                break
    best_epoch = min(range(len(val_losses)), key=lambda e: (val_losses[e], e))
    return best_epoch, stop


@mutant("ch6.early_stopping", expect=r"strict|equal|tie|improve")
def early_stopping__equal_loss_improves(val_losses, patience, min_delta=0.0):
    best, best_epoch, bad = val_losses[0], 0, 0
    for epoch in range(1, len(val_losses)):
        if val_losses[epoch] <= best - min_delta:
            best, best_epoch, bad = val_losses[epoch], epoch, 0
        else:
            bad += 1
            if bad >= patience:
                return best_epoch, epoch
    return best_epoch, None


@variant("ch6.early_stopping")
def early_stopping__epochs_since_best(val_losses, patience, min_delta=0.0):
    best_epoch = 0
    for epoch, loss in enumerate(val_losses):
        if epoch > 0 and loss < val_losses[best_epoch] - min_delta:
            best_epoch = epoch
        elif epoch - best_epoch >= patience:
            return best_epoch, epoch
    return best_epoch, None


# --------------------------------------------------------------------------- ch6.mixup


@mutant("ch6.mixup", expect=r"lam|swap|weight")
def mixup__swapped_weights(x, y_onehot, lam, perm):
    return (1 - lam) * x + lam * x[perm], (1 - lam) * y_onehot + lam * y_onehot[perm]


@mutant("ch6.mixup", expect=r"label|\by\b|target")
def mixup__labels_not_mixed(x, y_onehot, lam, perm):
    return lam * x + (1 - lam) * x[perm], y_onehot.clone()


@mutant("ch6.mixup", expect=r"perm|partner|pair")
def mixup__reversed_batch_instead_of_perm(x, y_onehot, lam, perm):
    # the common shortcut of pairing with the reversed batch, ignoring perm
    return lam * x + (1 - lam) * x.flip(0), lam * y_onehot + (1 - lam) * y_onehot.flip(0)


@variant("ch6.mixup")
def mixup__lerp(x, y_onehot, lam, perm):
    return torch.lerp(x[perm], x, lam), torch.lerp(y_onehot[perm], y_onehot, lam)


# ------------------------------------------------------------------- ch6.kfold_indices


@mutant("ch6.kfold_indices", expect=r"remainder|size|fold|first")
def kfold_indices__remainder_in_last_fold(n, k):
    indices = torch.arange(n, dtype=torch.int64)
    size = n // k
    folds = []
    for fold in range(k):
        start = fold * size
        stop = n if fold == k - 1 else start + size
        folds.append((torch.cat([indices[:start], indices[stop:]]), indices[start:stop]))
    return folds


@mutant("ch6.kfold_indices", expect=r"train|overlap|leak|disjoint")
def kfold_indices__validation_inside_train(n, k):
    indices = torch.arange(n, dtype=torch.int64)
    return [(indices.clone(), val) for val in torch.tensor_split(indices, k)]


@mutant("ch6.kfold_indices", expect=r"dtype|int64")
def kfold_indices__int32(n, k):
    indices = torch.arange(n, dtype=torch.int32)
    folds = []
    for val in torch.tensor_split(indices, k):
        keep = torch.ones(n, dtype=torch.bool)
        keep[val.long()] = False
        folds.append((indices[keep], val))
    return folds


@variant("ch6.kfold_indices")
def kfold_indices__tensor_split(n, k):
    # tensor_split gives the first n % k pieces one extra element, as KFold does
    if not 2 <= k <= n:
        raise ValueError("need 2 <= k <= n")
    indices = torch.arange(n)
    folds = []
    for val in torch.tensor_split(indices, k):
        in_val = torch.zeros(n, dtype=torch.bool)
        in_val[val] = True
        folds.append((indices[~in_val], val))
    return folds


# ------------------------------------------------------------- further mistakes (checks)


@mutant("ch6.dropout_forward", expect=r"eval|training")
def dropout_forward__eval_applies_mask(x, p, u, training=True):
    # ignores the training flag: masks in eval mode as well
    if p >= 1:
        return torch.zeros_like(x)
    return torch.where(u >= p, x / (1 - p), torch.zeros_like(x))


@mutant("ch6.adamw_step", expect=r"moment|raw gradient|decay")
def adamw_step__decay_in_moments_too(w, dw, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
    # decoupled shrinking, but the decayed gradient still feeds the moments
    g = dw + weight_decay * w
    w = w * (1 - lr * weight_decay)
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return w - lr * m_hat / (torch.sqrt(v_hat) + eps), m, v


@mutant("ch6.label_smoothing_cross_entropy", expect=r"smooth|uniform")
def label_smoothing_cross_entropy__ignores_smoothing(logits, y, smoothing):
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    return -log_probs.gather(1, y[:, None]).mean()


@mutant("ch6.early_stopping", expect=r"best")
def early_stopping__best_never_updated(val_losses, patience, min_delta=0.0):
    # records the improving epoch but keeps comparing with the first loss
    best_epoch, bad = 0, 0
    for epoch in range(1, len(val_losses)):
        if val_losses[epoch] < val_losses[0] - min_delta:
            best_epoch, bad = epoch, 0
        else:
            bad += 1
            if bad >= patience:
                return best_epoch, epoch
    return best_epoch, None


@mutant("ch6.early_stopping", expect=r"patience|off.by.one")
def early_stopping__stops_one_epoch_early(val_losses, patience, min_delta=0.0):
    best, best_epoch, bad = val_losses[0], 0, 0
    for epoch in range(1, len(val_losses)):
        if val_losses[epoch] < best - min_delta:
            best, best_epoch, bad = val_losses[epoch], epoch, 0
        else:
            bad += 1
            if bad >= patience - 1:
                return best_epoch, epoch
    return best_epoch, None


@mutant("ch6.mixup", expect=r"lam|swap|weight")
def mixup__labels_weighted_the_other_way(x, y_onehot, lam, perm):
    return lam * x + (1 - lam) * x[perm], (1 - lam) * y_onehot + lam * y_onehot[perm]


@mutant("ch6.kfold_indices", expect=r"order|increasing|sort")
def kfold_indices__train_wraps_around(n, k):
    # the training set starts after the validation block and wraps around
    indices = torch.arange(n, dtype=torch.int64)
    folds = []
    for val in torch.tensor_split(indices, k):
        start, stop = int(val[0]), int(val[-1]) + 1
        folds.append((torch.cat([indices[stop:], indices[:start]]), val))
    return folds


# --- correct variants a student may write: namedtuples where a tuple is asked ----------------


@variant("ch6.adamw_step")
def adamw_step__namedtuple(w, dw, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
    from collections import namedtuple

    State = namedtuple("State", "w m v")
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw * dw
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return State(w * (1 - lr * weight_decay) - lr * m_hat / (v_hat.sqrt() + eps), m, v)


@variant("ch6.early_stopping")
def early_stopping__namedtuple(val_losses, patience, min_delta=0.0):
    from collections import namedtuple

    Outcome = namedtuple("Outcome", "best_epoch stop_epoch")
    best, best_epoch, waited = val_losses[0], 0, 0
    for epoch in range(1, len(val_losses)):
        if val_losses[epoch] < best - min_delta:
            best, best_epoch, waited = val_losses[epoch], epoch, 0
        else:
            waited += 1
            if waited == patience:
                return Outcome(best_epoch, epoch)
    return Outcome(best_epoch, None)
