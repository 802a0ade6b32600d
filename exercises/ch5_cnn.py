"""Chapter 5: convolutional networks, written from tensor operations.

Covers 2-D cross-correlation ("convolution" in deep learning) through an explicit
im2col patch matrix, its backward pass, max pooling forward and backward, and one
training exercise (a small CNN on scikit-learn's 8x8 digits).

Left out: dilation, groups, asymmetric stride or padding, non-zero padding modes,
ceil-mode and padded pooling, average pooling. Layouts follow PyTorch: images are
(N, C, H, W), filters (F, C, kh, kw). Patches are read with `Tensor.unfold`, a view
that slides a window along one dimension; `F.unfold`, `F.conv2d` and friends are
what these exercises rebuild, so they are not used here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def im2col(
    x: torch.Tensor,
    kernel_size: int | tuple[int, int],
    stride: int = 1,
    padding: int = 0,
) -> torch.Tensor:
    """Every kernel-sized patch of `x` as one column, in the layout of `F.unfold`.

    With zero padding p and stride s, the output grid has
    Ho = (H + 2p - kh) // s + 1 rows and Wo = (W + 2p - kw) // s + 1 columns, and
    L = Ho * Wo patches. Column l = ho * Wo + wo holds the patch whose top-left
    corner is (ho * s, wo * s) in the padded image, flattened channel first:
    row c * kh * kw + i * kw + j of that column is x_padded[n, c, ho * s + i, wo * s + j].

    Shapes: x (N, C, H, W) -> (N, C * kh * kw, L). `kernel_size` is an int or (kh, kw);
    `stride` and `padding` are ints used for both spatial dims.

    Example: x = arange(9.).reshape(1, 1, 3, 3), kernel_size 2 ->
    [[[0, 1, 3, 4], [1, 2, 4, 5], [3, 4, 6, 7], [4, 5, 7, 8]]] (shape (1, 4, 4)):
    the first column is the top-left 2x2 patch [0, 1, 3, 4].
    """
    # TODO: implement ch5.im2col (hint: `dlcourse hint ch5.im2col`).
    raise NotImplementedError("ch5.im2col")


def conv2d_forward(
    x: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor,
    stride: int = 1,
    padding: int = 0,
) -> torch.Tensor:
    """2-D cross-correlation with zero padding, as `F.conv2d(x, w, b, stride, padding)`.

    out[n, f, ho, wo] = b[f] + sum_{c, i, j} w[f, c, i, j] * x_padded[n, c, ho * s + i, wo * s + j]

    The kernel is not flipped (cross-correlation, as every deep learning library).
    With the patch matrix of `im2col` this is one matrix product:
    out = w.reshape(F, C * kh * kw) @ cols + b.

    Shapes: x (N, C, H, W), w (F, C, kh, kw), b (F,) -> (N, F, Ho, Wo) with
    Ho = (H + 2p - kh) // s + 1, Wo = (W + 2p - kw) // s + 1.

    Example: x = ones(1, 1, 3, 3), w = ones(1, 1, 2, 2), b = [1.], padding 0 ->
    [[[[5., 5.], [5., 5.]]]]: each 2x2 window sums four ones, plus the bias.
    """
    # TODO: implement ch5.conv2d_forward (hint: `dlcourse hint ch5.conv2d_forward`).
    raise NotImplementedError("ch5.conv2d_forward")


def conv2d_backward(
    dout: torch.Tensor,
    x: torch.Tensor,
    w: torch.Tensor,
    stride: int = 1,
    padding: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients of `conv2d_forward` given the upstream gradient `dout`.

    db[f]          = sum_{n, ho, wo} dout[n, f, ho, wo]
    dw[f, c, i, j] = sum_{n, ho, wo} dout[n, f, ho, wo] * x_padded[n, c, ho * s + i, wo * s + j]
    dx_padded[n, c, ho * s + i, wo * s + j] += sum_f dout[n, f, ho, wo] * w[f, c, i, j]

    Every input pixel collects a contribution from each window that covers it (several
    when windows overlap); the padding border is then cut away, and pixels that no
    window reaches (the leftover rows and columns when the stride does not divide
    evenly) get zero.

    Shapes: dout (N, F, Ho, Wo), x (N, C, H, W), w (F, C, kh, kw) ->
    (dx (N, C, H, W), dw (F, C, kh, kw), db (F,)).

    Example: x = ones(1, 1, 2, 2), w = ones(1, 1, 2, 2), dout = [[[[1.]]]] (one window) ->
    dx = ones(1, 1, 2, 2), dw = ones(1, 1, 2, 2), db = [1.].
    """
    # TODO: implement ch5.conv2d_backward (hint: `dlcourse hint ch5.conv2d_backward`).
    raise NotImplementedError("ch5.conv2d_backward")


def maxpool2d_forward(x: torch.Tensor, kernel_size: int, stride: int) -> torch.Tensor:
    """Max pooling without padding (floor mode), as `F.max_pool2d(x, kernel_size, stride)`.

    out[n, c, ho, wo] = max_{0 <= i, j < k} x[n, c, ho * s + i, wo * s + j]
    with Ho = (H - k) // s + 1 and Wo = (W - k) // s + 1; rows and columns that no
    full window reaches are ignored.

    Shapes: x (N, C, H, W) -> (N, C, Ho, Wo).

    Example: x = arange(16.).reshape(1, 1, 4, 4), kernel_size 2, stride 2 ->
    [[[[5., 7.], [13., 15.]]]].
    """
    # TODO: implement ch5.maxpool2d_forward (hint: `dlcourse hint ch5.maxpool2d_forward`).
    raise NotImplementedError("ch5.maxpool2d_forward")


def maxpool2d_backward(
    dout: torch.Tensor, x: torch.Tensor, kernel_size: int, stride: int
) -> torch.Tensor:
    """Gradient of `maxpool2d_forward` with respect to x.

    Each window passes its upstream gradient dout[n, c, ho, wo] to one input pixel:
    the first maximum of the window in row-major order; every other pixel of the
    window gets nothing from it. When windows overlap (stride < kernel_size), a pixel
    that is the chosen maximum of several windows receives the sum of their gradients.

    Shapes: dout (N, C, Ho, Wo), x (N, C, H, W) -> dx (N, C, H, W).

    Example: x = [[[[1., 3.], [3., 2.]]]], kernel_size 2, stride 2, dout = [[[[10.]]]] ->
    [[[[0., 10.], [0., 0.]]]]: the maximum 3 occurs twice, the first one in row-major
    order (row 0, column 1) takes the gradient.
    """
    # TODO: implement ch5.maxpool2d_backward (hint: `dlcourse hint ch5.maxpool2d_backward`).
    raise NotImplementedError("ch5.maxpool2d_backward")


def digits_train_predict(
    X_train: torch.Tensor,
    y_train: torch.Tensor,
    X_test: torch.Tensor,
    seed: int,
) -> torch.Tensor:
    """Train a small CNN on 8x8 digit images and predict the labels of `X_test`.

    Any model and training method may be used here: `nn.Conv2d`, `torch.optim` and
    autograd are allowed. The result must depend only on the inputs and `seed`.
    This reference trains conv(1->16, 3x3) -> ReLU -> conv(16->32, 3x3) -> ReLU ->
    2x2 max pool -> linear(512->64) -> ReLU -> linear(64->10) with Adam and
    mini-batches of 64 for 30 epochs, then predicts the class of largest score.
    Randomness (initial weights, batch order) comes from `seed` only; the caller's
    global random state is left as it was.

    Shapes: X_train (N, 1, 8, 8) float in [0, 1], y_train (N,) int64 in 0..9,
    X_test (M, 1, 8, 8) -> (M,) int64 on X_test's device.

    Each call must finish within 60 s on a CPU (the grader's time limit per call).

    Example: with scikit-learn's digits split 1:1, the held-out accuracy is about 0.98.
    """
    # TODO: implement ch5.digits_train_predict (hint: `dlcourse hint ch5.digits_train_predict`).
    raise NotImplementedError("ch5.digits_train_predict")
