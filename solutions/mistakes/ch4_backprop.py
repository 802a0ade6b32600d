"""Chapter 4, the reference side of known mistakes and of the truths the checks compare
against: the MLP loss and gradients by autograd (and without the ReLU mask), batch norm
through F.batch_norm, the normalisation backward passes by autograd and the usual
closed-form mistakes. Reached through `ref` (`ref.norm_backward_by_autograd(...)`), never
shipped in a release.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def mlp_loss_and_grads_by_autograd(params: dict, X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """Loss (F.cross_entropy of relu(X W1 + b1) W2 + b2) and its gradients by autograd."""
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    with torch.enable_grad():
        scores = torch.relu(X @ leaves["W1"] + leaves["b1"]) @ leaves["W2"] + leaves["b2"]
        loss = F.cross_entropy(scores, y)
        grads = torch.autograd.grad(loss, list(leaves.values()))
    return loss.detach(), {k: g for k, g in zip(leaves, grads)}


def mlp_grads_without_relu_mask(params: dict, X: torch.Tensor, y: torch.Tensor) -> tuple[None, dict]:
    """Gradients of W1 and b1 of a student who forgets to mask the gradient at the ReLU."""
    h1 = torch.relu(X @ params["W1"] + params["b1"])
    scores = h1 @ params["W2"] + params["b2"]
    dscores = (torch.softmax(scores, dim=1) - F.one_hot(y, scores.shape[1]).to(scores.dtype)) / X.shape[0]
    da1 = dscores @ params["W2"].T  # no mask
    return None, {"W1": X.T @ da1, "b1": da1.sum(0)}


def batch_norm_by_pytorch(x, gamma, beta, rm, rv, momentum: float, eps: float, training: bool):
    """(out, running_mean, running_var) from F.batch_norm, the running buffers copied."""
    rm, rv = rm.clone(), rv.clone()
    out = F.batch_norm(x, rm, rv, gamma, beta, training=training, momentum=momentum, eps=eps)
    return out, rm, rv


def norm_backward_by_autograd(kind: str, dout, x, gamma, eps: float):
    """(dx, dgamma, dbeta) of batch norm (`kind="batch"`, statistics over dim 0) or layer
    norm (`"layer"`, over the last dim, any leading dims) by autograd."""
    leaves = [t.detach().clone().requires_grad_(True) for t in (x, gamma, torch.zeros_like(gamma))]
    with torch.enable_grad():
        if kind == "batch":
            out = F.batch_norm(leaves[0], None, None, leaves[1], leaves[2], training=True, eps=eps)
        else:
            out = F.layer_norm(leaves[0], x.shape[-1:], leaves[1], leaves[2], eps)
        return tuple(torch.autograd.grad(out, leaves, grad_outputs=dout))


def _unbiased_var(x, dim):
    n = x.shape[dim]
    centred = x - x.mean(dim, keepdim=True)
    return (centred * centred).sum(dim, keepdim=True) / (n - 1) if n > 1 else torch.full_like(centred.sum(dim, keepdim=True), float("nan"))


def norm_backward_mistake_outputs(kind: str, dout, x, gamma, eps: float) -> dict:
    """(dx, dgamma, dbeta) of the usual normalisation-backward mistakes: statistics
    treated as constants, the unbiased variance, layer norm's statistics over the batch."""
    dim = 0 if kind == "batch" else -1
    other = -1 if kind == "batch" else 0

    def textbook(dim, unbiased):
        """The usual closed form, with the statistics taken over `dim`."""
        var = _unbiased_var(x, dim) if unbiased else x.var(dim, unbiased=False, keepdim=True)
        inv_std = (var + eps).rsqrt()
        xhat = (x - x.mean(dim, keepdim=True)) * inv_std
        g = dout * gamma
        dx = inv_std * (g - g.mean(dim, keepdim=True) - xhat * (g * xhat).mean(dim, keepdim=True))
        return dx, (dout * xhat).sum(0), dout.sum(0)

    constant_stats = dout * gamma * (x.var(dim, unbiased=False, keepdim=True) + eps).rsqrt()
    name = f"mistake.ch4.{kind}norm_backward"
    out = {
        f"{name}.{'ignores_batch_statistics' if kind == 'batch' else 'ignores_row_statistics'}": (constant_stats, None, None),
        f"{name}.unbiased_variance": textbook(dim, True),
    }
    if kind == "layer":
        out[f"{name}.batch_axis"] = (textbook(other, False)[0], None, None)
    return out
