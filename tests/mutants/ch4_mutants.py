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


@mutant("ch4.linear_forward", expect=r"transpose|shape")
def linear_forward__W_transposed(x, W, b):
    # nn.Linear habit: W is (D, M) here, not (M, D)
    return x @ W.T + b


@variant("ch4.linear_forward")
def linear_forward__einsum(x, W, b):
    return torch.einsum("...d,dm->...m", x, W) + b


# --- linear_backward ------------------------------------------------------------------


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


@variant("ch4.relu_backward")
def relu_backward__where(dout, x):
    return torch.where(x > 0, dout, torch.zeros_like(dout))


@variant("ch4.relu_backward")
def relu_backward__masked_fill(dout, x):
    return dout.masked_fill(x <= 0, 0.0)


# --- sigmoid_backward -----------------------------------------------------------------


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


@mutant("ch4.sgd_step", expect=r"unchanged|modif|in.place")
def sgd_step__in_place(w, dw, lr):
    w -= lr * dw
    return w


@variant("ch4.sgd_step")
def sgd_step__add_alpha(w, dw, lr):
    return torch.add(w, dw, alpha=-lr)


# --- sgd_momentum_step ----------------------------------------------------------------


# indistinguishable from ignores_nesterov at v = 0, where the check's trajectories start:
# the checks name it ignores_nesterov; not registered as a known mistake of its own
@mutant("ch4.sgd_momentum_step", expect=r"nesterov")
def sgd_momentum_step__nesterov_old_velocity(w, dw, v, lr, momentum, nesterov=False):
    step = dw + momentum * v if nesterov else momentum * v + dw
    return w - lr * step, momentum * v + dw


@variant("ch4.sgd_momentum_step")
def sgd_momentum_step__expanded(w, dw, v, lr, momentum, nesterov=False):
    v_new = v.mul(momentum).add(dw)
    if nesterov:
        return w - lr * dw - (lr * momentum) * v_new, v_new
    return w.sub(v_new, alpha=lr), v_new


# --- rmsprop_step ---------------------------------------------------------------------


@variant("ch4.rmsprop_step")
def rmsprop_step__addcmul(w, dw, s, lr, alpha=0.99, eps=1e-8):
    s_new = s.mul(alpha).addcmul(dw, dw, value=1 - alpha)
    return w.addcdiv(dw, s_new.sqrt().add(eps), value=-lr), s_new


# --- adam_step ------------------------------------------------------------------------


@variant("ch4.adam_step")
def adam_step__hat_moments(w, dw, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    g = dw.add(w, alpha=weight_decay)
    m = torch.lerp(g, m, beta1)  # beta1 m + (1 - beta1) g
    v = beta2 * v + (1 - beta2) * g.square()
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return w - lr * m_hat / (v_hat.sqrt() + eps), m, v


# --- batchnorm_forward ----------------------------------------------------------------


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


@variant("ch4.layernorm_forward")
def layernorm_forward__var_mean_rsqrt(x, gamma, beta, eps=1e-5):
    var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=0)
    return torch.addcmul(beta, (x - mean) * torch.rsqrt(var + eps), gamma)


# --- layernorm_backward ---------------------------------------------------------------


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
