"""Chapter 2, the reference side of known mistakes and of the truths the checks compare
against: ridge regression by an augmented least-squares system (with or without the
usual mistakes), gradient descent on the mean squared error (with a mistake's update
rule, and its first step in closed form) and a sigmoid exact down to the subnormal tail.
Reached through `ref` (`ref.ridge_least_squares(...)`), never shipped in a release.
"""

from __future__ import annotations

import torch


def ridge_least_squares(X: torch.Tensor, y: torch.Tensor, l2: float, penalise_bias: bool = False, intercept: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Ridge by least squares on an augmented system (a different route from the
    reference's centring): min ||Xa theta - y||^2 + l2 ||P theta||^2. The mistakes:
    `penalise_bias=True` (the bias shrunk too), `intercept=False` (no bias at all)."""
    n, d = X.shape
    cols = [X, torch.ones(n, 1, dtype=X.dtype)] if intercept else [X]
    Xa = torch.cat(cols, dim=1)
    p = torch.full((Xa.shape[1],), l2**0.5, dtype=X.dtype)
    if intercept and not penalise_bias:
        p[-1] = 0.0
    A = torch.cat([Xa, torch.diag(p)])
    rhs = torch.cat([y, torch.zeros(Xa.shape[1], dtype=X.dtype)])
    theta = torch.linalg.lstsq(A, rhs[:, None], driver="gelsd").solution[:, 0]
    return (theta[:d], theta[d]) if intercept else (theta, torch.zeros((), dtype=X.dtype))


def mse_gradient_descent(X: torch.Tensor, y: torch.Tensor, lr: float, steps: int, scale: float = 1.0, sequential: bool = False, bias: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient descent on mean((X w + b - y)^2) from zeros with the gradient times
    `scale` (N: summed instead of averaged; -1: ascent), or with a known mistake: b updated
    from residuals recomputed after w (`sequential`), or b never updated (`bias=False`)."""
    n = X.shape[0]
    w = torch.zeros(X.shape[1], dtype=X.dtype)
    b = torch.zeros((), dtype=X.dtype)
    for _ in range(steps):
        r = X @ w + b - y
        w_new = w - lr * scale * (2.0 / n) * (X.T @ r)
        if sequential:
            r = X @ w_new + b - y
        b = b - lr * scale * (2.0 / n) * r.sum() if bias else b
        w = w_new
    return w, b


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
