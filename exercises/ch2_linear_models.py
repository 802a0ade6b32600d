"""Chapter 2: linear regression and classification.

Linear regression fitted in closed form (ridge, with an unpenalised bias) and by gradient
descent, the mean squared error, and the pieces of logistic and softmax regression: a
stable sigmoid, binary cross-entropy from logits, and the loss and hand-derived gradients
of both classifiers.

Conventions: data `X` is (N, D), a weight vector `w` is (D,) and `X @ w + b` gives the
scores; softmax regression uses `X @ W + b` with `W` (D, C). No autograd: every gradient
is derived by hand. Left out: iterative solvers for the classifiers, regularised
classifiers, feature maps.
"""

from __future__ import annotations

import torch


def linear_regression_fit(
    X: torch.Tensor, y: torch.Tensor, l2: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Closed-form ridge regression with an unpenalised bias (scikit-learn's `Ridge(alpha=l2)`).

    Minimises sum_n (x_n . w + b - y_n)^2 + l2 ||w||^2 exactly (no iterations). The bias
    b is not penalised. With l2 = 0 this is ordinary least squares (X must then have
    full column rank).

    Shapes: `X` (N, D), `y` (N,); returns (w (D,), b 0-d).

    Example: X = tensor([[0.], [1.], [2.]]), y = tensor([1., 3., 5.]) -> (tensor([2.]),
    tensor(1.)); with l2 = 2.0 -> (tensor([1.]), tensor(2.)).
    """
    # TODO: implement ch2.linear_regression_fit (hint: `dlcourse hint ch2.linear_regression_fit`).
    raise NotImplementedError("ch2.linear_regression_fit")


def mse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error: mean over every entry of (pred - target)^2.

    Shapes: `pred` and `target` of the same shape; returns a 0-d tensor.

    Example: mse_loss(tensor([1., 2., 3.]), tensor([1., 0., 0.])) -> tensor(4.3333)
    (= (0 + 4 + 9) / 3).
    """
    # TODO: implement ch2.mse_loss (hint: `dlcourse hint ch2.mse_loss`).
    raise NotImplementedError("ch2.mse_loss")


def linear_regression_gd(
    X: torch.Tensor, y: torch.Tensor, lr: float, steps: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Full-batch gradient descent on L(w, b) = mean_n (x_n . w + b - y_n)^2.

    Starts from w = 0, b = 0; each of the `steps` steps updates w and b together, both
    from the gradients at the current (w, b): w <- w - lr dL/dw, b <- b - lr dL/db.

    Shapes: `X` (N, D), `y` (N,); returns (w (D,), b 0-d).

    Example: X = tensor([[1.], [-1.]]), y = tensor([1., 1.]), lr = 0.25, steps = 1:
    dL/dw = 0, dL/db = -2 -> (tensor([0.]), tensor(0.5)).
    """
    # TODO: implement ch2.linear_regression_gd (hint: `dlcourse hint ch2.linear_regression_gd`).
    raise NotImplementedError("ch2.linear_regression_gd")


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Logistic sigmoid 1 / (1 + exp(-x)), finite and accurate in both tails.

    No overflow, no nan, and a small relative error even where the result is tiny:
    for very negative x, sigmoid(x) ~ exp(x), which must not be rounded to 0 while
    exp(x) is still representable.

    Shapes: any; the output has the shape of `x`.

    Example: sigmoid(tensor([0., log 3, -log 3])) -> tensor([0.5, 0.75, 0.25]);
    sigmoid(tensor([-100.])) -> tensor([3.7835e-44]).
    """
    # TODO: implement ch2.sigmoid (hint: `dlcourse hint ch2.sigmoid`).
    raise NotImplementedError("ch2.sigmoid")


def bce_with_logits(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy from logits, stable for any magnitude.

    For a logit z and a target t in [0, 1] (soft targets allowed) the loss is
    -(t log sigmoid(z) + (1 - t) log(1 - sigmoid(z))); it must stay finite and accurate
    for logits of any magnitude, in float32 as in float64 (sigmoid(z) rounds to exactly
    0 or 1 for large |z|, so never take the log of a probability).

    Shapes: `logits` and `targets` of the same shape; returns a 0-d tensor (the mean
    over every entry).

    Example: bce_with_logits(tensor([0., 1000.]), tensor([1., 0.]))
    -> tensor(500.3466) (= (log 2 + 1000) / 2).
    """
    # TODO: implement ch2.bce_with_logits (hint: `dlcourse hint ch2.bce_with_logits`).
    raise NotImplementedError("ch2.bce_with_logits")


def logistic_regression_grad(
    X: torch.Tensor, y: torch.Tensor, w: torch.Tensor, b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Loss and gradients of logistic regression.

    Scores z = X w + b, loss L = mean_n bce(z_n, y_n) (as `bce_with_logits`); returns
    L and its gradients dL/dw, dL/db, derived by hand. The loss and gradients are finite
    wherever the true values are, for scores of any magnitude (300 included), in float32
    as in float64: the loss in the stable form of `bce_with_logits`, never the log of a
    sigmoid that can round to 0 or 1.

    Shapes: `X` (N, D), `y` (N,) in {0, 1}, `w` (D,), `b` 0-d; returns
    (loss 0-d, dw (D,), db 0-d).

    Example: X = tensor([[1.], [-1.]]), y = tensor([1., 0.]), w = tensor([0.]),
    b = tensor(0.) -> (tensor(0.6931), tensor([-0.5]), tensor(0.)).
    """
    # TODO: implement ch2.logistic_regression_grad (hint: `dlcourse hint ch2.logistic_regression_grad`).
    raise NotImplementedError("ch2.logistic_regression_grad")


def softmax_regression_grad(
    X: torch.Tensor, y: torch.Tensor, W: torch.Tensor, b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Loss and gradients of softmax (multinomial logistic) regression.

    Scores S = X W + b, loss L = -mean_n log softmax(S_n)[y_n] (mean cross-entropy);
    returns L and its gradients dL/dW, dL/db, derived by hand. Both are finite for scores
    of any magnitude (1000 included), in float32 as in float64: compute the
    log-probabilities in log-sum-exp form, S - max - log(sum(exp(S - max))), never
    log(softmax(S)) (a max shift alone does not stop a probability underflowing to 0).

    Shapes: `X` (N, D), `y` (N,) int64 in [0, C), `W` (D, C), `b` (C,); returns
    (loss 0-d, dW (D, C), db (C,)).

    Example: X = tensor([[1., 0.]]), y = tensor([1]), W = zeros(2, 2), b = zeros(2)
    -> (tensor(0.6931), tensor([[0.5, -0.5], [0., 0.]]), tensor([0.5, -0.5])).
    """
    # TODO: implement ch2.softmax_regression_grad (hint: `dlcourse hint ch2.softmax_regression_grad`).
    raise NotImplementedError("ch2.softmax_regression_grad")
