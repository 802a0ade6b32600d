"""Mutants and variants of chapter 3 (support vector machines).

Each function is appended to `solutions/ch3_svm.py` under its exercise's name, so it
may use torch and the reference module's other functions (`linear_kernel`, ...).
"""

from __future__ import annotations

import torch

from tests.mutants import mutant, variant

# ---------------------------------------------------------------- ch3.hinge_loss_grad


@mutant("ch3.hinge_loss_grad", expect=r"exactly|boundary|margin")
def hinge_loss_grad__margin_one_active(w, b, X, y, C):
    # counts a margin of exactly 1 as a violation
    y = y.to(dtype=X.dtype)
    margins = y * (X @ w + b)
    loss = 0.5 * (w * w).sum() + C * torch.clamp(1 - margins, min=0).mean()
    active = (margins <= 1).to(dtype=X.dtype)
    dscores = -C * active * y / X.shape[0]
    return loss, w + X.T @ dscores, dscores.sum()


@mutant("ch3.hinge_loss_grad", expect=r"mean|average|sum|scale|factor")
def hinge_loss_grad__sum_not_mean(w, b, X, y, C):
    y = y.to(dtype=X.dtype)
    margins = y * (X @ w + b)
    loss = 0.5 * (w * w).sum() + C * torch.clamp(1 - margins, min=0).sum()
    active = (margins < 1).to(dtype=X.dtype)
    dscores = -C * active * y
    return loss, w + X.T @ dscores, dscores.sum()


@mutant("ch3.hinge_loss_grad", expect=r"regulari[sz]|norm|\|\|w\|\|")
def hinge_loss_grad__no_regulariser_gradient(w, b, X, y, C):
    y = y.to(dtype=X.dtype)
    margins = y * (X @ w + b)
    loss = 0.5 * (w * w).sum() + C * torch.clamp(1 - margins, min=0).mean()
    active = (margins < 1).to(dtype=X.dtype)
    dscores = -C * active * y / X.shape[0]
    return loss, X.T @ dscores, dscores.sum()


@mutant("ch3.hinge_loss_grad", expect=r"sign")
def hinge_loss_grad__db_sign(w, b, X, y, C):
    y = y.to(dtype=X.dtype)
    margins = y * (X @ w + b)
    loss = 0.5 * (w * w).sum() + C * torch.clamp(1 - margins, min=0).mean()
    active = (margins < 1).to(dtype=X.dtype)
    dscores = -C * active * y / X.shape[0]
    return loss, w + X.T @ dscores, -dscores.sum()


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


@mutant("ch3.multiclass_svm_loss", expect=r"correct class|j ?!= ?y|off by|\+ ?1")
def multiclass_svm_loss__includes_correct_class(W, X, y, reg):
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


@mutant("ch3.multiclass_svm_loss", expect=r"regulari[sz]|factor|2")
def multiclass_svm_loss__reg_grad_without_two(W, X, y, reg):
    n = X.shape[0]
    scores = X @ W
    correct = scores.gather(1, y[:, None])
    is_target = torch.zeros_like(scores, dtype=torch.bool).scatter(1, y[:, None], True)
    terms = torch.where(is_target, 0.0, torch.clamp(scores - correct + 1, min=0))
    loss = terms.sum() / n + reg * (W * W).sum()
    active = (terms > 0).to(dtype=X.dtype)
    dscores = active - is_target.to(dtype=X.dtype) * active.sum(dim=1, keepdim=True)
    return loss, X.T @ dscores / n + reg * W


@mutant("ch3.multiclass_svm_loss", expect=r"correct class|gradient|sign")
def multiclass_svm_loss__no_correct_class_gradient(W, X, y, reg):
    # forgets that each positive term also pushes the correct class's score down
    n = X.shape[0]
    scores = X @ W
    correct = scores.gather(1, y[:, None])
    is_target = torch.zeros_like(scores, dtype=torch.bool).scatter(1, y[:, None], True)
    terms = torch.where(is_target, 0.0, torch.clamp(scores - correct + 1, min=0))
    loss = terms.sum() / n + reg * (W * W).sum()
    active = (terms > 0).to(dtype=X.dtype)
    return loss, X.T @ active / n + 2 * reg * W


@mutant("ch3.multiclass_svm_loss", expect=r"exactly|zero|tie")
def multiclass_svm_loss__zero_term_active(W, X, y, reg):
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


@mutant("ch3.linear_kernel", expect=r"shape|transpose")
def linear_kernel__transposed_product(X, Y):
    return X.T @ Y


@mutant("ch3.linear_kernel", expect=r"\bY\b|second|argument")
def linear_kernel__gram_of_x(X, Y):
    return X @ X.T


@variant("ch3.linear_kernel")
def linear_kernel__einsum(X, Y):
    return torch.einsum("nd,md->nm", X, Y)


# -------------------------------------------------------------- ch3.polynomial_kernel


@mutant("ch3.polynomial_kernel", expect=r"gamma|1 ?/ ?D|default")
def polynomial_kernel__gamma_default_one(X, Y, degree=3, gamma=None, coef0=1.0):
    if gamma is None:
        gamma = 1.0
    return (gamma * (X @ Y.T) + coef0) ** degree


@mutant("ch3.polynomial_kernel", expect=r"gamma|features|1 ?/ ?D")
def polynomial_kernel__gamma_over_samples(X, Y, degree=3, gamma=None, coef0=1.0):
    if gamma is None:
        gamma = 1.0 / X.shape[0]
    return (gamma * (X @ Y.T) + coef0) ** degree


@mutant("ch3.polynomial_kernel", expect=r"coef0|parenthes|order|inside")
def polynomial_kernel__coef0_outside_power(X, Y, degree=3, gamma=None, coef0=1.0):
    if gamma is None:
        gamma = 1.0 / X.shape[1]
    return (gamma * (X @ Y.T)) ** degree + coef0


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


@mutant("ch3.rbf_kernel", expect=r"square")
def rbf_kernel__distance_not_squared(X, Y, gamma=None):
    if gamma is None:
        gamma = 1.0 / X.shape[1]
    sq = (X * X).sum(1)[:, None] + (Y * Y).sum(1)[None, :] - 2 * (X @ Y.T)
    return torch.exp(-gamma * torch.sqrt(sq.clamp(min=0)))


@mutant("ch3.rbf_kernel", expect=r"gamma|1 ?/ ?D|default")
def rbf_kernel__gamma_default_one(X, Y, gamma=None):
    if gamma is None:
        gamma = 1.0
    sq = (X * X).sum(1)[:, None] + (Y * Y).sum(1)[None, :] - 2 * (X @ Y.T)
    return torch.exp(-gamma * sq.clamp(min=0))


@variant("ch3.rbf_kernel")
def rbf_kernel__broadcast_difference(X, Y, gamma=None):
    if gamma is None:
        gamma = 1.0 / X.shape[1]
    diff = X[:, None, :] - Y[None, :, :]  # (N, M, D), exact and never negative
    return torch.exp(-gamma * (diff * diff).sum(-1))


# -------------------------------------------------------- ch3.svm_decision_function


@mutant("ch3.svm_decision_function", expect=r"intercept|bias|offset")
def svm_decision_function__no_intercept(
    X, support_vectors, dual_coef, intercept, kernel, gamma=None, degree=3, coef0=1.0
):
    if kernel == "linear":
        K = linear_kernel(X, support_vectors)
    elif kernel == "poly":
        K = polynomial_kernel(X, support_vectors, degree=degree, gamma=gamma, coef0=coef0)
    else:
        K = rbf_kernel(X, support_vectors, gamma=gamma)
    return K @ dual_coef


@mutant("ch3.svm_decision_function", expect=r"gamma|1 ?/ ?D|default")
def svm_decision_function__gamma_over_support_vectors(
    X, support_vectors, dual_coef, intercept, kernel, gamma=None, degree=3, coef0=1.0
):
    if gamma is None:
        gamma = 1.0 / support_vectors.shape[0]
    if kernel == "linear":
        K = linear_kernel(X, support_vectors)
    elif kernel == "poly":
        K = polynomial_kernel(X, support_vectors, degree=degree, gamma=gamma, coef0=coef0)
    else:
        K = rbf_kernel(X, support_vectors, gamma=gamma)
    return K @ dual_coef + intercept


@mutant("ch3.svm_decision_function", expect=r"sign|dual|coef")
def svm_decision_function__abs_dual_coef(
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


@mutant("ch3.hinge_loss_grad", expect=r"half|0\.5")
def hinge_loss_grad__missing_half(w, b, X, y, C):
    y = y.to(dtype=X.dtype)
    margins = y * (X @ w + b)
    loss = (w * w).sum() + C * torch.clamp(1 - margins, min=0).mean()
    active = (margins < 1).to(dtype=X.dtype)
    dscores = -C * active * y / X.shape[0]
    return loss, 2 * w + X.T @ dscores, dscores.sum()


@mutant("ch3.multiclass_svm_loss", expect=r"factor|average|N\b")
def multiclass_svm_loss__sum_over_samples(W, X, y, reg):
    scores = X @ W
    correct = scores.gather(1, y[:, None])
    is_target = torch.zeros_like(scores, dtype=torch.bool).scatter(1, y[:, None], True)
    terms = torch.where(is_target, 0.0, torch.clamp(scores - correct + 1, min=0))
    active = (terms > 0).to(dtype=X.dtype)
    dscores = active - is_target.to(dtype=X.dtype) * active.sum(dim=1, keepdim=True)
    return terms.sum() + reg * (W * W).sum(), X.T @ dscores + 2 * reg * W


@mutant("ch3.polynomial_kernel", expect=r"gamma")
def polynomial_kernel__gamma_outside_power(X, Y, degree=3, gamma=None, coef0=1.0):
    if gamma is None:
        gamma = 1.0 / X.shape[1]
    return gamma * (X @ Y.T + coef0) ** degree


@mutant("ch3.rbf_kernel", expect=r"sign|grow|exponent")
def rbf_kernel__positive_exponent(X, Y, gamma=None):
    if gamma is None:
        gamma = 1.0 / X.shape[1]
    diff = X[:, None, :] - Y[None, :, :]
    return torch.exp(gamma * (diff * diff).sum(-1))


@mutant("ch3.svm_decision_function", expect=r"kernel|degree|coef0")
def svm_decision_function__poly_coef0_zero(
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
