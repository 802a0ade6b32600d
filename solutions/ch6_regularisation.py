"""Chapter 6: generalisation and regularisation.

Covers inverted dropout (forward and backward, with the randomness passed in as
uniform draws), the AdamW optimiser step with decoupled weight decay, cross-entropy
with label smoothing, the early-stopping rule, mixup, and the index splits of k-fold
cross-validation.

Leaves out: dropout variants (DropConnect, spatial dropout), ignore_index and class
weights in the loss, shuffled or stratified folds, and drawing the mixup coefficient
from a Beta distribution (lam and the permutation are given).
"""

from __future__ import annotations

import torch


def dropout_forward(x: torch.Tensor, p: float, u: torch.Tensor, training: bool = True) -> torch.Tensor:
    """Inverted dropout: keep x where u >= p and scale the kept values by 1 / (1 - p).

    out = x * [u >= p] / (1 - p) in training mode, so E[out] = x; p = 1 drops
    everything (zeros); in eval mode (training=False) x is returned unchanged.

    Shapes: x and u the same shape (u uniform draws in [0, 1)); p a float in [0, 1].

    Example: x = [1., 2., 3., 4.], p = 0.5, u = [0.1, 0.7, 0.5, 0.2]
    -> [0., 4., 6., 0.].
    """
    if not training:
        return x.clone()
    if p >= 1:
        return torch.zeros_like(x)
    keep = u >= p  # bool, same shape as x
    # where (not x * mask) so that a dropped entry is exactly 0
    return torch.where(keep, x / (1 - p), torch.zeros_like(x))


def dropout_backward(dout: torch.Tensor, p: float, u: torch.Tensor) -> torch.Tensor:
    """Gradient of inverted dropout in training mode with respect to its input.

    The forward is linear in x with a fixed mask, so dx = dout * [u >= p] / (1 - p);
    p = 1 gives zeros.

    Shapes: dout and u the same shape as x -> dx.

    Example: dout = [1., 1., 1.], p = 0.75, u = [0.9, 0.1, 0.75] -> [4., 0., 4.].
    """
    if p >= 1:
        return torch.zeros_like(dout)
    keep = u >= p
    return torch.where(keep, dout / (1 - p), torch.zeros_like(dout))


def adamw_step(
    w: torch.Tensor,
    dw: torch.Tensor,
    m: torch.Tensor,
    v: torch.Tensor,
    t: int,
    lr: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.01,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One AdamW step at step t (t starts at 1), as `torch.optim.AdamW`.

    The decay is decoupled: it shrinks the weights directly instead of being added
    to the gradient, so it is not rescaled by the adaptive denominator.

        w' = w (1 - lr weight_decay)
        m  = beta1 m + (1 - beta1) dw
        v  = beta2 v + (1 - beta2) dw^2
        w' = w' - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)

    Shapes: w, dw, m, v all the same shape. Returns (w, m, v).

    Example: w = [1.], dw = [0.5], m = v = [0.], t = 1, lr = 0.1, weight_decay = 0.1
    -> m = [0.05], v = [0.00025], w = 1 * 0.99 - 0.1 * 0.5 / (0.5 + 1e-8) = [0.89].
    """
    w = w * (1 - lr * weight_decay)
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw * dw
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    w = w - lr * m_hat / (torch.sqrt(v_hat) + eps)
    return w, m, v


def label_smoothing_cross_entropy(logits: torch.Tensor, y: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Mean cross-entropy against label-smoothed targets, as
    `F.cross_entropy(logits, y, label_smoothing=smoothing)`.

    The target distribution is q = (1 - smoothing) onehot(y) + smoothing / C (the
    uniform part covers every class, the true one included), so per sample

        loss_i = -(1 - smoothing) log p_iy - (smoothing / C) sum_c log p_ic

    with log p = log_softmax(logits). The loss is finite for logits of any magnitude
    (1e4 included), in float32 as in float64: compute the log-probabilities in
    log-sum-exp form, z - max - log(sum(exp(z - max))), never log(softmax(z)) (a max
    shift alone does not stop a probability underflowing to 0, and the uniform part
    takes the log of every class, the least likely included).

    Shapes: logits (N, C), y (N,) int64 -> 0-d.

    Example: logits = [[0., 0.]], y = [0], smoothing 0.1 -> log 2 = 0.6931
    (every class has log p = -log 2, and the weights sum to 1).
    """
    num_classes = logits.shape[1]
    shifted = logits - logits.max(dim=1, keepdim=True).values  # (N, C), max entry 0
    log_probs = shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))  # (N, C)
    nll = -log_probs.gather(1, y[:, None]).squeeze(1)  # (N,)
    uniform = -log_probs.sum(dim=1) / num_classes  # (N,)
    return ((1 - smoothing) * nll + smoothing * uniform).mean()


def early_stopping(
    val_losses: list[float], patience: int, min_delta: float = 0.0
) -> tuple[int, int | None]:
    """Replay the early-stopping rule on a list of validation losses.

    Epochs are numbered from 0; epoch 0 sets the best loss. A later epoch improves
    when its loss < best - min_delta; the best then becomes that loss. Training stops
    at the first epoch that completes `patience` (>= 1) epochs in a row without
    improvement.

    Returns (best_epoch, stop_epoch): stop_epoch is None when the rule never fires,
    best_epoch is the last improving epoch up to stop_epoch (or up to the end).

    Example: [1.0, 0.8, 0.85, 0.9, 0.7], patience 2 -> (1, 3): epochs 2 and 3 do not
    improve on 0.8, so training stops at epoch 3 and epoch 4 is never seen.
    """
    if not val_losses:
        raise ValueError("val_losses must hold at least one epoch")
    best, best_epoch, bad_epochs = val_losses[0], 0, 0
    for epoch in range(1, len(val_losses)):
        if val_losses[epoch] < best - min_delta:
            best, best_epoch, bad_epochs = val_losses[epoch], epoch, 0
        else:
            bad_epochs += 1
            if bad_epochs >= patience:
                return best_epoch, epoch
    return best_epoch, None


def mixup(
    x: torch.Tensor, y_onehot: torch.Tensor, lam: float, perm: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup: blend every sample (and its label) with the sample perm[i] of the batch.

        x_mix = lam x + (1 - lam) x[perm],  y_mix = lam y + (1 - lam) y[perm]

    Shapes: x (N, ...), y_onehot (N, C), perm (N,) int64, lam a float in [0, 1].
    Returns (x_mix, y_mix) with the shapes of x and y_onehot.

    Example: x = [[0.], [10.]], y = [[1., 0.], [0., 1.]], lam 0.7, perm [1, 0]
    -> x_mix = [[3.], [7.]], y_mix = [[0.7, 0.3], [0.3, 0.7]].
    """
    x_mix = lam * x + (1 - lam) * x[perm]
    y_mix = lam * y_onehot + (1 - lam) * y_onehot[perm]
    return x_mix, y_mix


def kfold_indices(n: int, k: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Train/validation index splits of k-fold cross-validation without shuffling,
    equal to scikit-learn's `KFold(k, shuffle=False).split(range(n))`.

    The validation folds are consecutive blocks; the first n % k folds hold
    n // k + 1 indices, the others n // k. Each training set is the rest, in
    increasing order. k must be between 2 and n, as in scikit-learn.

    Returns a list of k pairs (train_idx, val_idx) of int64 CPU tensors.

    Example: n = 5, k = 2 -> [([3, 4], [0, 1, 2]), ([0, 1, 2], [3, 4])].
    """
    if not 2 <= k <= n:
        raise ValueError(f"k-fold needs 2 <= k <= n, got k={k}, n={n}")
    indices = torch.arange(n, dtype=torch.int64)
    folds = []
    start = 0
    for fold in range(k):
        size = n // k + (1 if fold < n % k else 0)
        stop = start + size
        val_idx = indices[start:stop]
        train_idx = torch.cat([indices[:start], indices[stop:]])
        folds.append((train_idx, val_idx))
        start = stop
    return folds
