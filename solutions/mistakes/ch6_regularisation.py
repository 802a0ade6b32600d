"""Chapter 6, the reference side of known mistakes and of the truths the checks compare
against: inverted dropout (and its mistakes), AdamW by torch.optim and its usual
mistakes, label-smoothed cross-entropy by F.cross_entropy and its mistakes, the
early-stopping rule with a mistake's switches, and k-fold splits by tensor_split.
Reached through `ref` (`ref.dropout_masked(...)`), never shipped in a release.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from grader import optimizers


def dropout_masked(x: torch.Tensor, p: float, u: torch.Tensor, keep: str = "at_least_p", scale: bool = True) -> torch.Tensor:
    """Inverted dropout (keep where u >= p, scale by 1 / (1 - p)), or a known mistake of
    it: `keep="below_p"` (the mask inverted), `scale=False` (no rescaling)."""
    if p >= 1 and scale:
        return torch.zeros_like(x)
    kept = x / (1 - p) if scale else x
    mask = u >= p if keep == "at_least_p" else u < p
    return torch.where(mask, kept, torch.zeros_like(x))


def dropout_backward_by_autograd(dout: torch.Tensor, p: float, u: torch.Tensor) -> torch.Tensor:
    """dL/dx of the masked forward by autograd."""
    x = torch.zeros_like(dout, requires_grad=True)
    with torch.enable_grad():
        out = torch.where(u >= p, x / (1 - p), torch.zeros_like(x)) if p < 1 else x * 0
        (dx,) = torch.autograd.grad(out, x, dout)
    return dx


def adamw_trajectory(w0: torch.Tensor, grads: list, **hyper: object) -> list:
    """torch.optim.AdamW's update rule over `grads` in float64; per step (w, m, v)."""
    return optimizers.trajectory("adamw", w0, grads, **hyper)


def adamw_mistake_outputs(w, dw, m, v, t: int, lr: float, b1: float, b2: float, eps: float, wd: float) -> dict:
    """(w, m, v) of the usual AdamW mistakes; None where a mistake changes nothing."""

    def moments(g):
        return b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g

    m1, v1 = moments(dw)
    m_hat, v_hat = m1 / (1 - b1**t), v1 / (1 - b2**t)
    shrunk = w * (1 - lr * wd)
    mg, vg = moments(dw + wd * w)
    step_g = lr * (mg / (1 - b1**t)) / ((vg / (1 - b2**t)).sqrt() + eps)
    return {
        "mistake.ch6.adamw_step.coupled_decay": (w - step_g, mg, vg),
        "mistake.ch6.adamw_step.no_bias_correction": (shrunk - lr * m1 / (v1.sqrt() + eps), None, None),
        "mistake.ch6.adamw_step.decay_without_lr": (w * (1 - wd) - lr * m_hat / (v_hat.sqrt() + eps), None, None),
        "mistake.ch6.adamw_step.eps_inside_sqrt": (shrunk - lr * m_hat / (v_hat + eps).sqrt(), None, None),
        "mistake.ch6.adamw_step.moments_from_decayed_grad": (shrunk - step_g, mg, vg),
    }


def label_smoothing_ce_by_pytorch(logits: torch.Tensor, y: torch.Tensor, smoothing: float) -> torch.Tensor:
    """F.cross_entropy(logits, y, label_smoothing=smoothing)."""
    return F.cross_entropy(logits, y, label_smoothing=smoothing)


def label_smoothing_mistake_outputs(logits: torch.Tensor, y: torch.Tensor, smoothing: float) -> dict:
    """The usual label-smoothing mistakes: smoothing over the C - 1 other classes, no
    uniform term (two forms), a sum instead of a mean."""
    c = logits.shape[1]
    logp = torch.log_softmax(logits, dim=1)
    nll = -logp.gather(1, y[:, None]).squeeze(1)
    other = torch.full_like(logp, smoothing / (c - 1)).scatter(1, y[:, None], 1 - smoothing)
    full = (1 - smoothing) * nll - smoothing * logp.mean(1)
    return {"other": -(other * logp).sum(1).mean(), "no_uniform": [((1 - smoothing) * nll).mean(), nll.mean()], "sum": full.sum()}


def early_stopping_replay(losses: list, patience: int, min_delta: float = 0.0, strict: bool = True, limit: int | None = None, best_moves: bool = True, stop: bool = True) -> tuple:
    """(best_epoch, stop_epoch or None) by the early-stopping rule, or one of its usual
    mistakes: `strict=False` (equal counts as improvement), `limit` (another patience),
    `best_moves=False` (best never updated), `stop=False` (never stops)."""
    limit = patience if limit is None else limit
    best, best_epoch, bad = losses[0], 0, 0
    for epoch in range(1, len(losses)):
        improves = losses[epoch] < best - min_delta if strict else losses[epoch] <= best - min_delta
        if improves:
            best_epoch, bad = epoch, 0
            if best_moves:
                best = losses[epoch]
        else:
            bad += 1
            if stop and bad >= limit:
                return best_epoch, epoch
    return best_epoch, None


def kfold_by_tensor_split(n: int, k: int) -> list:
    """KFold(k, shuffle=False) folds: torch.tensor_split gives the first n % k blocks one
    extra index, exactly as scikit-learn does."""
    indices = torch.arange(n, dtype=torch.int64)
    return [(torch.cat([indices[: int(v[0])], indices[int(v[-1]) + 1 :]]), v) for v in torch.tensor_split(indices, k)]
