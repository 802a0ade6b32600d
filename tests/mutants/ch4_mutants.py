"""Chapter 4 mutants (typical student mistakes) and variants (correct, written differently).

Each function is graded as if it were the student's `<exercise function>` appended to
`solutions/ch4_backprop.py`, so it uses only torch and that module's own functions.
The slug after `__` names the mistake; where the catalogue explains that mistake it
is `mistake.ch4.<function>.<slug>` in `grader/locales/en/ch4.json`.
"""

from __future__ import annotations

import torch

from tests.mutants import mutant, variant

# --- linear_forward -------------------------------------------------------------------


@mutant("ch4.linear_forward", expect=r"bias")
def linear_forward__no_bias(x, W, b):
    return x @ W


@mutant("ch4.linear_forward", expect=r"transpose|shape")
def linear_forward__W_transposed(x, W, b):
    # nn.Linear habit: W is (D, M) here, not (M, D)
    return x @ W.T + b


@variant("ch4.linear_forward")
def linear_forward__einsum(x, W, b):
    return torch.einsum("...d,dm->...m", x, W) + b


# --- linear_backward ------------------------------------------------------------------


@mutant("ch4.linear_backward", expect=r"transpose|shape")
def linear_backward__dW_transposed(dout, x, W):
    return dout @ W.T, dout.T @ x, dout.sum(dim=0)


@mutant("ch4.linear_backward", expect=r"db|mean|factor")
def linear_backward__db_mean(dout, x, W):
    return dout @ W.T, x.T @ dout, dout.mean(dim=0)


@mutant("ch4.linear_backward", expect=r"transpose|shape")
def linear_backward__dx_not_transposed(dout, x, W):
    return dout @ W, x.T @ dout, dout.sum(dim=0)


@variant("ch4.linear_backward")
def linear_backward__einsum(dout, x, W):
    dx = torch.einsum("...m,dm->...d", dout, W)
    dW = torch.einsum("...d,...m->dm", x, dout)
    db = dout.reshape(-1, dout.shape[-1]).sum(dim=0)
    return dx, dW, db


# --- relu_backward --------------------------------------------------------------------


@mutant("ch4.relu_backward", expect=r"exactly 0|zero")
def relu_backward__grad_at_zero(dout, x):
    return dout * (x >= 0).to(dout.dtype)


@mutant("ch4.relu_backward", expect=r"upstream|dout")
def relu_backward__no_upstream(dout, x):
    return (x > 0).to(dout.dtype)


@mutant("ch4.relu_backward", expect=r"mask|activation")
def relu_backward__times_activation(dout, x):
    return dout * x.clamp(min=0)


@variant("ch4.relu_backward")
def relu_backward__where(dout, x):
    return torch.where(x > 0, dout, torch.zeros_like(dout))


@variant("ch4.relu_backward")
def relu_backward__masked_fill(dout, x):
    return dout.masked_fill(x <= 0, 0.0)


# --- sigmoid_backward -----------------------------------------------------------------


@mutant("ch4.sigmoid_backward", expect=r"output|activation")
def sigmoid_backward__formula_on_input(dout, x):
    # s (1 - s) with x in place of s = sigmoid(x)
    return dout * x * (1 - x)


@mutant("ch4.sigmoid_backward", expect=r"upstream|dout")
def sigmoid_backward__no_upstream(dout, x):
    s = torch.sigmoid(x)
    return s * (1 - s)


@mutant("ch4.sigmoid_backward", expect=r"sign")
def sigmoid_backward__sign(dout, x):
    s = torch.sigmoid(x)
    return dout * s * (s - 1)


@variant("ch4.sigmoid_backward")
def sigmoid_backward__textbook(dout, x):
    # 1 - s underflows to 0 in the far right tail; the true slope there is tiny anyway
    s = torch.sigmoid(x)
    return dout * s * (1 - s)


@variant("ch4.sigmoid_backward")
def sigmoid_backward__exp_abs(dout, x):
    # the slope is even in x: e / (1 + e)^2 with e = exp(-|x|) <= 1 never overflows
    e = torch.exp(-x.abs())
    return dout * e / (1 + e) ** 2


# --- tanh_backward --------------------------------------------------------------------


@mutant("ch4.tanh_backward", expect=r"output|activation")
def tanh_backward__formula_on_input(dout, x):
    return dout * (1 - x * x)


@mutant("ch4.tanh_backward", expect=r"square")
def tanh_backward__not_squared(dout, x):
    return dout * (1 - torch.tanh(x))


@mutant("ch4.tanh_backward", expect=r"upstream|dout")
def tanh_backward__no_upstream(dout, x):
    return 1 - torch.tanh(x) ** 2


@variant("ch4.tanh_backward")
def tanh_backward__sech(dout, x):
    # d tanh / dx = sech^2 x; cosh overflowing to inf gives the right limit 0
    return dout / torch.cosh(x) ** 2


# --- softmax_cross_entropy ------------------------------------------------------------


@mutant("ch4.softmax_cross_entropy", expect=r"overflow|stable|large|finite")
def softmax_cross_entropy__no_max_shift(logits, y):
    n = logits.shape[0]
    exp = logits.exp()
    probs = exp / exp.sum(dim=1, keepdim=True)
    rows = torch.arange(n, device=logits.device)
    loss = -probs[rows, y].log().mean()
    dlogits = probs.clone()
    dlogits[rows, y] -= 1
    return loss, dlogits / n


@mutant("ch4.softmax_cross_entropy", expect=r"underflow")
def softmax_cross_entropy__log_of_shifted_softmax(logits, y):
    # shifts by the max (no overflow), but takes the log of a probability that can be 0
    n = logits.shape[0]
    z = logits - logits.max(dim=1, keepdim=True).values
    probs = z.exp() / z.exp().sum(dim=1, keepdim=True)
    rows = torch.arange(n, device=logits.device)
    loss = -probs[rows, y].log().mean()
    dlogits = probs.clone()
    dlogits[rows, y] -= 1
    return loss, dlogits / n


@mutant("ch4.softmax_cross_entropy", expect=r"factor|average|mean|batch")
def softmax_cross_entropy__grad_not_averaged(logits, y):
    n = logits.shape[0]
    shifted = logits - logits.amax(dim=1, keepdim=True)
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    rows = torch.arange(n, device=logits.device)
    dlogits = log_probs.exp()
    dlogits[rows, y] -= 1
    return -log_probs[rows, y].mean(), dlogits


@mutant("ch4.softmax_cross_entropy", expect=r"sign")
def softmax_cross_entropy__grad_sign(logits, y):
    n = logits.shape[0]
    shifted = logits - logits.amax(dim=1, keepdim=True)
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    rows = torch.arange(n, device=logits.device)
    dlogits = -log_probs.exp()
    dlogits[rows, y] += 1  # onehot - softmax: the gradient of the log-likelihood
    return -log_probs[rows, y].mean(), dlogits / n


@mutant("ch4.softmax_cross_entropy", expect=r"factor|average|mean|sum")
def softmax_cross_entropy__loss_summed(logits, y):
    n = logits.shape[0]
    shifted = logits - logits.amax(dim=1, keepdim=True)
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    rows = torch.arange(n, device=logits.device)
    dlogits = log_probs.exp()
    dlogits[rows, y] -= 1
    return -log_probs[rows, y].sum(), dlogits / n


@variant("ch4.softmax_cross_entropy")
def softmax_cross_entropy__logsumexp_onehot(logits, y):
    n, c = logits.shape
    onehot = torch.nn.functional.one_hot(y, c).to(logits.dtype)
    lse = torch.logsumexp(logits, dim=1)  # (N,)
    loss = (lse - (logits * onehot).sum(dim=1)).mean()
    probs = torch.exp(logits - lse[:, None])
    return loss, (probs - onehot) / n


@variant("ch4.softmax_cross_entropy")
def softmax_cross_entropy__row_loop(logits, y):
    n = logits.shape[0]
    losses = []
    rows = []
    for i in range(n):
        z = logits[i] - logits[i].max()
        p = z.exp() / z.exp().sum()
        losses.append(-(z[y[i]] - z.exp().sum().log()))
        g = p.clone()
        g[y[i]] -= 1
        rows.append(g / n)
    return torch.stack(losses).mean(), torch.stack(rows)


# --- mlp_loss_and_grads ---------------------------------------------------------------


@mutant("ch4.mlp_loss_and_grads", expect=r"relu|mask")
def mlp_loss_and_grads__no_relu_mask(params, X, y):
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


@mutant("ch4.mlp_loss_and_grads", expect=r"factor|average|mean|batch")
def mlp_loss_and_grads__grads_not_averaged(params, X, y):
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


@mutant("ch4.mlp_loss_and_grads", expect=r"transpose|shape")
def mlp_loss_and_grads__dW2_transposed(params, X, y):
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


@variant("ch4.mlp_loss_and_grads")
def mlp_loss_and_grads__inline(params, X, y):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    n = X.shape[0]
    h1 = torch.maximum(X @ W1 + b1, torch.zeros((), dtype=X.dtype, device=X.device))
    scores = h1 @ W2 + b2
    scores = scores - scores.max(dim=1, keepdim=True).values
    log_probs = scores - scores.exp().sum(dim=1, keepdim=True).log()
    rows = torch.arange(n, device=X.device)
    loss = -log_probs[rows, y].mean()
    dscores = log_probs.exp()
    dscores[rows, y] -= 1
    dscores = dscores / n
    dh1 = (dscores @ W2.T) * (h1 > 0)  # mask from the output: h1 > 0 iff a1 > 0
    grads = {"W1": X.T @ dh1, "b1": dh1.sum(0), "W2": h1.T @ dscores, "b2": dscores.sum(0)}
    return loss, grads


# --- numerical_gradient ---------------------------------------------------------------


@mutant("ch4.numerical_gradient", expect=r"central|one-sided|forward")
def numerical_gradient__forward_difference(f, x, h=1e-6):
    flat = x.reshape(-1)
    grad = torch.empty_like(flat)
    f0 = f(x)
    for i in range(flat.numel()):
        plus = flat.clone()
        plus[i] += h
        grad[i] = (f(plus.reshape(x.shape)) - f0) / h
    return grad.reshape(x.shape)


@mutant("ch4.numerical_gradient", expect=r"factor|2h|twice")
def numerical_gradient__divides_by_h(f, x, h=1e-6):
    flat = x.reshape(-1)
    grad = torch.empty_like(flat)
    for i in range(flat.numel()):
        plus = flat.clone()
        plus[i] += h
        minus = flat.clone()
        minus[i] -= h
        grad[i] = (f(plus.reshape(x.shape)) - f(minus.reshape(x.shape))) / h
    return grad.reshape(x.shape)


@mutant("ch4.numerical_gradient", expect=r"unchanged|modif|in.place")
def numerical_gradient__leaves_x_perturbed(f, x, h=1e-6):
    flat = x.view(-1)  # a view: writes go into x
    grad = torch.empty_like(flat)
    for i in range(flat.numel()):
        flat[i] += h
        fp = f(x)
        flat[i] -= 2 * h
        fm = f(x)  # forgot to add h back
        grad[i] = (fp - fm) / (2 * h)
    return grad.reshape(x.shape)


@variant("ch4.numerical_gradient")
def numerical_gradient__basis_vectors(f, x, h=1e-6):
    grad = torch.zeros_like(x)
    for i in range(x.numel()):
        e = torch.zeros(x.numel(), dtype=x.dtype, device=x.device)
        e[i] = h
        e = e.reshape(x.shape)
        grad.view(-1)[i] = (f(x + e) - f(x - e)) / (2 * h)
    return grad


# --- sgd_step -------------------------------------------------------------------------


@mutant("ch4.sgd_step", expect=r"sign")
def sgd_step__sign(w, dw, lr):
    return w + lr * dw


@mutant("ch4.sgd_step", expect=r"unchanged|modif|in.place")
def sgd_step__in_place(w, dw, lr):
    w -= lr * dw
    return w


@mutant("ch4.sgd_step", expect=r"lr|learning rate")
def sgd_step__no_lr(w, dw, lr):
    return w - dw


@variant("ch4.sgd_step")
def sgd_step__add_alpha(w, dw, lr):
    return torch.add(w, dw, alpha=-lr)


# --- sgd_momentum_step ----------------------------------------------------------------


@mutant("ch4.sgd_momentum_step", expect=r"nesterov")
def sgd_momentum_step__ignores_nesterov(w, dw, v, lr, momentum, nesterov=False):
    v = momentum * v + dw
    return w - lr * v, v


@mutant("ch4.sgd_momentum_step", expect=r"dampening|1 - momentum")
def sgd_momentum_step__dampened(w, dw, v, lr, momentum, nesterov=False):
    v = momentum * v + (1 - momentum) * dw
    step = dw + momentum * v if nesterov else v
    return w - lr * step, v


@mutant("ch4.sgd_momentum_step", expect=r"nesterov")
def sgd_momentum_step__nesterov_old_velocity(w, dw, v, lr, momentum, nesterov=False):
    step = dw + momentum * v if nesterov else momentum * v + dw
    return w - lr * step, momentum * v + dw


@mutant("ch4.sgd_momentum_step", expect=r"velocity|learning rate")
def sgd_momentum_step__lr_in_velocity(w, dw, v, lr, momentum, nesterov=False):
    # the cs231n convention: a velocity that already holds -lr
    v = momentum * v - lr * dw
    return w + v, v


@variant("ch4.sgd_momentum_step")
def sgd_momentum_step__expanded(w, dw, v, lr, momentum, nesterov=False):
    v_new = v.mul(momentum).add(dw)
    if nesterov:
        return w - lr * dw - (lr * momentum) * v_new, v_new
    return w.sub(v_new, alpha=lr), v_new


# --- rmsprop_step ---------------------------------------------------------------------


@mutant("ch4.rmsprop_step", expect=r"eps")
def rmsprop_step__eps_inside_sqrt(w, dw, s, lr, alpha=0.99, eps=1e-8):
    s = alpha * s + (1 - alpha) * dw**2
    return w - lr * dw / torch.sqrt(s + eps), s


@mutant("ch4.rmsprop_step", expect=r"old|before")
def rmsprop_step__old_average(w, dw, s, lr, alpha=0.99, eps=1e-8):
    w_new = w - lr * dw / (s.sqrt() + eps)
    return w_new, alpha * s + (1 - alpha) * dw**2


@mutant("ch4.rmsprop_step", expect=r"alpha|swap")
def rmsprop_step__alpha_swapped(w, dw, s, lr, alpha=0.99, eps=1e-8):
    s = (1 - alpha) * s + alpha * dw**2
    return w - lr * dw / (s.sqrt() + eps), s


@variant("ch4.rmsprop_step")
def rmsprop_step__addcmul(w, dw, s, lr, alpha=0.99, eps=1e-8):
    s_new = s.mul(alpha).addcmul(dw, dw, value=1 - alpha)
    return w.addcdiv(dw, s_new.sqrt().add(eps), value=-lr), s_new


# --- adam_step ------------------------------------------------------------------------


@mutant("ch4.adam_step", expect=r"bias.correct")
def adam_step__no_bias_correction(w, dw, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    g = dw + weight_decay * w
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    return w - lr * m / (v.sqrt() + eps), m, v


@mutant("ch4.adam_step", expect=r"eps")
def adam_step__eps_before_correction(w, dw, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    # the paper's "efficient" form: eps lands in a different place than PyTorch's
    g = dw + weight_decay * w
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    step = lr * (1 - beta2**t) ** 0.5 / (1 - beta1**t)
    return w - step * m / (v.sqrt() + eps), m, v


@mutant("ch4.adam_step", expect=r"weight.decay|decoupled")
def adam_step__decoupled_decay(w, dw, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    w_decayed = w - lr * weight_decay * w  # AdamW, not Adam
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw * dw
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return w_decayed - lr * m_hat / (v_hat.sqrt() + eps), m, v


@mutant("ch4.adam_step", expect=r"bias.correct|off by one|\bt\b")
def adam_step__t_off_by_one(w, dw, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    g = dw + weight_decay * w
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    m_hat = m / (1 - beta1 ** (t + 1))  # as if t counted from 0
    v_hat = v / (1 - beta2 ** (t + 1))
    return w - lr * m_hat / (v_hat.sqrt() + eps), m, v


@variant("ch4.adam_step")
def adam_step__hat_moments(w, dw, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    g = dw.add(w, alpha=weight_decay)
    m = torch.lerp(g, m, beta1)  # beta1 m + (1 - beta1) g
    v = beta2 * v + (1 - beta2) * g.square()
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return w - lr * m_hat / (v_hat.sqrt() + eps), m, v


# --- batchnorm_forward ----------------------------------------------------------------


@mutant("ch4.batchnorm_forward", expect=r"unbiased|biased|N - 1")
def batchnorm_forward__unbiased_normalisation(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    if not training:
        out = (x - running_mean) / torch.sqrt(running_var + eps) * gamma + beta
        return out, running_mean.clone(), running_var.clone()
    mean = x.mean(dim=0)
    var = x.var(dim=0, correction=1)  # N - 1: right for the running var only
    out = (x - mean) / torch.sqrt(var + eps) * gamma + beta
    return out, (1 - momentum) * running_mean + momentum * mean, (1 - momentum) * running_var + momentum * var


@mutant("ch4.batchnorm_forward", expect=r"running|unbiased|N - 1")
def batchnorm_forward__running_var_biased(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    if not training:
        out = (x - running_mean) / torch.sqrt(running_var + eps) * gamma + beta
        return out, running_mean.clone(), running_var.clone()
    var, mean = torch.var_mean(x, dim=0, correction=0)
    out = (x - mean) / torch.sqrt(var + eps) * gamma + beta
    # the biased variance reused for the running estimate
    return out, (1 - momentum) * running_mean + momentum * mean, (1 - momentum) * running_var + momentum * var


@mutant("ch4.batchnorm_forward", expect=r"momentum")
def batchnorm_forward__momentum_swapped(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    if not training:
        out = (x - running_mean) / torch.sqrt(running_var + eps) * gamma + beta
        return out, running_mean.clone(), running_var.clone()
    var, mean = torch.var_mean(x, dim=0, correction=0)
    out = (x - mean) / torch.sqrt(var + eps) * gamma + beta
    unbiased = x.var(dim=0, correction=1)
    # momentum weighs the old running value (the Keras convention), not the batch
    return out, momentum * running_mean + (1 - momentum) * mean, momentum * running_var + (1 - momentum) * unbiased


@mutant("ch4.batchnorm_forward", expect=r"eval|training")
def batchnorm_forward__eval_uses_batch_stats(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    # the training flag is ignored: batch statistics always
    var, mean = torch.var_mean(x, dim=0, correction=0)
    out = (x - mean) / torch.sqrt(var + eps) * gamma + beta
    if not training:
        return out, running_mean.clone(), running_var.clone()
    unbiased = x.var(dim=0, correction=1)
    return out, (1 - momentum) * running_mean + momentum * mean, (1 - momentum) * running_var + momentum * unbiased


@mutant("ch4.batchnorm_forward", expect=r"unchanged|modif|in.place")
def batchnorm_forward__updates_in_place(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    # nn.BatchNorm1d updates its buffers in place; this function must not
    if not training:
        out = (x - running_mean) / torch.sqrt(running_var + eps) * gamma + beta
        return out, running_mean, running_var
    var, mean = torch.var_mean(x, dim=0, correction=0)
    out = (x - mean) / torch.sqrt(var + eps) * gamma + beta
    running_mean.mul_(1 - momentum).add_(momentum * mean)
    running_var.mul_(1 - momentum).add_(momentum * x.var(dim=0, correction=1))
    return out, running_mean, running_var


@variant("ch4.batchnorm_forward")
def batchnorm_forward__var_mean_lerp(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    if not training:
        return gamma * (x - running_mean) * torch.rsqrt(running_var + eps) + beta, running_mean, running_var
    var, mean = torch.var_mean(x, dim=0, correction=0)
    unbiased = x.var(dim=0, correction=1)
    out = gamma * (x - mean) * torch.rsqrt(var + eps) + beta
    # lerp(a, b, w) = a + w (b - a) = (1 - w) a + w b
    return out, torch.lerp(running_mean, mean, momentum), torch.lerp(running_var, unbiased, momentum)


# --- batchnorm_backward ---------------------------------------------------------------


@mutant("ch4.batchnorm_backward", expect=r"mean|variance|statistic")
def batchnorm_backward__ignores_batch_statistics(dout, x, gamma, eps=1e-5):
    var, mean = torch.var_mean(x, dim=0, correction=0)
    xhat = (x - mean) / torch.sqrt(var + eps)
    # treats mu and var as constants: only the direct path through x
    return dout * gamma / torch.sqrt(var + eps), (dout * xhat).sum(0), dout.sum(0)


@mutant("ch4.batchnorm_backward", expect=r"dgamma|normali[sz]ed")
def batchnorm_backward__dgamma_without_xhat(dout, x, gamma, eps=1e-5):
    var, mean = torch.var_mean(x, dim=0, correction=0)
    inv_std = 1 / torch.sqrt(var + eps)
    xhat = (x - mean) * inv_std
    g = dout * gamma
    dx = inv_std * (g - g.mean(0) - xhat * (g * xhat).mean(0))
    return dx, dout.sum(dim=0), dout.sum(dim=0)  # dgamma as if out = gamma + beta


@mutant("ch4.batchnorm_backward", expect=r"unbiased|biased|N - 1")
def batchnorm_backward__unbiased_variance(dout, x, gamma, eps=1e-5):
    var, mean = torch.var_mean(x, dim=0, correction=1)
    inv_std = 1 / torch.sqrt(var + eps)
    xhat = (x - mean) * inv_std
    g = dout * gamma
    dx = inv_std * (g - g.mean(0) - xhat * (g * xhat).mean(0))
    return dx, (dout * xhat).sum(0), dout.sum(0)


@variant("ch4.batchnorm_backward")
def batchnorm_backward__staged(dout, x, gamma, eps=1e-5):
    # the computational graph one node at a time (cs231n style)
    n = x.shape[0]
    mu = x.sum(0) / n
    xmu = x - mu
    sq = xmu**2
    var = sq.sum(0) / n
    sqrtvar = torch.sqrt(var + eps)
    ivar = 1 / sqrtvar
    xhat = xmu * ivar
    dbeta = dout.sum(0)
    dgamma = (dout * xhat).sum(0)
    dxhat = dout * gamma
    divar = (dxhat * xmu).sum(0)
    dxmu1 = dxhat * ivar
    dsqrtvar = -divar / sqrtvar**2
    dvar = 0.5 * dsqrtvar / sqrtvar
    dsq = dvar / n * torch.ones_like(dout)
    dxmu2 = 2 * xmu * dsq
    dx1 = dxmu1 + dxmu2
    dmu = -dx1.sum(0)
    dx2 = dmu / n * torch.ones_like(dout)
    return dx1 + dx2, dgamma, dbeta


# --- layernorm_forward ----------------------------------------------------------------


@mutant("ch4.layernorm_forward", expect=r"dim|axis|last|feature")
def layernorm_forward__normalises_batch_dim(x, gamma, beta, eps=1e-5):
    var, mean = torch.var_mean(x, dim=0, keepdim=True, correction=0)
    return (x - mean) / torch.sqrt(var + eps) * gamma + beta


@mutant("ch4.layernorm_forward", expect=r"unbiased|biased|D - 1")
def layernorm_forward__unbiased_variance(x, gamma, beta, eps=1e-5):
    var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=1)
    return (x - mean) / torch.sqrt(var + eps) * gamma + beta


@mutant("ch4.layernorm_forward", expect=r"eps")
def layernorm_forward__eps_outside_sqrt(x, gamma, beta, eps=1e-5):
    var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=0)
    return (x - mean) / (torch.sqrt(var) + eps) * gamma + beta


@variant("ch4.layernorm_forward")
def layernorm_forward__var_mean_rsqrt(x, gamma, beta, eps=1e-5):
    var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=0)
    return torch.addcmul(beta, (x - mean) * torch.rsqrt(var + eps), gamma)


# --- layernorm_backward ---------------------------------------------------------------


@mutant("ch4.layernorm_backward", expect=r"mean|variance|statistic")
def layernorm_backward__ignores_row_statistics(dout, x, gamma, eps=1e-5):
    var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=0)
    xhat = (x - mean) / torch.sqrt(var + eps)
    d = x.shape[-1]
    dx = dout * gamma / torch.sqrt(var + eps)
    return dx, (dout * xhat).reshape(-1, d).sum(0), dout.reshape(-1, d).sum(0)


@mutant("ch4.layernorm_backward", expect=r"shape|dgamma|sum")
def layernorm_backward__dgamma_per_row(dout, x, gamma, eps=1e-5):
    var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=0)
    inv_std = 1 / torch.sqrt(var + eps)
    xhat = (x - mean) * inv_std
    g = dout * gamma
    dx = inv_std * (g - g.mean(-1, keepdim=True) - xhat * (g * xhat).mean(-1, keepdim=True))
    dbeta = dout.reshape(-1, x.shape[-1]).sum(0)
    return dx, dout * xhat, dbeta  # dgamma not summed over the rows


@mutant("ch4.layernorm_backward", expect=r"dim|axis|last|feature")
def layernorm_backward__batch_axis(dout, x, gamma, eps=1e-5):
    # batch-norm backward copied over: statistics over dim 0
    return batchnorm_backward(dout, x, gamma, eps)


@variant("ch4.layernorm_backward")
def layernorm_backward__staged(dout, x, gamma, eps=1e-5):
    d = x.shape[-1]
    mu = x.mean(-1, keepdim=True)
    xmu = x - mu
    var = (xmu**2).mean(-1, keepdim=True)
    ivar = torch.rsqrt(var + eps)
    xhat = xmu * ivar
    dxhat = dout * gamma
    dvar = (dxhat * xmu).sum(-1, keepdim=True) * -0.5 * ivar**3
    dmu = -(dxhat * ivar).sum(-1, keepdim=True) - 2 * dvar * xmu.mean(-1, keepdim=True)
    dx = dxhat * ivar + dvar * 2 * xmu / d + dmu / d
    return dx, (dout * xhat).reshape(-1, d).sum(0), dout.reshape(-1, d).sum(0)


# --- mlp_loss_and_grads: the stability rule ----------------------------------------------


@mutant("ch4.mlp_loss_and_grads", expect=r"underflow")
def mlp_loss_and_grads__log_of_shifted_softmax(params, X, y):
    # shifts the scores by their max, then takes log(softmax): -inf for a confident miss
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    a1 = X @ W1 + b1
    h1 = a1.clamp(min=0)
    scores = h1 @ W2 + b2
    z = scores - scores.max(dim=1, keepdim=True).values
    probs = z.exp() / z.exp().sum(dim=1, keepdim=True)
    n = X.shape[0]
    rows = torch.arange(n, device=X.device)
    loss = -probs[rows, y].log().mean()
    dscores = probs.clone()
    dscores[rows, y] -= 1
    dscores = dscores / n
    da1 = (dscores @ W2.T) * (a1 > 0).to(X.dtype)
    return loss, {"W1": X.T @ da1, "b1": da1.sum(0), "W2": h1.T @ dscores, "b2": dscores.sum(0)}


@mutant("ch4.mlp_loss_and_grads", expect=r"overflow|NaN")
def mlp_loss_and_grads__no_max_shift(params, X, y):
    # exp() of raw scores: inf / inf = NaN for large scores
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    a1 = X @ W1 + b1
    h1 = a1.clamp(min=0)
    scores = h1 @ W2 + b2
    z = scores
    probs = z.exp() / z.exp().sum(dim=1, keepdim=True)
    n = X.shape[0]
    rows = torch.arange(n, device=X.device)
    loss = -probs[rows, y].log().mean()
    dscores = probs.clone()
    dscores[rows, y] -= 1
    dscores = dscores / n
    da1 = (dscores @ W2.T) * (a1 > 0).to(X.dtype)
    return loss, {"W1": X.T @ da1, "b1": da1.sum(0), "W2": h1.T @ dscores, "b2": dscores.sum(0)}


# --- promises of the docstrings: any leading dims ----------------------------------------


@mutant("ch4.linear_backward", expect=r"leading dims")
def linear_backward__db_over_first_dim_only(dout, x, W):
    # right for (N, D); for x (B, T, D) db keeps the T dim
    d, m = W.shape
    dx = dout @ W.T
    dW = x.reshape(-1, d).T @ dout.reshape(-1, m)
    return dx, dW, dout.sum(0)


@mutant("ch4.layernorm_backward", expect=r"leading dims")
def layernorm_backward__params_summed_over_first_dim_only(dout, x, gamma, eps=1e-5):
    # right for (N, D); for x (B, T, D) dgamma and dbeta keep the T dim
    d = x.shape[-1]
    mu = x.mean(-1, keepdim=True)
    ivar = torch.rsqrt(((x - mu) ** 2).mean(-1, keepdim=True) + eps)
    xhat = (x - mu) * ivar
    g = dout * gamma
    dx = ivar * (g - g.mean(-1, keepdim=True) - xhat * (g * xhat).mean(-1, keepdim=True))
    return dx, (dout * xhat).sum(0), dout.sum(0)
