"""Chapter 2 mutants (realistic student mistakes) and variants (correct, written differently).

Each function is appended to `solutions/ch2_linear_models.py` under its exercise's name,
so it may use torch, math and that module's functions, nothing else from here.

The known mistakes with a catalogue key of their own are registered in
`solutions/mistakes/ch2_linear_models.py`; the mutants here are those the grader
recognises otherwise: a message with a parameter the check computes (a factor, a
condition number), a wrong shape or transposed gradient, a non-finite answer, a default
of the signature changed (named by `mistake.default_argument`).
"""

from __future__ import annotations

import torch

from solutions.ch2_linear_models import bce_with_logits, sigmoid
from tests.mutants import mutant, variant

# ---------------------------------------------------------------- ch2.linear_regression_fit


# mistake.ch2.linear_regression_fit.l2_scale names its factor: the check computes the forms
@mutant("ch2.linear_regression_fit", expect=r"l2|alpha|regulari|penal|scale|factor")
def linear_regression_fit__l2_scaled_by_n(X, y, l2=0.0):
    # mixes the mean-loss and sum-loss conventions: l2 * N instead of l2
    xm, ym = X.mean(dim=0), y.mean()
    Xc, yc = X - xm, y - ym
    eye = torch.eye(X.shape[1], device=X.device, dtype=X.dtype)
    w = torch.linalg.solve(Xc.T @ Xc + l2 * X.shape[0] * eye, Xc.T @ yc)
    return w, ym - xm @ w


@variant("ch2.linear_regression_fit")
def linear_regression_fit__augmented_with_zero_bias_penalty(X, y, l2=0.0):
    n, d = X.shape
    ones = torch.ones(n, 1, device=X.device, dtype=X.dtype)
    Xa = torch.cat([X, ones], dim=1)  # (N, D + 1)
    penalty = torch.diag(
        torch.cat([torch.full((d,), l2, device=X.device, dtype=X.dtype),
                   torch.zeros(1, device=X.device, dtype=X.dtype)])
    )
    theta = torch.linalg.solve(Xa.T @ Xa + penalty, Xa.T @ y)
    return theta[:d], theta[d]


@variant("ch2.linear_regression_fit")
def linear_regression_fit__lstsq_on_stacked_system(X, y, l2=0.0):
    xm, ym = X.mean(dim=0), y.mean()
    d = X.shape[1]
    # ridge as least squares: stack sqrt(l2) I under Xc and zeros under yc
    A = torch.cat([X - xm, (l2 ** 0.5) * torch.eye(d, device=X.device, dtype=X.dtype)])
    rhs = torch.cat([y - ym, torch.zeros(d, device=X.device, dtype=X.dtype)])
    w = torch.linalg.lstsq(A, rhs[:, None]).solution[:, 0]
    return w, ym - xm @ w


# ---------------------------------------------------------------- ch2.mse_loss


# mistake.ch2.mse_loss.factor names its factor: the check computes the forms
@mutant("ch2.mse_loss", expect=r"factor|half|scale|0\.5")
def mse_loss__half(pred, target):
    return 0.5 * ((pred - target) ** 2).mean()


@variant("ch2.mse_loss")
def mse_loss__dot_product(pred, target):
    r = (pred - target).reshape(-1)
    return torch.dot(r, r) / r.numel()


# ---------------------------------------------------------------- ch2.linear_regression_gd


# mistake.ch2.linear_regression_gd.factor names its factor: the check computes the forms
@mutant("ch2.linear_regression_gd", expect=r"factor|scale|twice|half")
def linear_regression_gd__gradient_missing_2(X, y, lr, steps):
    n = X.shape[0]
    w = torch.zeros(X.shape[1], device=X.device, dtype=X.dtype)
    b = torch.zeros((), device=X.device, dtype=X.dtype)
    for _ in range(steps):
        r = X @ w + b - y
        w, b = w - lr * (X.T @ r) / n, b - lr * r.mean()
    return w, b


@variant("ch2.linear_regression_gd")
def linear_regression_gd__augmented_parameter_vector(X, y, lr, steps):
    n = X.shape[0]
    Xa = torch.cat([X, torch.ones(n, 1, device=X.device, dtype=X.dtype)], dim=1)
    theta = torch.zeros(Xa.shape[1], device=X.device, dtype=X.dtype)
    for _ in range(steps):
        theta = theta - lr * (2.0 / n) * Xa.T @ (Xa @ theta - y)
    return theta[:-1], theta[-1]


@variant("ch2.linear_regression_gd")
def linear_regression_gd__per_sample_accumulation(X, y, lr, steps):
    n, d = X.shape
    w = torch.zeros(d, device=X.device, dtype=X.dtype)
    b = torch.zeros((), device=X.device, dtype=X.dtype)
    for _ in range(steps):
        gw = torch.zeros_like(w)
        gb = torch.zeros_like(b)
        for i in range(n):
            err = X[i] @ w + b - y[i]
            gw = gw + 2.0 * err * X[i] / n
            gb = gb + 2.0 * err / n
        w, b = w - lr * gw, b - lr * gb
    return w, b


# ---------------------------------------------------------------- ch2.sigmoid


@variant("ch2.sigmoid")
def sigmoid__exp_of_minus_logaddexp(x):
    # sigmoid(x) = exp(-softplus(-x)) = exp(-logaddexp(0, -x))
    return torch.exp(-torch.logaddexp(torch.zeros_like(x), -x))


@variant("ch2.sigmoid")
def sigmoid__two_branches_masked(x):
    out = torch.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + torch.exp(-x[pos]))
    ex = torch.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


# ---------------------------------------------------------------- ch2.bce_with_logits


@variant("ch2.bce_with_logits")
def bce_with_logits__logsigmoid(logits, targets):
    logsig = torch.nn.functional.logsigmoid
    return -(targets * logsig(logits) + (1 - targets) * logsig(-logits)).mean()


@variant("ch2.bce_with_logits")
def bce_with_logits__softplus_by_logaddexp(logits, targets):
    zero = torch.zeros_like(logits)
    # t softplus(-z) + (1 - t) softplus(z)
    per = targets * torch.logaddexp(zero, -logits) + (1 - targets) * torch.logaddexp(zero, logits)
    return per.mean()


# ---------------------------------------------------------------- ch2.logistic_regression_grad


@mutant("ch2.logistic_regression_grad", expect=r"shape|0-d|scalar|db")
def logistic_regression_grad__db_shape_1(X, y, w, b):
    z = X @ w + b
    dz = (sigmoid(z) - y) / X.shape[0]
    return bce_with_logits(z, y), X.T @ dz, dz.sum().reshape(1)


@variant("ch2.logistic_regression_grad")
def logistic_regression_grad__per_sample_loop(X, y, w, b):
    n = X.shape[0]
    loss = torch.zeros((), device=X.device, dtype=X.dtype)
    dw = torch.zeros_like(w)
    db = torch.zeros_like(b)
    for i in range(n):
        z = X[i] @ w + b
        loss = loss + torch.logaddexp(torch.zeros_like(z), z) - y[i] * z
        g = torch.exp(-torch.logaddexp(torch.zeros_like(z), -z)) - y[i]
        dw = dw + g * X[i] / n
        db = db + g / n
    return loss / n, dw, db


# ---------------------------------------------------------------- ch2.softmax_regression_grad


@mutant("ch2.softmax_regression_grad", expect=r"shape|transpose")
def softmax_regression_grad__dW_transposed(X, y, W, b):
    s = X @ W + b
    logp = s - s.amax(dim=1, keepdim=True)
    logp = logp - torch.log(torch.exp(logp).sum(dim=1, keepdim=True))
    rows = torch.arange(X.shape[0], device=X.device)
    ds = torch.exp(logp)
    ds[rows, y] -= 1.0
    ds = ds / X.shape[0]
    return -logp[rows, y].mean(), ds.T @ X, ds.sum(dim=0)


@mutant("ch2.softmax_regression_grad", expect=r"overflowed to inf, and inf / inf is NaN")
def softmax_regression_grad__unshifted_softmax(X, y, W, b):
    s = X @ W + b
    e = torch.exp(s)
    p = e / e.sum(dim=1, keepdim=True)
    rows = torch.arange(X.shape[0], device=X.device)
    ds = p.clone()
    ds[rows, y] -= 1.0
    ds = ds / X.shape[0]
    return -torch.log(p[rows, y]).mean(), X.T @ ds, ds.sum(dim=0)


@variant("ch2.softmax_regression_grad")
def softmax_regression_grad__one_hot_einsum(X, y, W, b):
    n, c = X.shape[0], W.shape[1]
    s = torch.einsum("nd,dc->nc", X, W) + b
    m = s.max(dim=1, keepdim=True).values
    lse = m + torch.log(torch.exp(s - m).sum(dim=1, keepdim=True))
    onehot = (y[:, None] == torch.arange(c, device=X.device)[None, :]).to(X.dtype)
    loss = (lse[:, 0] - (s * onehot).sum(dim=1)).mean()
    ds = (torch.exp(s - lse) - onehot) / n
    return loss, torch.einsum("nd,nc->dc", X, ds), ds.sum(dim=0)


# ---------------------------------------------------------------- more cases, found while writing the checks


# mistake.ch2.linear_regression_fit.ill_conditioned names the condition number the check computes
@mutant("ch2.linear_regression_fit", expect=r"collinear|condition|jitter")
def linear_regression_fit__jitter_for_stability(X, y, l2=0.0):
    xm, ym = X.mean(dim=0), y.mean()
    Xc, yc = X - xm, y - ym
    eye = torch.eye(X.shape[1], device=X.device, dtype=X.dtype)
    w = torch.linalg.solve(Xc.T @ Xc + (l2 + 1e-4) * eye, Xc.T @ yc)  # "just in case" jitter
    return w, ym - xm @ w


@variant("ch2.linear_regression_fit")
def linear_regression_fit__explicit_inverse(X, y, l2=0.0):
    xm, ym = X.mean(dim=0), y.mean()
    Xc = X - xm
    eye = torch.eye(X.shape[1], device=X.device, dtype=X.dtype)
    w = torch.linalg.inv(Xc.T @ Xc + l2 * eye) @ (Xc.T @ (y - ym))
    return w, ym - xm @ w


# named mistake.ch2.sigmoid.tail_precision: at the grading tolerance its tail (0 where the
# value is tiny) is that of 1 - 1 / (1 + exp(x)), so it is not a registered mistake of its own
@mutant("ch2.sigmoid", expect=r"tail|tiny|represent")
def sigmoid__textbook_formula(x):
    return 1.0 / (1.0 + torch.exp(-x))  # exp(100) = inf: 0 where exp(-100) is representable


@variant("ch2.sigmoid")
def sigmoid__both_branches_then_where(x):
    pos = 1.0 / (1.0 + torch.exp(-x))  # overflows to 0 (harmlessly) for very negative x
    ex = torch.exp(x)
    neg = ex / (1.0 + ex)  # nan for very large x, never selected there
    return torch.where(x >= 0, pos, neg)


# ---------------------------------------------------------------- the one stability rule


@mutant("ch2.softmax_regression_grad", expect=r"log of a probability that underflowed")
def softmax_regression_grad__log_of_shifted_softmax(X, y, W, b):
    s = X @ W + b
    e = torch.exp(s - s.amax(dim=1, keepdim=True))  # shifted: nothing overflows
    p = e / e.sum(dim=1, keepdim=True)
    rows = torch.arange(X.shape[0], device=X.device)
    ds = p.clone()
    ds[rows, y] -= 1.0
    ds = ds / X.shape[0]
    return -torch.log(p[rows, y]).mean(), X.T @ ds, ds.sum(dim=0)  # log(0) once p underflows


@mutant("ch2.logistic_regression_grad", expect=r"log of a probability that underflowed")
def logistic_regression_grad__log_of_sigmoid(X, y, w, b):
    z = X @ w + b
    p = sigmoid(z)  # the stable sigmoid: but p still rounds to 0 or 1 for large |z|
    loss = -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
    dz = (p - y) / X.shape[0]
    return loss, X.T @ dz, dz.sum()


@mutant("ch2.logistic_regression_grad", expect=r"overflowed to inf, and inf / inf is NaN|underflowed to 0")  # in float64 exp(z) stays finite and p rounds to 1: log(1 - p) is the log of an underflow
def logistic_regression_grad__unshifted_exp(X, y, w, b):
    z = X @ w + b
    e = torch.exp(z)  # overflows for z > ~88 (float32) and inf / inf is NaN
    p = e / (1 + e)
    loss = -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
    dz = (p - y) / X.shape[0]
    return loss, X.T @ dz, dz.sum()


# --- correct variants a student may write: namedtuples where a tuple is asked, loops ----------


@variant("ch2.logistic_regression_grad")
def logistic_regression_grad__namedtuple_loop_over_samples(X, y, w, b):
    # One sample at a time, the stable per-sample loss, a namedtuple for the result.
    from collections import namedtuple

    Result = namedtuple("Result", "loss dw db")
    n = X.shape[0]
    loss, dw, db = torch.zeros((), dtype=X.dtype), torch.zeros_like(w), torch.zeros((), dtype=X.dtype)
    for i in range(n):
        z = X[i] @ w + b
        loss = loss + z.clamp(min=0) - z * y[i] + torch.log1p(torch.exp(-z.abs()))
        p = torch.where(z >= 0, 1 / (1 + torch.exp(-z)), torch.exp(z) / (1 + torch.exp(z)))
        dw = dw + (p - y[i]) * X[i]
        db = db + (p - y[i])
    return Result(loss / n, dw / n, db / n)


# --- promises of the signatures: defaults ---------------------------------------------------------


@mutant("ch2.linear_regression_fit", expect=r"Called without `l2`.*l2=0\.0")
def linear_regression_fit__sklearn_default_alpha(X, y, l2=1.0):
    # scikit-learn's Ridge(alpha=1.0) default: linear_regression_fit(X, y) is ridge, not least squares
    xm, ym = X.mean(dim=0), y.mean()
    Xc, yc = X - xm, y - ym
    eye = torch.eye(X.shape[1], device=X.device, dtype=X.dtype)
    w = torch.linalg.solve(Xc.T @ Xc + l2 * eye, Xc.T @ yc)
    return w, ym - xm @ w
