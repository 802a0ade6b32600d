"""Chapter 3, the reference side of known mistakes and of the truths the checks compare
against.

Known mistakes: realistic student code for the `mistake.ch3.*` messages of the
catalogue, registered by key (`solutions.mistakes.mistake`). Each is written as a student
would write the exercise function in `solutions/ch3_svm.py` and runs in that module's
namespace (torch and the chapter's kernels, `linear_kernel`, `polynomial_kernel` and
`rbf_kernel`, as the references define them). Mistakes the grader recognises otherwise
(a wrong shape, a kernel value above 1, a training run graded by its accuracy) stay
mutants in `tests/mutants/ch3_mutants.py`.

Truths: the multi-class loss through F.multi_margin_loss and autograd, the kernel matrix
of the decision function by the contract's formulas, and the size of the terms summed
into each score (for its rounding). Reached through `ref` (`ref.svm_kernel_matrix(...)`).

Never shipped in a release: the release carries the recorded outputs only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from solutions.mistakes import mistake

# --- truths ---------------------------------------------------------------------------


def multiclass_svm_by_multi_margin_loss(W: torch.Tensor, X: torch.Tensor, y: torch.Tensor, reg: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Loss and dW from F.multi_margin_loss (which divides by C) and autograd."""
    leaf = W.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        loss = F.multi_margin_loss(X @ leaf, y) * W.shape[1] + reg * (leaf * leaf).sum()
        (dW,) = torch.autograd.grad(loss, leaf)
    return loss.detach(), dW


def svm_kernel_matrix(X: torch.Tensor, S: torch.Tensor, kernel: str, gamma: float | None, degree: int, coef0: float) -> torch.Tensor:
    """The kernel matrix (M, S) by the contract's formulas (gamma None: 1 / D)."""
    g = 1.0 / X.shape[1] if gamma is None else gamma
    if kernel == "linear":
        return X @ S.T
    if kernel == "poly":
        return (g * (X @ S.T) + coef0) ** degree
    return torch.exp(-g * torch.cdist(X, S, compute_mode="donot_use_mm_for_euclid_dist") ** 2)


def svm_decision_magnitude(X: torch.Tensor, S: torch.Tensor, coef: torch.Tensor, intercept: float, kernel: str, gamma: float | None, degree: int, coef0: float) -> torch.Tensor:
    """|K| |coef| + |b|: the size of the terms summed into each score (for its rounding)."""
    return svm_kernel_matrix(X, S, kernel, gamma, degree, coef0).abs() @ coef.abs() + abs(float(intercept))


# --- hinge_loss_grad ---------------------------------------------------------------------


@mistake("ch3.hinge_loss_grad.margin_one_active")
def hinge_loss_grad(w, b, X, y, C):
    # counts a margin of exactly 1 as a violation
    y = y.to(dtype=X.dtype)
    margins = y * (X @ w + b)
    loss = 0.5 * (w * w).sum() + C * torch.clamp(1 - margins, min=0).mean()
    active = (margins <= 1).to(dtype=X.dtype)
    dscores = -C * active * y / X.shape[0]
    return loss, w + X.T @ dscores, dscores.sum()


@mistake("ch3.hinge_loss_grad.sum_not_mean")
def hinge_loss_grad(w, b, X, y, C):
    # C times the sum of the hinge terms, not their mean
    y = y.to(dtype=X.dtype)
    margins = y * (X @ w + b)
    loss = 0.5 * (w * w).sum() + C * torch.clamp(1 - margins, min=0).sum()
    active = (margins < 1).to(dtype=X.dtype)
    dscores = -C * active * y
    return loss, w + X.T @ dscores, dscores.sum()


@mistake("ch3.hinge_loss_grad.no_regulariser_gradient")
def hinge_loss_grad(w, b, X, y, C):
    # dw without the regulariser's gradient w
    y = y.to(dtype=X.dtype)
    margins = y * (X @ w + b)
    loss = 0.5 * (w * w).sum() + C * torch.clamp(1 - margins, min=0).mean()
    active = (margins < 1).to(dtype=X.dtype)
    dscores = -C * active * y / X.shape[0]
    return loss, X.T @ dscores, dscores.sum()


@mistake("ch3.hinge_loss_grad.db_sign")
def hinge_loss_grad(w, b, X, y, C):
    # db with the wrong sign
    y = y.to(dtype=X.dtype)
    margins = y * (X @ w + b)
    loss = 0.5 * (w * w).sum() + C * torch.clamp(1 - margins, min=0).mean()
    active = (margins < 1).to(dtype=X.dtype)
    dscores = -C * active * y / X.shape[0]
    return loss, w + X.T @ dscores, -dscores.sum()


@mistake("ch3.hinge_loss_grad.missing_half")
def hinge_loss_grad(w, b, X, y, C):
    # ||w||^2 without the 1/2: the regulariser's gradient doubles
    y = y.to(dtype=X.dtype)
    margins = y * (X @ w + b)
    loss = (w * w).sum() + C * torch.clamp(1 - margins, min=0).mean()
    active = (margins < 1).to(dtype=X.dtype)
    dscores = -C * active * y / X.shape[0]
    return loss, 2 * w + X.T @ dscores, dscores.sum()


# --- multiclass_svm_loss -----------------------------------------------------------------


@mistake("ch3.multiclass_svm_loss.includes_correct_class")
def multiclass_svm_loss(W, X, y, reg):
    # sums over every class, the correct one included (adds 1 per sample)
    n = X.shape[0]
    scores = X @ W
    correct = scores.gather(1, y[:, None])
    terms = torch.clamp(scores - correct + 1, min=0)
    loss = terms.sum() / n + reg * (W * W).sum()
    active = (terms > 0).to(dtype=X.dtype)
    is_target = torch.zeros_like(scores).scatter(1, y[:, None], 1.0)
    dscores = active - is_target * active.sum(dim=1, keepdim=True)
    return loss, X.T @ dscores / n + 2 * reg * W


@mistake("ch3.multiclass_svm_loss.reg_grad_factor")
def multiclass_svm_loss(W, X, y, reg):
    # the regulariser's gradient without its factor 2
    n = X.shape[0]
    scores = X @ W
    correct = scores.gather(1, y[:, None])
    is_target = torch.zeros_like(scores, dtype=torch.bool).scatter(1, y[:, None], True)
    terms = torch.where(is_target, 0.0, torch.clamp(scores - correct + 1, min=0))
    loss = terms.sum() / n + reg * (W * W).sum()
    active = (terms > 0).to(dtype=X.dtype)
    dscores = active - is_target.to(dtype=X.dtype) * active.sum(dim=1, keepdim=True)
    return loss, X.T @ dscores / n + reg * W


@mistake("ch3.multiclass_svm_loss.no_correct_class_gradient")
def multiclass_svm_loss(W, X, y, reg):
    # forgets that each positive term also pushes the correct class's score down
    n = X.shape[0]
    scores = X @ W
    correct = scores.gather(1, y[:, None])
    is_target = torch.zeros_like(scores, dtype=torch.bool).scatter(1, y[:, None], True)
    terms = torch.where(is_target, 0.0, torch.clamp(scores - correct + 1, min=0))
    loss = terms.sum() / n + reg * (W * W).sum()
    active = (terms > 0).to(dtype=X.dtype)
    return loss, X.T @ active / n + 2 * reg * W


@mistake("ch3.multiclass_svm_loss.zero_term_active")
def multiclass_svm_loss(W, X, y, reg):
    # a term of exactly 0 counted as active
    n = X.shape[0]
    scores = X @ W
    correct = scores.gather(1, y[:, None])
    is_target = torch.zeros_like(scores, dtype=torch.bool).scatter(1, y[:, None], True)
    raw = scores - correct + 1
    terms = torch.where(is_target, 0.0, torch.clamp(raw, min=0))
    loss = terms.sum() / n + reg * (W * W).sum()
    active = ((raw >= 0) & ~is_target).to(dtype=X.dtype)
    dscores = active - is_target.to(dtype=X.dtype) * active.sum(dim=1, keepdim=True)
    return loss, X.T @ dscores / n + 2 * reg * W


@mistake("ch3.multiclass_svm_loss.no_mean")
def multiclass_svm_loss(W, X, y, reg):
    # summed over the samples, not averaged
    scores = X @ W
    correct = scores.gather(1, y[:, None])
    is_target = torch.zeros_like(scores, dtype=torch.bool).scatter(1, y[:, None], True)
    terms = torch.where(is_target, 0.0, torch.clamp(scores - correct + 1, min=0))
    active = (terms > 0).to(dtype=X.dtype)
    dscores = active - is_target.to(dtype=X.dtype) * active.sum(dim=1, keepdim=True)
    return terms.sum() + reg * (W * W).sum(), X.T @ dscores + 2 * reg * W


# --- linear_kernel -----------------------------------------------------------------------


@mistake("ch3.linear_kernel.transposed")
def linear_kernel(X, Y):
    # X.T @ Y where X @ Y.T is meant
    return X.T @ Y


@mistake("ch3.linear_kernel.ignores_y")
def linear_kernel(X, Y):
    # the Gram matrix of X: Y never used
    return X @ X.T


# --- polynomial_kernel -------------------------------------------------------------------


@mistake("ch3.polynomial_kernel.gamma_default")
def polynomial_kernel(X, Y, degree=3, gamma=None, coef0=1.0):
    # gamma=None taken as 1, not 1 / D
    if gamma is None:
        gamma = 1.0
    return (gamma * (X @ Y.T) + coef0) ** degree


@mistake("ch3.polynomial_kernel.coef0_outside")
def polynomial_kernel(X, Y, degree=3, gamma=None, coef0=1.0):
    # coef0 added after the power
    if gamma is None:
        gamma = 1.0 / X.shape[1]
    return (gamma * (X @ Y.T)) ** degree + coef0


@mistake("ch3.polynomial_kernel.gamma_misplaced")
def polynomial_kernel(X, Y, degree=3, gamma=None, coef0=1.0):
    # gamma outside the power
    if gamma is None:
        gamma = 1.0 / X.shape[1]
    return gamma * (X @ Y.T + coef0) ** degree


# --- rbf_kernel --------------------------------------------------------------------------


@mistake("ch3.rbf_kernel.not_squared")
def rbf_kernel(X, Y, gamma=None):
    # the distance, not its square
    if gamma is None:
        gamma = 1.0 / X.shape[1]
    sq = (X * X).sum(1)[:, None] + (Y * Y).sum(1)[None, :] - 2 * (X @ Y.T)
    return torch.exp(-gamma * torch.sqrt(sq.clamp(min=0)))


@mistake("ch3.rbf_kernel.gamma_default")
def rbf_kernel(X, Y, gamma=None):
    # gamma=None taken as 1, not 1 / D
    if gamma is None:
        gamma = 1.0
    sq = (X * X).sum(1)[:, None] + (Y * Y).sum(1)[None, :] - 2 * (X @ Y.T)
    return torch.exp(-gamma * sq.clamp(min=0))


@mistake("ch3.rbf_kernel.sign")
def rbf_kernel(X, Y, gamma=None):
    # exp(+gamma d^2): grows with the distance
    if gamma is None:
        gamma = 1.0 / X.shape[1]
    diff = X[:, None, :] - Y[None, :, :]
    return torch.exp(gamma * (diff * diff).sum(-1))


# --- svm_decision_function ---------------------------------------------------------------


@mistake("ch3.svm_decision_function.missing_intercept")
def svm_decision_function(
    X, support_vectors, dual_coef, intercept, kernel, gamma=None, degree=3, coef0=1.0
):
    # the intercept left out
    if kernel == "linear":
        K = linear_kernel(X, support_vectors)
    elif kernel == "poly":
        K = polynomial_kernel(X, support_vectors, degree=degree, gamma=gamma, coef0=coef0)
    else:
        K = rbf_kernel(X, support_vectors, gamma=gamma)
    return K @ dual_coef


@mistake("ch3.svm_decision_function.gamma_default")
def svm_decision_function(
    X, support_vectors, dual_coef, intercept, kernel, gamma=None, degree=3, coef0=1.0
):
    # gamma=None taken as 1 / (number of support vectors)
    if gamma is None:
        gamma = 1.0 / support_vectors.shape[0]
    if kernel == "linear":
        K = linear_kernel(X, support_vectors)
    elif kernel == "poly":
        K = polynomial_kernel(X, support_vectors, degree=degree, gamma=gamma, coef0=coef0)
    else:
        K = rbf_kernel(X, support_vectors, gamma=gamma)
    return K @ dual_coef + intercept


@mistake("ch3.svm_decision_function.dual_coef_sign")
def svm_decision_function(
    X, support_vectors, dual_coef, intercept, kernel, gamma=None, degree=3, coef0=1.0
):
    # treats dual_coef as alpha >= 0, losing the label sign it carries
    if kernel == "linear":
        K = linear_kernel(X, support_vectors)
    elif kernel == "poly":
        K = polynomial_kernel(X, support_vectors, degree=degree, gamma=gamma, coef0=coef0)
    else:
        K = rbf_kernel(X, support_vectors, gamma=gamma)
    return K @ dual_coef.abs() + intercept


@mistake("ch3.svm_decision_function.kernel_params")
def svm_decision_function(
    X, support_vectors, dual_coef, intercept, kernel, gamma=None, degree=3, coef0=1.0
):
    # forwards gamma and degree, but takes coef0 = 0 (SVC's own default) for the poly kernel
    if kernel == "linear":
        K = linear_kernel(X, support_vectors)
    elif kernel == "poly":
        K = polynomial_kernel(X, support_vectors, degree=degree, gamma=gamma, coef0=0.0)
    else:
        K = rbf_kernel(X, support_vectors, gamma=gamma)
    return K @ dual_coef + intercept
