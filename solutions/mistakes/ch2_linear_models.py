"""Chapter 2, the reference side of known mistakes and of the truths the checks compare
against.

Known mistakes: realistic student code for the `mistake.ch2.*` messages of the
catalogue, registered by key (`solutions.mistakes.mistake`). Each is written as a student
would write the exercise function in `solutions/ch2_linear_models.py` and runs in that
module's namespace (torch and the chapter's other functions, `sigmoid` and
`bce_with_logits`, as the references define them). Mistakes whose message needs a
parameter (a factor, a condition number), whose one key has several forms, or which the
grader recognises otherwise (a crash, a wrong shape, a non-finite answer) stay in the
check or in `tests/mutants/ch2_mutants.py`.

Truths: ridge regression by an augmented least-squares system (a route other than the
reference's centring), one step of gradient descent in closed form, and a sigmoid exact
down to the subnormal tail. Reached through `ref` (`ref.ridge_least_squares(...)`).

Never shipped in a release: the release carries the recorded outputs only.
"""

from __future__ import annotations

import torch

from solutions.mistakes import mistake

# --- truths ---------------------------------------------------------------------------


def ridge_least_squares(X: torch.Tensor, y: torch.Tensor, l2: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Ridge with an unpenalised bias by least squares on an augmented system (a different
    route from the reference's centring): min ||Xa theta - y||^2 + l2 ||P theta||^2, with P
    the identity but 0 for the bias."""
    n, d = X.shape
    Xa = torch.cat([X, torch.ones(n, 1, dtype=X.dtype)], dim=1)
    p = torch.full((d + 1,), l2**0.5, dtype=X.dtype)
    p[-1] = 0.0
    A = torch.cat([Xa, torch.diag(p)])
    rhs = torch.cat([y, torch.zeros(d + 1, dtype=X.dtype)])
    theta = torch.linalg.lstsq(A, rhs[:, None], driver="gelsd").solution[:, 0]
    return theta[:d], theta[d]


def mse_gd_first_step(X: torch.Tensor, y: torch.Tensor, lr: float, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient descent on mean((X w + b - y)^2) from zeros for `steps` of 0 or 1, in closed
    form: the residuals at zero are -y, so one step gives w = lr (2 / N) X^T y, b = lr 2 mean(y)."""
    n = X.shape[0]
    return lr * 2 / n * (X.T @ y) * steps, lr * 2 * y.mean() * steps


def sigmoid_with_subnormal_tail(x: torch.Tensor) -> torch.Tensor:
    """The sigmoid by its two one-sided formulas, accurate down to the subnormal numbers
    (torch.sigmoid flushes that tail to 0: float64 sigmoid(-740) is 4.2e-322, not 0)."""
    e = torch.exp(-x.abs())
    return torch.where(x >= 0, 1 / (1 + e), e / (1 + e))


# --- linear_regression_fit ------------------------------------------------------------


@mistake("ch2.linear_regression_fit.bias_penalised")
def linear_regression_fit(X, y, l2=0.0):
    ones = torch.ones(X.shape[0], 1, device=X.device, dtype=X.dtype)
    Xa = torch.cat([X, ones], dim=1)
    eye = torch.eye(Xa.shape[1], device=X.device, dtype=X.dtype)
    theta = torch.linalg.solve(Xa.T @ Xa + l2 * eye, Xa.T @ y)  # penalises b as well
    return theta[:-1], theta[-1]


@mistake("ch2.linear_regression_fit.no_intercept")
def linear_regression_fit(X, y, l2=0.0):
    eye = torch.eye(X.shape[1], device=X.device, dtype=X.dtype)
    w = torch.linalg.solve(X.T @ X + l2 * eye, X.T @ y)
    return w, torch.zeros((), device=X.device, dtype=X.dtype)


@mistake("ch2.linear_regression_fit.l2_ignored")
def linear_regression_fit(X, y, l2=0.0):
    # plain least squares: l2 never used
    xm, ym = X.mean(dim=0), y.mean()
    w = torch.linalg.lstsq(X - xm, (y - ym)[:, None]).solution[:, 0]
    return w, ym - xm @ w


# --- mse_loss -------------------------------------------------------------------------


@mistake("ch2.mse_loss.sum")
def mse_loss(pred, target):
    return ((pred - target) ** 2).sum()


@mistake("ch2.mse_loss.absolute")
def mse_loss(pred, target):
    return (pred - target).abs().mean()


@mistake("ch2.mse_loss.root")
def mse_loss(pred, target):
    return ((pred - target) ** 2).mean().sqrt()


# --- linear_regression_gd -------------------------------------------------------------


@mistake("ch2.linear_regression_gd.sequential")
def linear_regression_gd(X, y, lr, steps):
    n = X.shape[0]
    w = torch.zeros(X.shape[1], device=X.device, dtype=X.dtype)
    b = torch.zeros((), device=X.device, dtype=X.dtype)
    for _ in range(steps):
        r = X @ w + b - y
        w = w - lr * 2.0 / n * (X.T @ r)
        r = X @ w + b - y  # recomputed with the new w before updating b
        b = b - lr * 2.0 / n * r.sum()
    return w, b


@mistake("ch2.linear_regression_gd.sum_gradient")
def linear_regression_gd(X, y, lr, steps):
    # the gradient of the sum of squared errors, not of their mean
    w = torch.zeros(X.shape[1], device=X.device, dtype=X.dtype)
    b = torch.zeros((), device=X.device, dtype=X.dtype)
    for _ in range(steps):
        r = X @ w + b - y
        w, b = w - lr * 2.0 * (X.T @ r), b - lr * 2.0 * r.sum()
    return w, b


@mistake("ch2.linear_regression_gd.bias")
def linear_regression_gd(X, y, lr, steps):
    # b is never updated
    n = X.shape[0]
    w = torch.zeros(X.shape[1], device=X.device, dtype=X.dtype)
    b = torch.zeros((), device=X.device, dtype=X.dtype)
    for _ in range(steps):
        r = X @ w + b - y
        w = w - lr * 2.0 / n * (X.T @ r)
    return w, b


@mistake("ch2.linear_regression_gd.ascent")
def linear_regression_gd(X, y, lr, steps):
    # adds the gradient instead of subtracting it
    n = X.shape[0]
    w = torch.zeros(X.shape[1], device=X.device, dtype=X.dtype)
    b = torch.zeros((), device=X.device, dtype=X.dtype)
    for _ in range(steps):
        r = X @ w + b - y
        w, b = w + lr * 2.0 / n * (X.T @ r), b + lr * 2.0 / n * r.sum()
    return w, b


# --- sigmoid --------------------------------------------------------------------------


@mistake("ch2.sigmoid.tail_precision")
def sigmoid(x):
    pos = 1.0 / (1.0 + torch.exp(-x.abs()))
    return torch.where(x >= 0, pos, 1.0 - pos)  # cancels to 0 for x below about -17


@mistake("ch2.sigmoid.sign")
def sigmoid(x):
    e = torch.exp(-x.abs())
    return torch.where(x >= 0, e / (1.0 + e), 1.0 / (1.0 + e))


# last: away from its NaN it agrees with the reference, and would name any near miss
@mistake("ch2.sigmoid.overflow")
def sigmoid(x):
    e = torch.exp(x)
    return e / (1.0 + e)  # inf / inf = nan for large positive x


# --- bce_with_logits ------------------------------------------------------------------


@mistake("ch2.bce_with_logits.log_of_probability")
def bce_with_logits(logits, targets):
    p = sigmoid(logits)  # rounds to exactly 0 or 1 for large |z|: log(0) = -inf
    return -(targets * torch.log(p) + (1 - targets) * torch.log(1 - p)).mean()


@mistake("ch2.bce_with_logits.sum")
def bce_with_logits(logits, targets):
    z = logits
    return (z.clamp(min=0) - z * targets + torch.log1p(torch.exp(-z.abs()))).sum()


@mistake("ch2.bce_with_logits.soft_targets")
def bce_with_logits(logits, targets):
    # chooses one term by rounding the target: right for hard targets only
    z = logits
    softplus_neg = (-z).clamp(min=0) + torch.log1p(torch.exp(-z.abs()))  # -log sigmoid(z)
    softplus_pos = z.clamp(min=0) + torch.log1p(torch.exp(-z.abs()))  # -log(1 - sigmoid(z))
    return torch.where(targets > 0.5, softplus_neg, softplus_pos).mean()


@mistake("ch2.bce_with_logits.sign")
def bce_with_logits(logits, targets):
    z = logits
    return (z.clamp(min=0) + z * targets + torch.log1p(torch.exp(-z.abs()))).mean()


# --- logistic_regression_grad ---------------------------------------------------------


@mistake("ch2.logistic_regression_grad.not_mean")
def logistic_regression_grad(X, y, w, b):
    z = X @ w + b
    err = sigmoid(z) - y  # not divided by N
    return bce_with_logits(z, y), X.T @ err, err.sum()


@mistake("ch2.logistic_regression_grad.sign")
def logistic_regression_grad(X, y, w, b):
    z = X @ w + b
    dz = (y - sigmoid(z)) / X.shape[0]
    return bce_with_logits(z, y), X.T @ dz, dz.sum()


@mistake("ch2.logistic_regression_grad.bias")
def logistic_regression_grad(X, y, w, b):
    z = X @ w  # forgets b
    dz = (sigmoid(z) - y) / X.shape[0]
    return bce_with_logits(z, y), X.T @ dz, dz.sum()


@mistake("ch2.logistic_regression_grad.loss")
def logistic_regression_grad(X, y, w, b):
    z = X @ w + b
    dz = (sigmoid(z) - y) / X.shape[0]
    return bce_with_logits(z, y) * X.shape[0], X.T @ dz, dz.sum()  # the loss summed


# --- softmax_regression_grad ----------------------------------------------------------


@mistake("ch2.softmax_regression_grad.not_mean")
def softmax_regression_grad(X, y, W, b):
    s = X @ W + b
    logp = s - s.amax(dim=1, keepdim=True)
    logp = logp - torch.log(torch.exp(logp).sum(dim=1, keepdim=True))
    rows = torch.arange(X.shape[0], device=X.device)
    ds = torch.exp(logp)
    ds[rows, y] -= 1.0  # not divided by N
    return -logp[rows, y].mean(), X.T @ ds, ds.sum(dim=0)


@mistake("ch2.softmax_regression_grad.sign")
def softmax_regression_grad(X, y, W, b):
    s = X @ W + b
    logp = s - s.amax(dim=1, keepdim=True)
    logp = logp - torch.log(torch.exp(logp).sum(dim=1, keepdim=True))
    rows = torch.arange(X.shape[0], device=X.device)
    onehot = torch.zeros_like(s)
    onehot[rows, y] = 1.0
    ds = (onehot - torch.exp(logp)) / X.shape[0]  # Y - P
    return -logp[rows, y].mean(), X.T @ ds, ds.sum(dim=0)


@mistake("ch2.softmax_regression_grad.no_one_hot")
def softmax_regression_grad(X, y, W, b):
    s = X @ W + b
    logp = s - s.amax(dim=1, keepdim=True)
    logp = logp - torch.log(torch.exp(logp).sum(dim=1, keepdim=True))
    rows = torch.arange(X.shape[0], device=X.device)
    ds = torch.exp(logp) / X.shape[0]  # forgets to subtract the one-hot labels
    return -logp[rows, y].mean(), X.T @ ds, ds.sum(dim=0)


@mistake("ch2.softmax_regression_grad.loss")
def softmax_regression_grad(X, y, W, b):
    s = X @ W + b
    logp = s - s.amax(dim=1, keepdim=True)
    logp = logp - torch.log(torch.exp(logp).sum(dim=1, keepdim=True))
    rows = torch.arange(X.shape[0], device=X.device)
    ds = torch.exp(logp)
    ds[rows, y] -= 1.0
    ds = ds / X.shape[0]
    return -logp[rows, y].sum(), X.T @ ds, ds.sum(dim=0)  # the loss summed, not averaged
