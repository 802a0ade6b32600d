"""Mutants and variants of chapter 3 (support vector machines).

Each function is appended to `solutions/ch3_svm.py` under its exercise's name, so it
may use torch and the reference module's other functions (`linear_kernel`, ...).

The known mistakes with a catalogue key of their own are registered in
`solutions/mistakes/ch3_svm.py`; the mutants here are those the grader recognises
otherwise: a kernel value above 1 (a property check), a training run graded by its
held-out accuracy, and a second form of a registered mistake's key.
"""

from __future__ import annotations

import torch

from tests.mutants import mutant, variant

# ---------------------------------------------------------------- ch3.hinge_loss_grad


@variant("ch3.hinge_loss_grad")
def hinge_loss_grad__loop(w, b, X, y, C):
    n = X.shape[0]
    loss = 0.5 * (w * w).sum()
    dw = w.clone()
    db = torch.zeros((), dtype=X.dtype, device=X.device)
    for i in range(n):
        yi = float(y[i])
        margin = yi * (X[i] @ w + b)
        if margin < 1:
            loss = loss + C * (1 - margin) / n
            dw = dw - C * yi * X[i] / n
            db = db - C * yi / n
    return loss, dw, db


# ------------------------------------------------------------ ch3.multiclass_svm_loss


@variant("ch3.multiclass_svm_loss")
def multiclass_svm_loss__loops(W, X, y, reg):
    n, num_classes = X.shape[0], W.shape[1]
    loss = reg * (W * W).sum()
    dW = 2 * reg * W
    for i in range(n):
        scores = X[i] @ W
        yi = int(y[i])
        for j in range(num_classes):
            if j == yi:
                continue
            term = scores[j] - scores[yi] + 1
            if term > 0:
                loss = loss + term / n
                dW = dW.index_add(1, torch.tensor([j, yi], device=W.device),
                                  torch.stack([X[i], -X[i]], dim=1) / n)
    return loss, dW


# ------------------------------------------------------------------ ch3.linear_kernel


@variant("ch3.linear_kernel")
def linear_kernel__einsum(X, Y):
    return torch.einsum("nd,md->nm", X, Y)


# -------------------------------------------------------------- ch3.polynomial_kernel


# a second form of mistake.ch3.polynomial_kernel.gamma_default (one registered mistake per key):
# at N = 1, where the shrunk failures land, it is the registered form (gamma = 1)
@mutant("ch3.polynomial_kernel", expect=r"gamma|features|1 ?/ ?D")
def polynomial_kernel__gamma_over_samples(X, Y, degree=3, gamma=None, coef0=1.0):
    if gamma is None:
        gamma = 1.0 / X.shape[0]
    return (gamma * (X @ Y.T) + coef0) ** degree


@variant("ch3.polynomial_kernel")
def polynomial_kernel__einsum_pow(X, Y, degree=3, gamma=None, coef0=1.0):
    g = 1.0 / X.size(-1) if gamma is None else gamma
    base = torch.einsum("nd,md->nm", X * g, Y) + coef0
    return torch.pow(base, degree)


# ------------------------------------------------------------------- ch3.rbf_kernel


@mutant("ch3.rbf_kernel", expect=r"clamp|exceed|negative|at most 1|> ?1")
def rbf_kernel__no_clamp(X, Y, gamma=None):
    if gamma is None:
        gamma = 1.0 / X.shape[1]
    sq = (X * X).sum(1)[:, None] + (Y * Y).sum(1)[None, :] - 2 * (X @ Y.T)
    return torch.exp(-gamma * sq)


@variant("ch3.rbf_kernel")
def rbf_kernel__broadcast_difference(X, Y, gamma=None):
    if gamma is None:
        gamma = 1.0 / X.shape[1]
    diff = X[:, None, :] - Y[None, :, :]  # (N, M, D), exact and never negative
    return torch.exp(-gamma * (diff * diff).sum(-1))


# -------------------------------------------------------- ch3.svm_decision_function


@variant("ch3.svm_decision_function")
def svm_decision_function__loop_over_support_vectors(
    X, support_vectors, dual_coef, intercept, kernel, gamma=None, degree=3, coef0=1.0
):
    g = 1.0 / X.shape[1] if gamma is None else gamma
    scores = torch.zeros(X.shape[0], dtype=X.dtype, device=X.device) + intercept
    for sv, a in zip(support_vectors, dual_coef):
        if kernel == "linear":
            k = X @ sv
        elif kernel == "poly":
            k = (g * (X @ sv) + coef0) ** degree
        elif kernel == "rbf":
            k = torch.exp(-g * ((X - sv) ** 2).sum(dim=1))
        else:
            raise ValueError(kernel)
        scores = scores + a * k
    return scores


# ------------------------------------------------------------- ch3.train_linear_svm


@mutant("ch3.train_linear_svm", expect=r"accuracy|bias|intercept")
def train_linear_svm__no_bias(X, y, C, seed):
    X = X.detach()
    y = y.detach().to(dtype=X.dtype)
    w = torch.zeros(X.shape[1], dtype=X.dtype, device=X.device, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = 0.5 * (w * w).sum() / (C * X.shape[0]) + torch.clamp(1 - y * (X @ w), min=0).pow(2).mean()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return w.detach(), torch.zeros((), dtype=X.dtype, device=X.device)


@mutant("ch3.train_linear_svm", expect=r"accuracy|label|-1")
def train_linear_svm__labels_zero_one(X, y, C, seed):
    # converts the labels to {0, 1} and keeps the hinge: the negative class vanishes
    X = X.detach()
    y = (y.detach() > 0).to(dtype=X.dtype)
    w = torch.zeros(X.shape[1], dtype=X.dtype, device=X.device, requires_grad=True)
    b = torch.zeros((), dtype=X.dtype, device=X.device, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        margins = y * (X @ w + b)
        loss = 0.5 * (w * w).sum() / (C * X.shape[0]) + torch.clamp(1 - margins, min=0).pow(2).mean()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return w.detach(), b.detach()


@variant("ch3.train_linear_svm")
def train_linear_svm__hinge_subgradient(X, y, C, seed):
    # full-batch subgradient descent on the hinge objective of hinge_loss_grad, on
    # standardised features, with iterate averaging; the weights are mapped back
    torch.manual_seed(seed)
    X = X.detach()
    y = y.detach().to(dtype=X.dtype)
    n = X.shape[0]
    mu, sd = X.mean(0), X.std(0).clamp(min=1e-12)
    Z = (X - mu) / sd
    w = torch.zeros(X.shape[1], dtype=X.dtype, device=X.device)
    b = torch.zeros((), dtype=X.dtype, device=X.device)
    w_avg, b_avg = w.clone(), b.clone()
    steps = 2000
    for step in range(1, steps + 1):
        # hinge_loss_grad uses C * mean; C * n gives LinearSVC's C * sum
        _, dw, db = hinge_loss_grad(w, b, Z, y, C * n)
        lr = 1.0 / (step + 10)
        w, b = w - lr * dw, b - lr * db / (C * n) ** 0.5
        if step > steps // 2:
            k = step - steps // 2
            w_avg, b_avg = w_avg + (w - w_avg) / k, b_avg + (b - b_avg) / k
    w_raw = w_avg / sd
    return w_raw, b_avg - (mu * w_raw).sum()


# ------------------------------------------------------------- further mistakes (checks)


@mutant("ch3.train_linear_svm", expect=r"accuracy|converge")
def train_linear_svm__few_gradient_steps(X, y, C, seed):
    # plain gradient descent on raw features, stopped long before convergence
    X = X.detach()
    y = y.detach().to(dtype=X.dtype)
    w = torch.zeros(X.shape[1], dtype=X.dtype, device=X.device)
    b = torch.zeros((), dtype=X.dtype, device=X.device)
    for _ in range(5):
        _, dw, db = hinge_loss_grad(w, b, X, y, C)
        w, b = w - 1e-3 * dw, b - 1e-3 * db
    return w, b


# --- correct variants a student may write: namedtuples where a tuple is asked, loops ----------


@variant("ch3.hinge_loss_grad")
def hinge_loss_grad__namedtuple_loop_over_samples(w, b, X, y, C):
    # One sample at a time; the result as a namedtuple.
    from collections import namedtuple

    Result = namedtuple("Result", "loss dw db")
    n = X.shape[0]
    hinge, dw, db = torch.zeros((), dtype=X.dtype), w.clone(), torch.zeros((), dtype=X.dtype)
    for i in range(n):
        margin = y[i] * (X[i] @ w + b)
        if margin < 1:
            hinge = hinge + (1 - margin)
            dw = dw - C * y[i] * X[i] / n
            db = db - C * y[i] / n
    return Result(0.5 * (w @ w) + C * hinge / n, dw, db)
