"""Chapter 6, the reference side of known mistakes and of the truths the checks compare
against.

Known mistakes: realistic student code for each `mistake.ch6.*` message of the
catalogue, registered by its key (`solutions.mistakes.mistake`). Each is written as a
student would write the exercise function in `solutions/ch6_regularisation.py`, and
runs in that module's namespace, so the mutant suite can grade it as a submission
unchanged. Mistakes the grader recognises otherwise (a modified argument, a non-finite
loss for large logits) stay mutants in `tests/mutants/ch6_mutants.py`.

Truths: the dropout backward pass by autograd, AdamW by torch.optim, label-smoothed
cross-entropy by F.cross_entropy and k-fold splits by tensor_split, reached through
`ref` (`ref.adamw_trajectory(...)`).

Never shipped in a release: the release carries the recorded outputs only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from grader import optimizers
from grader.precision import vjp  # autograd.grad with douts, without torch importing SymPy
from solutions.mistakes import mistake

# --- truths ---------------------------------------------------------------------------


def dropout_backward_by_autograd(dout: torch.Tensor, p: float, u: torch.Tensor) -> torch.Tensor:
    """dL/dx of the masked forward by autograd."""
    x = torch.zeros_like(dout, requires_grad=True)
    with torch.enable_grad():
        out = torch.where(u >= p, x / (1 - p), torch.zeros_like(x)) if p < 1 else x * 0
        (dx,) = vjp(out, x, dout)
    return dx


def adamw_trajectory(w0: torch.Tensor, grads: list, **hyper: object) -> list:
    """torch.optim.AdamW's update rule over `grads` in float64; per step (w, m, v)."""
    return optimizers.trajectory("adamw", w0, grads, **hyper)


def label_smoothing_ce_by_pytorch(logits: torch.Tensor, y: torch.Tensor, smoothing: float) -> torch.Tensor:
    """F.cross_entropy(logits, y, label_smoothing=smoothing)."""
    return F.cross_entropy(logits, y, label_smoothing=smoothing)


def kfold_by_tensor_split(n: int, k: int) -> list:
    """KFold(k, shuffle=False) folds: torch.tensor_split gives the first n % k blocks one
    extra index, exactly as scikit-learn does."""
    indices = torch.arange(n, dtype=torch.int64)
    return [(torch.cat([indices[: int(v[0])], indices[int(v[-1]) + 1 :]]), v) for v in torch.tensor_split(indices, k)]


# --- dropout_forward ----------------------------------------------------------------


@mistake("ch6.dropout_forward.no_rescale")
def dropout_forward(x, p, u, training=True):
    # the kept values are not divided by 1 - p
    if not training:
        return x.clone()
    return torch.where(u >= p, x, torch.zeros_like(x))


@mistake("ch6.dropout_forward.keep_below_p")
def dropout_forward(x, p, u, training=True):
    # keeps where u < p: p is read as the keep probability
    if not training:
        return x.clone()
    if p >= 1:
        return torch.zeros_like(x)
    return torch.where(u < p, x / (1 - p), torch.zeros_like(x))


@mistake("ch6.dropout_forward.eval_changed")
def dropout_forward(x, p, u, training=True):
    # classic (non-inverted) test-time scaling on top of inverted dropout
    if not training:
        return x * (1 - p)
    if p >= 1:
        return torch.zeros_like(x)
    return torch.where(u >= p, x / (1 - p), torch.zeros_like(x))


@mistake("ch6.dropout_forward.eval_masks")
def dropout_forward(x, p, u, training=True):
    # ignores the training flag: masks in eval mode as well
    if p >= 1:
        return torch.zeros_like(x)
    return torch.where(u >= p, x / (1 - p), torch.zeros_like(x))


@mistake("ch6.dropout_forward.p_one_nan")
def dropout_forward(x, p, u, training=True):
    # divides by 1 - p = 0 when p = 1
    if not training:
        return x.clone()
    return x * (u >= p).to(dtype=x.dtype) / (1 - p)


# --- dropout_backward ---------------------------------------------------------------


@mistake("ch6.dropout_backward.no_rescale")
def dropout_backward(dout, p, u):
    # the mask without the 1 / (1 - p) of the forward pass
    return torch.where(u >= p, dout, torch.zeros_like(dout))


@mistake("ch6.dropout_backward.keep_below_p")
def dropout_backward(dout, p, u):
    # the inverted mask, u < p
    if p >= 1:
        return torch.zeros_like(dout)
    return torch.where(u < p, dout / (1 - p), torch.zeros_like(dout))


@mistake("ch6.dropout_backward.p_one_nan")
def dropout_backward(dout, p, u):
    # divides by 1 - p = 0 when p = 1
    return dout * (u >= p).to(dtype=dout.dtype) / (1 - p)


# --- adamw_step ---------------------------------------------------------------------


@mistake("ch6.adamw_step.coupled_decay")
def adamw_step(w, dw, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
    # Adam with L2: the decay goes through the adaptive denominator
    dw = dw + weight_decay * w
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw * dw
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return w - lr * m_hat / (torch.sqrt(v_hat) + eps), m, v


@mistake("ch6.adamw_step.no_bias_correction")
def adamw_step(w, dw, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
    # m and v used without dividing by 1 - beta^t
    w = w * (1 - lr * weight_decay)
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw * dw
    return w - lr * m / (torch.sqrt(v) + eps), m, v


@mistake("ch6.adamw_step.decay_without_lr")
def adamw_step(w, dw, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
    # w (1 - weight_decay): the decay not scaled by the learning rate
    w = w * (1 - weight_decay)
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw * dw
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return w - lr * m_hat / (torch.sqrt(v_hat) + eps), m, v


@mistake("ch6.adamw_step.eps_inside_sqrt")
def adamw_step(w, dw, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
    # sqrt(v_hat + eps) instead of sqrt(v_hat) + eps
    w = w * (1 - lr * weight_decay)
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw * dw
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return w - lr * m_hat / torch.sqrt(v_hat + eps), m, v


@mistake("ch6.adamw_step.moments_from_decayed_grad")
def adamw_step(w, dw, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
    # decoupled shrinking, but the decayed gradient still feeds the moments
    g = dw + weight_decay * w
    w = w * (1 - lr * weight_decay)
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return w - lr * m_hat / (torch.sqrt(v_hat) + eps), m, v


# --- label_smoothing_cross_entropy --------------------------------------------------


@mistake("ch6.label_smoothing_cross_entropy.smooth_over_other_classes")
def label_smoothing_cross_entropy(logits, y, smoothing):
    # smoothing / (C - 1) on the other classes, 1 - smoothing on the true one
    num_classes = logits.shape[1]
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    target = torch.full_like(log_probs, smoothing / (num_classes - 1))
    target = target.scatter(1, y[:, None], 1 - smoothing)
    return -(target * log_probs).sum(dim=1).mean()


@mistake("ch6.label_smoothing_cross_entropy.no_uniform_term")
def label_smoothing_cross_entropy(logits, y, smoothing):
    # (1 - smoothing) times the usual loss, the uniform term dropped
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    return ((1 - smoothing) * -log_probs.gather(1, y[:, None]).squeeze(1)).mean()


@mistake("ch6.label_smoothing_cross_entropy.ignores_smoothing")
def label_smoothing_cross_entropy(logits, y, smoothing):
    # the plain cross-entropy: smoothing never used
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    return -log_probs.gather(1, y[:, None]).mean()


@mistake("ch6.label_smoothing_cross_entropy.not_mean")
def label_smoothing_cross_entropy(logits, y, smoothing):
    # summed over the batch instead of averaged
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    nll = -log_probs.gather(1, y[:, None]).squeeze(1)
    return ((1 - smoothing) * nll - smoothing * log_probs.mean(dim=1)).sum()


# --- early_stopping -----------------------------------------------------------------
# On a short curve several of these give the same wrong answer: the first registered
# match names it, so the ones that go wrong on fewer curves come first.


@mistake("ch6.early_stopping.best_not_updated")
def early_stopping(val_losses, patience, min_delta=0.0):
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


@mistake("ch6.early_stopping.min_delta_ignored")
def early_stopping(val_losses, patience, min_delta=0.0):
    # any decrease counts as an improvement
    best, best_epoch, bad = val_losses[0], 0, 0
    for epoch in range(1, len(val_losses)):
        if val_losses[epoch] < best:
            best, best_epoch, bad = val_losses[epoch], epoch, 0
        else:
            bad += 1
            if bad >= patience:
                return best_epoch, epoch
    return best_epoch, None


@mistake("ch6.early_stopping.equal_counts_as_improvement")
def early_stopping(val_losses, patience, min_delta=0.0):
    # <= where the rule says <
    best, best_epoch, bad = val_losses[0], 0, 0
    for epoch in range(1, len(val_losses)):
        if val_losses[epoch] <= best - min_delta:
            best, best_epoch, bad = val_losses[epoch], epoch, 0
        else:
            bad += 1
            if bad >= patience:
                return best_epoch, epoch
    return best_epoch, None


@mistake("ch6.early_stopping.patience_off_by_one")
def early_stopping(val_losses, patience, min_delta=0.0):
    # bad > patience: stops one epoch late
    best, best_epoch, bad = val_losses[0], 0, 0
    for epoch in range(1, len(val_losses)):
        if val_losses[epoch] < best - min_delta:
            best, best_epoch, bad = val_losses[epoch], epoch, 0
        else:
            bad += 1
            if bad > patience:
                return best_epoch, epoch
    return best_epoch, None


@mistake("ch6.early_stopping.stops_one_epoch_early")
def early_stopping(val_losses, patience, min_delta=0.0):
    # bad >= patience - 1: stops one epoch early
    best, best_epoch, bad = val_losses[0], 0, 0
    for epoch in range(1, len(val_losses)):
        if val_losses[epoch] < best - min_delta:
            best, best_epoch, bad = val_losses[epoch], epoch, 0
        else:
            bad += 1
            if bad >= patience - 1:
                return best_epoch, epoch
    return best_epoch, None


@mistake("ch6.early_stopping.best_after_stop")
def early_stopping(val_losses, patience, min_delta=0.0):
    # notes the stop epoch but keeps looking for improvements after it
    best, best_epoch, bad, stop = val_losses[0], 0, 0, None
    for epoch in range(1, len(val_losses)):
        if val_losses[epoch] < best - min_delta:
            best, best_epoch, bad = val_losses[epoch], epoch, 0
        else:
            bad += 1
            if bad >= patience and stop is None:
                stop = epoch
    return best_epoch, stop


@mistake("ch6.early_stopping.best_is_argmin")
def early_stopping(val_losses, patience, min_delta=0.0):
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


# --- mixup --------------------------------------------------------------------------


@mistake("ch6.mixup.swapped_lam")
def mixup(x, y_onehot, lam, perm):
    # lam goes to the partner, 1 - lam to the original
    return (1 - lam) * x + lam * x[perm], (1 - lam) * y_onehot + lam * y_onehot[perm]


@mistake("ch6.mixup.labels_lam_swapped")
def mixup(x, y_onehot, lam, perm):
    # the inputs right, the labels blended with the weights swapped
    return lam * x + (1 - lam) * x[perm], (1 - lam) * y_onehot + lam * y_onehot[perm]


@mistake("ch6.mixup.labels_not_mixed")
def mixup(x, y_onehot, lam, perm):
    # only the inputs are blended
    return lam * x + (1 - lam) * x[perm], y_onehot.clone()


@mistake("ch6.mixup.perm_ignored")
def mixup(x, y_onehot, lam, perm):
    # the common shortcut of pairing with the reversed batch, ignoring perm
    return lam * x + (1 - lam) * x.flip(0), lam * y_onehot + (1 - lam) * y_onehot.flip(0)


# --- kfold_indices ------------------------------------------------------------------


@mistake("ch6.kfold_indices.remainder_last")
def kfold_indices(n, k):
    # folds of n // k, the remainder all in the last fold
    indices = torch.arange(n, dtype=torch.int64)
    size = n // k
    folds = []
    for fold in range(k):
        start = fold * size
        stop = n if fold == k - 1 else start + size
        folds.append((torch.cat([indices[:start], indices[stop:]]), indices[start:stop]))
    return folds


@mistake("ch6.kfold_indices.overlap")
def kfold_indices(n, k):
    # every index in the training set, the validation fold included
    indices = torch.arange(n, dtype=torch.int64)
    return [(indices.clone(), val) for val in torch.tensor_split(indices, k)]


@mistake("ch6.kfold_indices.dtype")
def kfold_indices(n, k):
    # int32 indices
    indices = torch.arange(n, dtype=torch.int32)
    folds = []
    for val in torch.tensor_split(indices, k):
        keep = torch.ones(n, dtype=torch.bool)
        keep[val.long()] = False
        folds.append((indices[keep], val))
    return folds


@mistake("ch6.kfold_indices.order")
def kfold_indices(n, k):
    # the training set starts after the validation block and wraps around
    indices = torch.arange(n, dtype=torch.int64)
    folds = []
    for val in torch.tensor_split(indices, k):
        start, stop = int(val[0]), int(val[-1]) + 1
        folds.append((torch.cat([indices[stop:], indices[:start]]), val))
    return folds
