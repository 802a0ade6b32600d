"""Chapter 4, the reference side of known mistakes and of the truths the checks compare
against.

Known mistakes: realistic student code for each `mistake.ch4.*` message of the
catalogue, registered by its key (`solutions.mistakes.mistake`). Each is written as a
student would write the exercise function in `solutions/ch4_backprop.py`, and runs in
that module's namespace (torch and the chapter's other functions, as the references
define them), so the mutant suite can grade it as a submission unchanged. Mistakes the
grader recognises otherwise (a crash, a modified argument, a non-finite answer, the
leading dims) stay mutants in `tests/mutants/ch4_mutants.py`.

Truths: the MLP loss and gradients by autograd, batch norm through F.batch_norm and the
normalisation backward passes by autograd, reached through `ref`
(`ref.norm_backward_by_autograd(...)`).

Never shipped in a release: the release carries the recorded outputs only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from grader.precision import vjp  # autograd.grad with douts, without torch importing SymPy
from solutions.mistakes import mistake

# --- truths ---------------------------------------------------------------------------


def mlp_loss_and_grads_by_autograd(params: dict, X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """Loss (F.cross_entropy of relu(X W1 + b1) W2 + b2) and its gradients by autograd."""
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    with torch.enable_grad():
        scores = torch.relu(X @ leaves["W1"] + leaves["b1"]) @ leaves["W2"] + leaves["b2"]
        loss = F.cross_entropy(scores, y)
        grads = torch.autograd.grad(loss, list(leaves.values()))
    return loss.detach(), {k: g for k, g in zip(leaves, grads)}


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
        return tuple(vjp(out, leaves, dout))


# --- linear_forward -----------------------------------------------------------------


@mistake("ch4.linear_forward.no_bias")
def linear_forward(x, W, b):
    return x @ W


# --- linear_backward ----------------------------------------------------------------


@mistake("ch4.linear_backward.dW_transposed")
def linear_backward(dout, x, W):
    return dout @ W.T, dout.T @ x, dout.sum(dim=0)


@mistake("ch4.linear_backward.db_mean")
def linear_backward(dout, x, W):
    return dout @ W.T, x.T @ dout, dout.mean(dim=0)


# --- relu_backward ------------------------------------------------------------------


@mistake("ch4.relu_backward.grad_at_zero")
def relu_backward(dout, x):
    return dout * (x >= 0).to(dout.dtype)


@mistake("ch4.relu_backward.no_upstream")
def relu_backward(dout, x):
    return (x > 0).to(dout.dtype)


@mistake("ch4.relu_backward.times_activation")
def relu_backward(dout, x):
    return dout * x.clamp(min=0)


# --- sigmoid_backward ---------------------------------------------------------------


@mistake("ch4.sigmoid_backward.formula_on_input")
def sigmoid_backward(dout, x):
    # s (1 - s) with x in place of s = sigmoid(x)
    return dout * x * (1 - x)


@mistake("ch4.sigmoid_backward.no_upstream")
def sigmoid_backward(dout, x):
    s = torch.sigmoid(x)
    return s * (1 - s)


@mistake("ch4.sigmoid_backward.sign")
def sigmoid_backward(dout, x):
    s = torch.sigmoid(x)
    return dout * s * (s - 1)


# --- tanh_backward ------------------------------------------------------------------


@mistake("ch4.tanh_backward.formula_on_input")
def tanh_backward(dout, x):
    return dout * (1 - x * x)


@mistake("ch4.tanh_backward.not_squared")
def tanh_backward(dout, x):
    return dout * (1 - torch.tanh(x))


@mistake("ch4.tanh_backward.no_upstream")
def tanh_backward(dout, x):
    return 1 - torch.tanh(x) ** 2


# --- softmax_cross_entropy ----------------------------------------------------------


@mistake("ch4.softmax_cross_entropy.grad_not_averaged")
def softmax_cross_entropy(logits, y):
    n = logits.shape[0]
    shifted = logits - logits.amax(dim=1, keepdim=True)
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    rows = torch.arange(n, device=logits.device)
    dlogits = log_probs.exp()
    dlogits[rows, y] -= 1
    return -log_probs[rows, y].mean(), dlogits


@mistake("ch4.softmax_cross_entropy.grad_sign")
def softmax_cross_entropy(logits, y):
    n = logits.shape[0]
    shifted = logits - logits.amax(dim=1, keepdim=True)
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    rows = torch.arange(n, device=logits.device)
    dlogits = -log_probs.exp()
    dlogits[rows, y] += 1  # onehot - softmax: the gradient of the log-likelihood
    return -log_probs[rows, y].mean(), dlogits / n


@mistake("ch4.softmax_cross_entropy.loss_summed")
def softmax_cross_entropy(logits, y):
    n = logits.shape[0]
    shifted = logits - logits.amax(dim=1, keepdim=True)
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    rows = torch.arange(n, device=logits.device)
    dlogits = log_probs.exp()
    dlogits[rows, y] -= 1
    return -log_probs[rows, y].sum(), dlogits / n


# --- mlp_loss_and_grads -------------------------------------------------------------


@mistake("ch4.mlp_loss_and_grads.no_relu_mask")
def mlp_loss_and_grads(params, X, y):
    a1 = X @ params["W1"] + params["b1"]
    h1 = a1.clamp(min=0)
    loss, dscores = softmax_cross_entropy(h1 @ params["W2"] + params["b2"], y)
    dh1 = dscores @ params["W2"].T
    return loss, {
        "W1": X.T @ dh1,  # relu backward forgotten
        "b1": dh1.sum(dim=0),
        "W2": h1.T @ dscores,
        "b2": dscores.sum(dim=0),
    }


@mistake("ch4.mlp_loss_and_grads.grads_not_averaged")
def mlp_loss_and_grads(params, X, y):
    a1 = X @ params["W1"] + params["b1"]
    h1 = a1.clamp(min=0)
    loss, dscores = softmax_cross_entropy(h1 @ params["W2"] + params["b2"], y)
    dscores = dscores * X.shape[0]  # probs - onehot, without the 1 / N of the mean
    da1 = (dscores @ params["W2"].T) * (a1 > 0)
    return loss, {
        "W1": X.T @ da1,
        "b1": da1.sum(dim=0),
        "W2": h1.T @ dscores,
        "b2": dscores.sum(dim=0),
    }


@mistake("ch4.mlp_loss_and_grads.dW2_transposed")
def mlp_loss_and_grads(params, X, y):
    a1 = X @ params["W1"] + params["b1"]
    h1 = a1.clamp(min=0)
    loss, dscores = softmax_cross_entropy(h1 @ params["W2"] + params["b2"], y)
    da1 = (dscores @ params["W2"].T) * (a1 > 0)
    return loss, {
        "W1": X.T @ da1,
        "b1": da1.sum(dim=0),
        "W2": dscores.T @ h1,  # (C, H), the shape of W2.T
        "b2": dscores.sum(dim=0),
    }


# --- numerical_gradient -------------------------------------------------------------


@mistake("ch4.numerical_gradient.forward_difference")
def numerical_gradient(f, x, h=1e-6):
    flat = x.reshape(-1)
    grad = torch.empty_like(flat)
    f0 = f(x)
    for i in range(flat.numel()):
        plus = flat.clone()
        plus[i] += h
        grad[i] = (f(plus.reshape(x.shape)) - f0) / h
    return grad.reshape(x.shape)


@mistake("ch4.numerical_gradient.divides_by_h")
def numerical_gradient(f, x, h=1e-6):
    flat = x.reshape(-1)
    grad = torch.empty_like(flat)
    for i in range(flat.numel()):
        plus = flat.clone()
        plus[i] += h
        minus = flat.clone()
        minus[i] -= h
        grad[i] = (f(plus.reshape(x.shape)) - f(minus.reshape(x.shape))) / h
    return grad.reshape(x.shape)


# --- sgd_step -----------------------------------------------------------------------


@mistake("ch4.sgd_step.sign")
def sgd_step(w, dw, lr):
    return w + lr * dw


@mistake("ch4.sgd_step.no_lr")
def sgd_step(w, dw, lr):
    return w - dw


# --- sgd_momentum_step --------------------------------------------------------------


@mistake("ch4.sgd_momentum_step.ignores_nesterov")
def sgd_momentum_step(w, dw, v, lr, momentum, nesterov=False):
    v = momentum * v + dw
    return w - lr * v, v


@mistake("ch4.sgd_momentum_step.dampened")
def sgd_momentum_step(w, dw, v, lr, momentum, nesterov=False):
    v = momentum * v + (1 - momentum) * dw
    step = dw + momentum * v if nesterov else v
    return w - lr * step, v


@mistake("ch4.sgd_momentum_step.lr_in_velocity")
def sgd_momentum_step(w, dw, v, lr, momentum, nesterov=False):
    # the cs231n convention: a velocity that already holds -lr
    v = momentum * v - lr * dw
    return w + v, v


# --- rmsprop_step -------------------------------------------------------------------


@mistake("ch4.rmsprop_step.eps_inside_sqrt")
def rmsprop_step(w, dw, s, lr, alpha=0.99, eps=1e-8):
    s = alpha * s + (1 - alpha) * dw**2
    return w - lr * dw / torch.sqrt(s + eps), s


@mistake("ch4.rmsprop_step.old_average")
def rmsprop_step(w, dw, s, lr, alpha=0.99, eps=1e-8):
    w_new = w - lr * dw / (s.sqrt() + eps)
    return w_new, alpha * s + (1 - alpha) * dw**2


@mistake("ch4.rmsprop_step.alpha_swapped")
def rmsprop_step(w, dw, s, lr, alpha=0.99, eps=1e-8):
    s = (1 - alpha) * s + alpha * dw**2
    return w - lr * dw / (s.sqrt() + eps), s


# --- adam_step ----------------------------------------------------------------------


@mistake("ch4.adam_step.no_bias_correction")
def adam_step(w, dw, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    g = dw + weight_decay * w
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    return w - lr * m / (v.sqrt() + eps), m, v


@mistake("ch4.adam_step.eps_before_correction")
def adam_step(w, dw, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    # the paper's "efficient" form: eps lands in a different place than PyTorch's
    g = dw + weight_decay * w
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    step = lr * (1 - beta2**t) ** 0.5 / (1 - beta1**t)
    return w - step * m / (v.sqrt() + eps), m, v


@mistake("ch4.adam_step.decoupled_decay")
def adam_step(w, dw, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    w_decayed = w - lr * weight_decay * w  # AdamW, not Adam
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw * dw
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return w_decayed - lr * m_hat / (v_hat.sqrt() + eps), m, v


@mistake("ch4.adam_step.t_off_by_one")
def adam_step(w, dw, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    g = dw + weight_decay * w
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    m_hat = m / (1 - beta1 ** (t + 1))  # as if t counted from 0
    v_hat = v / (1 - beta2 ** (t + 1))
    return w - lr * m_hat / (v_hat.sqrt() + eps), m, v


# --- batchnorm_forward --------------------------------------------------------------


@mistake("ch4.batchnorm_forward.unbiased_normalisation")
def batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    if not training:
        out = (x - running_mean) / torch.sqrt(running_var + eps) * gamma + beta
        return out, running_mean.clone(), running_var.clone()
    mean = x.mean(dim=0)
    var = x.var(dim=0, correction=1)  # N - 1: right for the running var only
    out = (x - mean) / torch.sqrt(var + eps) * gamma + beta
    return out, (1 - momentum) * running_mean + momentum * mean, (1 - momentum) * running_var + momentum * var


@mistake("ch4.batchnorm_forward.running_var_biased")
def batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    if not training:
        out = (x - running_mean) / torch.sqrt(running_var + eps) * gamma + beta
        return out, running_mean.clone(), running_var.clone()
    var, mean = torch.var_mean(x, dim=0, correction=0)
    out = (x - mean) / torch.sqrt(var + eps) * gamma + beta
    # the biased variance reused for the running estimate
    return out, (1 - momentum) * running_mean + momentum * mean, (1 - momentum) * running_var + momentum * var


@mistake("ch4.batchnorm_forward.momentum_swapped")
def batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    if not training:
        out = (x - running_mean) / torch.sqrt(running_var + eps) * gamma + beta
        return out, running_mean.clone(), running_var.clone()
    var, mean = torch.var_mean(x, dim=0, correction=0)
    out = (x - mean) / torch.sqrt(var + eps) * gamma + beta
    unbiased = x.var(dim=0, correction=1)
    # momentum weighs the old running value (the Keras convention), not the batch
    return out, momentum * running_mean + (1 - momentum) * mean, momentum * running_var + (1 - momentum) * unbiased


@mistake("ch4.batchnorm_forward.eval_uses_batch_stats")
def batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    # the training flag is ignored: batch statistics always
    var, mean = torch.var_mean(x, dim=0, correction=0)
    out = (x - mean) / torch.sqrt(var + eps) * gamma + beta
    if not training:
        return out, running_mean.clone(), running_var.clone()
    unbiased = x.var(dim=0, correction=1)
    return out, (1 - momentum) * running_mean + momentum * mean, (1 - momentum) * running_var + momentum * unbiased


# --- batchnorm_backward -------------------------------------------------------------


@mistake("ch4.batchnorm_backward.ignores_batch_statistics")
def batchnorm_backward(dout, x, gamma, eps=1e-5):
    var, mean = torch.var_mean(x, dim=0, correction=0)
    xhat = (x - mean) / torch.sqrt(var + eps)
    # treats mu and var as constants: only the direct path through x
    return dout * gamma / torch.sqrt(var + eps), (dout * xhat).sum(0), dout.sum(0)


@mistake("ch4.batchnorm_backward.dgamma_without_xhat")
def batchnorm_backward(dout, x, gamma, eps=1e-5):
    var, mean = torch.var_mean(x, dim=0, correction=0)
    inv_std = 1 / torch.sqrt(var + eps)
    xhat = (x - mean) * inv_std
    g = dout * gamma
    dx = inv_std * (g - g.mean(0) - xhat * (g * xhat).mean(0))
    return dx, dout.sum(dim=0), dout.sum(dim=0)  # dgamma as if out = gamma + beta


@mistake("ch4.batchnorm_backward.unbiased_variance")
def batchnorm_backward(dout, x, gamma, eps=1e-5):
    var, mean = torch.var_mean(x, dim=0, correction=1)
    inv_std = 1 / torch.sqrt(var + eps)
    xhat = (x - mean) * inv_std
    g = dout * gamma
    dx = inv_std * (g - g.mean(0) - xhat * (g * xhat).mean(0))
    return dx, (dout * xhat).sum(0), dout.sum(0)


# --- layernorm_forward --------------------------------------------------------------


@mistake("ch4.layernorm_forward.normalises_batch_dim")
def layernorm_forward(x, gamma, beta, eps=1e-5):
    var, mean = torch.var_mean(x, dim=0, keepdim=True, correction=0)
    return (x - mean) / torch.sqrt(var + eps) * gamma + beta


@mistake("ch4.layernorm_forward.unbiased_variance")
def layernorm_forward(x, gamma, beta, eps=1e-5):
    var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=1)
    return (x - mean) / torch.sqrt(var + eps) * gamma + beta


@mistake("ch4.layernorm_forward.eps_outside_sqrt")
def layernorm_forward(x, gamma, beta, eps=1e-5):
    var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=0)
    return (x - mean) / (torch.sqrt(var) + eps) * gamma + beta


# --- layernorm_backward -------------------------------------------------------------


@mistake("ch4.layernorm_backward.ignores_row_statistics")
def layernorm_backward(dout, x, gamma, eps=1e-5):
    var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=0)
    xhat = (x - mean) / torch.sqrt(var + eps)
    d = x.shape[-1]
    dx = dout * gamma / torch.sqrt(var + eps)
    return dx, (dout * xhat).reshape(-1, d).sum(0), dout.reshape(-1, d).sum(0)


@mistake("ch4.layernorm_backward.dgamma_per_row")
def layernorm_backward(dout, x, gamma, eps=1e-5):
    var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=0)
    inv_std = 1 / torch.sqrt(var + eps)
    xhat = (x - mean) * inv_std
    g = dout * gamma
    dx = inv_std * (g - g.mean(-1, keepdim=True) - xhat * (g * xhat).mean(-1, keepdim=True))
    dbeta = dout.reshape(-1, x.shape[-1]).sum(0)
    return dx, dout * xhat, dbeta  # dgamma not summed over the rows


@mistake("ch4.layernorm_backward.batch_axis")
def layernorm_backward(dout, x, gamma, eps=1e-5):
    # batch-norm backward copied over: statistics over dim 0
    return batchnorm_backward(dout, x, gamma, eps)
