"""Mutants and variants of chapter 6 (generalisation and regularisation).

Each function is appended to `solutions/ch6_regularisation.py` under its exercise's
name, so it may use torch and the reference module's other functions.

The known mistakes of the chapter, each with its own message, are registered in
`solutions/mistakes/ch6_regularisation.py` and graded as mutants from there; this file
keeps the correct variants and the mutants the grader recognises otherwise (a loss
that is not finite for large logits).
"""

from __future__ import annotations

import torch

from tests.mutants import mutant, variant

# ------------------------------------------------------------------ ch6.dropout_forward


@variant("ch6.dropout_forward")
def dropout_forward__mask_times_scale(x, p, u, training=True):
    if not training:
        return x + 0  # a new tensor with the same values
    scale = 0.0 if p >= 1 else 1.0 / (1.0 - p)
    mask = (u >= p).to(dtype=x.dtype) * scale
    return x * mask


# ---------------------------------------------------------------- ch6.dropout_backward


@variant("ch6.dropout_backward")
def dropout_backward__via_forward(dout, p, u):
    # the forward is linear with a fixed mask: its gradient is the same masking
    return dropout_forward(dout, p, u, training=True)


# --------------------------------------------------------------------- ch6.adamw_step


@variant("ch6.adamw_step")
def adamw_step__folded_bias_correction(w, dw, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
    # Kingma and Ba's form: the corrections folded into the step size and eps
    m = torch.lerp(dw, m, beta1)
    v = torch.addcmul(v * beta2, dw, dw, value=1 - beta2)
    c2 = (1 - beta2**t) ** 0.5
    step = lr * c2 / (1 - beta1**t)
    return w - lr * weight_decay * w - step * m / (torch.sqrt(v) + eps * c2), m, v


# ------------------------------------------------------- ch6.label_smoothing_cross_entropy


@mutant("ch6.label_smoothing_cross_entropy", expect=r"stab|overflow|large|finite|nan|inf")
def label_smoothing_cross_entropy__unstable_softmax(logits, y, smoothing):
    probs = torch.exp(logits) / torch.exp(logits).sum(dim=1, keepdim=True)
    log_probs = torch.log(probs)
    nll = -log_probs.gather(1, y[:, None]).squeeze(1)
    return ((1 - smoothing) * nll - smoothing * log_probs.mean(dim=1)).mean()


@mutant("ch6.label_smoothing_cross_entropy", expect=r"underflow")
def label_smoothing_cross_entropy__log_of_shifted_softmax(logits, y, smoothing):
    # shifts by the max (no overflow), then takes the log of probabilities that can be 0:
    # the uniform part sums log p over every class, so one underflow makes the loss inf
    z = logits - logits.max(dim=1, keepdim=True).values
    probs = z.exp() / z.exp().sum(dim=1, keepdim=True)
    log_probs = probs.log()
    nll = -log_probs.gather(1, y[:, None]).squeeze(1)
    return ((1 - smoothing) * nll - smoothing * log_probs.mean(dim=1)).mean()


@variant("ch6.label_smoothing_cross_entropy")
def label_smoothing_cross_entropy__soft_targets(logits, y, smoothing):
    num_classes = logits.shape[1]
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    onehot = torch.zeros_like(logits).scatter(1, y[:, None], 1.0)
    target = (1 - smoothing) * onehot + smoothing / num_classes
    return -(target * log_probs).sum(dim=1).mean()


# ------------------------------------------------------------------ ch6.early_stopping


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


@variant("ch6.mixup")
def mixup__lerp(x, y_onehot, lam, perm):
    return torch.lerp(x[perm], x, lam), torch.lerp(y_onehot[perm], y_onehot, lam)


# ------------------------------------------------------------------- ch6.kfold_indices


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
