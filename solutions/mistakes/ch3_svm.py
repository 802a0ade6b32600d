"""Chapter 3, the reference side of known mistakes and of the truths the checks compare
against: the hinge and multi-class SVM losses with the usual mistakes, the multi-class
loss through F.multi_margin_loss and autograd, and the kernels and decision function by
the contract's formulas (with other kernel parameters, for the mistakes). Reached through
`ref` (`ref.svm_kernel_matrix(...)`), never shipped in a release.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def hinge_mistake_outputs(w: torch.Tensor, b: torch.Tensor, X: torch.Tensor, y: torch.Tensor, C: float) -> dict:
    """(loss, dw, db) of the usual hinge-loss mistakes; None where a mistake changes nothing."""
    n = X.shape[0]
    margins = y * (X @ w + b)
    hinge = torch.clamp(1 - margins, min=0)
    ds = -C * (margins < 1).to(X.dtype) * y / n
    ds_le = -C * (margins <= 1).to(X.dtype) * y / n
    reg = (w * w).sum()
    return {
        "mistake.ch3.hinge_loss_grad.sum_not_mean": (0.5 * reg + C * hinge.sum(), w + X.T @ (ds * n), ds.sum() * n),
        "mistake.ch3.hinge_loss_grad.margin_one_active": (None, w + X.T @ ds_le, ds_le.sum()),
        "mistake.ch3.hinge_loss_grad.no_regulariser_gradient": (None, X.T @ ds, None),
        "mistake.ch3.hinge_loss_grad.db_sign": (None, None, -ds.sum()),
        "mistake.ch3.hinge_loss_grad.missing_half": (reg + C * hinge.mean(), 2 * w + X.T @ ds, None),
    }


def multiclass_svm_by_multi_margin_loss(W: torch.Tensor, X: torch.Tensor, y: torch.Tensor, reg: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Loss and dW from F.multi_margin_loss (which divides by C) and autograd."""
    leaf = W.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        loss = F.multi_margin_loss(X @ leaf, y) * W.shape[1] + reg * (leaf * leaf).sum()
        (dW,) = torch.autograd.grad(loss, leaf)
    return loss.detach(), dW


def multiclass_svm_mistake_outputs(W: torch.Tensor, X: torch.Tensor, y: torch.Tensor, reg: float) -> dict:
    """(loss, dW) of the usual multi-class SVM mistakes; None where a mistake changes nothing."""
    n = X.shape[0]
    scores = X @ W
    target = torch.zeros_like(scores, dtype=torch.bool).scatter(1, y[:, None], True)
    raw = scores - scores.gather(1, y[:, None]) + 1
    terms = torch.where(target, 0.0, raw.clamp(min=0))
    t = target.to(X.dtype)

    def dW_of(active, correct=True):
        ds = active - t * active.sum(1, keepdim=True) if correct else active
        return X.T @ ds / n + 2 * reg * W

    active = (terms > 0).to(X.dtype)
    loss = terms.sum() / n + reg * (W * W).sum()
    dW = dW_of(active)
    return {
        "mistake.ch3.multiclass_svm_loss.includes_correct_class": (loss + 1, None),
        "mistake.ch3.multiclass_svm_loss.reg_grad_factor": (None, dW - reg * W),
        "mistake.ch3.multiclass_svm_loss.no_correct_class_gradient": (None, dW_of(active, correct=False)),
        "mistake.ch3.multiclass_svm_loss.zero_term_active": (None, dW_of(((raw >= 0) & ~target).to(X.dtype))),
        "mistake.ch3.multiclass_svm_loss.no_mean": (terms.sum() + reg * (W * W).sum(), (dW - 2 * reg * W) * n + 2 * reg * W),
    }


def polynomial_kernel_formula(X: torch.Tensor, Y: torch.Tensor, degree: int, gamma: float, coef0: float) -> torch.Tensor:
    """(gamma <x, y> + coef0) ** degree for every pair of rows."""
    return (gamma * (X @ Y.T) + coef0) ** degree


def svm_kernel_matrix(X: torch.Tensor, S: torch.Tensor, kernel: str, gamma: float | None, degree: int, coef0: float) -> torch.Tensor:
    """The kernel matrix (M, S) by the contract's formulas (gamma None: 1 / D)."""
    g = 1.0 / X.shape[1] if gamma is None else gamma
    if kernel == "linear":
        return X @ S.T
    if kernel == "poly":
        return (g * (X @ S.T) + coef0) ** degree
    return torch.exp(-g * torch.cdist(X, S, compute_mode="donot_use_mm_for_euclid_dist") ** 2)


def svm_decision_mistake_outputs(X: torch.Tensor, S: torch.Tensor, coef: torch.Tensor, intercept: float, kernel: str, gamma: float | None, degree: int, coef0: float) -> dict:
    """Scores of the usual decision-function mistakes; a list where a mistake has several forms."""
    b = float(intercept)
    K = svm_kernel_matrix(X, S, kernel, gamma, degree, coef0)
    out = {
        "mistake.ch3.svm_decision_function.missing_intercept": K @ coef,
        "mistake.ch3.svm_decision_function.dual_coef_sign": K @ coef.abs() + b,
    }
    if gamma is None and kernel != "linear":
        out["mistake.ch3.svm_decision_function.gamma_default"] = [svm_kernel_matrix(X, S, kernel, g, degree, coef0) @ coef + b for g in (1.0 / S.shape[0], 1.0 / X.shape[0], 1.0)]
    others = [
        (k, gm, dg, c0)
        for k in ("linear", "poly", "rbf")
        for gm in (gamma, None)
        for dg, c0 in ((degree, coef0), (3, 1.0), (degree, 0.0), (3, 0.0), (degree, 1.0), (3, coef0))
    ]
    out["mistake.ch3.svm_decision_function.kernel_params"] = [
        svm_kernel_matrix(X, S, *o) @ coef + b for o in others if o != (kernel, gamma, degree, coef0) and not (kernel == "linear" and o[0] == "linear")
    ]
    return out


def svm_decision_magnitude(X: torch.Tensor, S: torch.Tensor, coef: torch.Tensor, intercept: float, kernel: str, gamma: float | None, degree: int, coef0: float) -> torch.Tensor:
    """|K| |coef| + |b|: the size of the terms summed into each score (for its rounding)."""
    return svm_kernel_matrix(X, S, kernel, gamma, degree, coef0).abs() @ coef.abs() + abs(float(intercept))
