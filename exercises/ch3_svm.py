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
    # TODO: implement ch3.hinge_loss_grad (hint: `dlcourse hint ch3.hinge_loss_grad`).
    raise NotImplementedError("ch3.hinge_loss_grad")


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
    # TODO: implement ch3.multiclass_svm_loss (hint: `dlcourse hint ch3.multiclass_svm_loss`).
    raise NotImplementedError("ch3.multiclass_svm_loss")


def linear_kernel(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Linear kernel K[i, j] = x_i . y_j, as `sklearn.metrics.pairwise.linear_kernel`.

    Shapes: X (N, D), Y (M, D) -> K (N, M).

    Example: X = [[1., 2.]], Y = [[3., 4.], [0., 1.]] -> [[11., 2.]].
    """
    # TODO: implement ch3.linear_kernel (hint: `dlcourse hint ch3.linear_kernel`).
    raise NotImplementedError("ch3.linear_kernel")


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
    # TODO: implement ch3.polynomial_kernel (hint: `dlcourse hint ch3.polynomial_kernel`).
    raise NotImplementedError("ch3.polynomial_kernel")


def rbf_kernel(X: torch.Tensor, Y: torch.Tensor, gamma: float | None = None) -> torch.Tensor:
    """Gaussian (RBF) kernel K[i, j] = exp(-gamma ||x_i - y_j||^2), as scikit-learn.

    gamma None means 1 / D. The squared distances come from the expansion
    ||x||^2 + ||y||^2 - 2 x . y, which may round to a tiny negative number; they are
    clamped at 0 so that no entry exceeds 1.

    Shapes: X (N, D), Y (M, D) -> K (N, M).

    Example: X = [[0., 0.]], Y = [[0., 0.], [1., 1.]], gamma None (0.5)
    -> [[1., exp(-1)]] = [[1., 0.3679]].
    """
    # TODO: implement ch3.rbf_kernel (hint: `dlcourse hint ch3.rbf_kernel`).
    raise NotImplementedError("ch3.rbf_kernel")


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
    # TODO: implement ch3.svm_decision_function (hint: `dlcourse hint ch3.svm_decision_function`).
    raise NotImplementedError("ch3.svm_decision_function")


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
    # TODO: implement ch3.train_linear_svm (hint: `dlcourse hint ch3.train_linear_svm`).
    raise NotImplementedError("ch3.train_linear_svm")
