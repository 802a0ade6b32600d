"""Chapter 4: backpropagation by hand, optimiser steps and normalisation layers.

Every backward function takes the upstream gradient first, then the forward's own
inputs (no caches), and returns gradients shaped like the inputs they belong to. The
optimiser steps are pure functions of one parameter tensor and its state, matching one
step of `torch.optim.SGD`, `RMSprop` and `Adam`. Batch and layer normalisation are
the 2-D / last-dim forms of `F.batch_norm` and `F.layer_norm`.

Left out: autograd (nothing here may use it), parameter groups, learning-rate
schedules, `amsgrad`, `centered` RMSprop, dampening, and running statistics for
anything but (N, D) batch norm.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def linear_forward(x: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Affine layer `out = x @ W + b`, with W in (in, out) layout.

    Shapes: x (N, D), W (D, M), b (M,) -> out (N, M). Any leading dims of x are kept:
    x (..., D) -> out (..., M).

    Example: linear_forward(tensor([[1., 2.]]), tensor([[1., 0., 1.], [0., 1., 1.]]),
    tensor([0., 0., 10.])) -> tensor([[1., 2., 13.]]).
    """
    # TODO: implement ch4.linear_forward (hint: `dlcourse hint ch4.linear_forward`).
    raise NotImplementedError("ch4.linear_forward")


def linear_backward(
    dout: torch.Tensor, x: torch.Tensor, W: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients dL/dx, dL/dW, dL/db of `out = x @ W + b` given dout = dL/dout.

    b is shared by every sample, so its gradient collects a contribution from each.
    Shapes: dout (N, M), x (N, D), W (D, M) -> dx (N, D), dW (D, M), db (M,); each
    gradient has the shape of its input. Leading dims (..., D) are treated as one
    flattened batch.

    Example: dout = tensor([[1., 2.]]), x = tensor([[3.]]), W = tensor([[4., 5.]])
    -> dx = tensor([[14.]]), dW = tensor([[3., 6.]]), db = tensor([1., 2.]).
    """
    # TODO: implement ch4.linear_backward (hint: `dlcourse hint ch4.linear_backward`).
    raise NotImplementedError("ch4.linear_backward")


def relu_backward(dout: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Gradient of `relu(x) = max(x, 0)`: dx = dout where x > 0, else 0.

    The derivative at exactly x = 0 is taken as 0 (as PyTorch does). Shapes: dout and
    x of the same shape -> dx of that shape.

    Example: relu_backward(tensor([5., 5., 5.]), tensor([-1., 0., 2.]))
    -> tensor([0., 0., 5.]).
    """
    # TODO: implement ch4.relu_backward (hint: `dlcourse hint ch4.relu_backward`).
    raise NotImplementedError("ch4.relu_backward")


def sigmoid_backward(dout: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Gradient through `s = sigmoid(x) = 1 / (1 + exp(-x))`: dx = dout * ds/dx.

    x is the pre-activation (the forward's input, not its output). The result must be
    finite for inputs of any magnitude. Shapes: dout, x same shape -> dx.

    Example: sigmoid_backward(tensor([1., 2.]), tensor([0., 0.])) -> tensor([0.25, 0.5]).
    """
    # TODO: implement ch4.sigmoid_backward (hint: `dlcourse hint ch4.sigmoid_backward`).
    raise NotImplementedError("ch4.sigmoid_backward")


def tanh_backward(dout: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Gradient through `tanh(x)`: dx = dout * dtanh/dx at the pre-activation x.

    Shapes: dout, x same shape -> dx.

    Example: tanh_backward(tensor([3.]), tensor([0.])) -> tensor([3.]) (the slope of
    tanh at 0 is 1); tanh_backward(tensor([1.]), atanh(tensor([0.5]))) -> tensor([0.75]).
    """
    # TODO: implement ch4.tanh_backward (hint: `dlcourse hint ch4.tanh_backward`).
    raise NotImplementedError("ch4.tanh_backward")


def softmax_cross_entropy(
    logits: torch.Tensor, y: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy of softmax(logits) against int64 labels, and its gradient.

    loss = mean_n [ log sum_c exp(z_nc) - z_n,y_n ],   dlogits = dloss / dz

    Both must be finite for logits of any magnitude (1e4 included), in float32 as in
    float64: compute log-probabilities in log-sum-exp form, z - max - log(sum(exp(z -
    max))), never log(softmax(z)) (a max shift alone does not stop a probability
    underflowing to 0). Shapes:
    logits (N, C), y (N,) int64 -> loss 0-d, dlogits (N, C).

    Example: softmax_cross_entropy(tensor([[0., log 3]]), tensor([1]))
    -> loss = -log 0.75 ~ 0.2877, dlogits = tensor([[0.25, -0.25]]).
    """
    # TODO: implement ch4.softmax_cross_entropy (hint: `dlcourse hint ch4.softmax_cross_entropy`).
    raise NotImplementedError("ch4.softmax_cross_entropy")


def mlp_loss_and_grads(
    params: dict[str, torch.Tensor], X: torch.Tensor, y: torch.Tensor
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Loss and gradients of a two-layer ReLU network with softmax cross-entropy.

    scores = relu(X W1 + b1) W2 + b2, loss = mean cross-entropy(scores, y).
    Shapes: params W1 (D, H), b1 (H,), W2 (H, C), b2 (C,); X (N, D), y (N,) int64
    -> loss 0-d, grads {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)}.

    Example: with W1, b1, W2, b2 all zero every score is 0, so the loss is log C and
    grads["b2"] is the batch mean of softmax - onehot(y): for C = 2 and
    y = tensor([0, 0]), loss = log 2 ~ 0.6931 and grads["b2"] = tensor([-0.5, 0.5]).

    Stability: the loss and gradients are finite wherever the true values are, for
    scores of any magnitude, in float32 as in float64: compute the log-probabilities in
    log-sum-exp form, z - max - log(sum(exp(z - max))), never log(softmax(z)) (a max
    shift alone does not stop a probability underflowing to 0).
    """
    # TODO: implement ch4.mlp_loss_and_grads (hint: `dlcourse hint ch4.mlp_loss_and_grads`).
    raise NotImplementedError("ch4.mlp_loss_and_grads")


def numerical_gradient(
    f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, h: float = 1e-6
) -> torch.Tensor:
    """Central-difference estimate of the gradient of a scalar function f at x.

    grad_i = (f(x + h e_i) - f(x - h e_i)) / (2 h) for every entry i of x (e_i the
    i-th unit tensor); the error is O(h^2). f is called 2 x.numel() times, each time
    on a fresh perturbed copy, so x itself is never changed. Shapes: x any shape,
    f(x) 0-d -> grad of x's shape, dtype and device.

    Example: numerical_gradient(lambda t: (t ** 2).sum(), tensor([1., -2.]), h=1e-3)
    -> ~ tensor([2., -4.]) (exact up to rounding for a quadratic).
    """
    # TODO: implement ch4.numerical_gradient (hint: `dlcourse hint ch4.numerical_gradient`).
    raise NotImplementedError("ch4.numerical_gradient")


def sgd_step(w: torch.Tensor, dw: torch.Tensor, lr: float) -> torch.Tensor:
    """One plain gradient-descent step: returns w - lr dw (a new tensor).

    Shapes: w, dw same shape -> new w.

    Example: sgd_step(tensor([1., 2.]), tensor([10., -10.]), lr=0.1)
    -> tensor([0., 3.]).
    """
    # TODO: implement ch4.sgd_step (hint: `dlcourse hint ch4.sgd_step`).
    raise NotImplementedError("ch4.sgd_step")


def sgd_momentum_step(
    w: torch.Tensor,
    dw: torch.Tensor,
    v: torch.Tensor,
    lr: float,
    momentum: float,
    nesterov: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of SGD with momentum, as `torch.optim.SGD` (dampening 0, no decay).

    v' = momentum v + dw
    w' = w - lr v'                      (heavy ball)
    w' = w - lr (dw + momentum v')      (nesterov=True)

    Starting from v = 0 the first step is a plain SGD step, as in PyTorch. Shapes:
    w, dw, v same shape -> (w', v').

    Example: sgd_momentum_step(tensor([1.]), tensor([1.]), tensor([4.]), lr=0.1,
    momentum=0.5) -> (tensor([0.7]), tensor([3.])); with nesterov=True the step is
    dw + 0.5 * 3 = 2.5 -> (tensor([0.75]), tensor([3.])).
    """
    # TODO: implement ch4.sgd_momentum_step (hint: `dlcourse hint ch4.sgd_momentum_step`).
    raise NotImplementedError("ch4.sgd_momentum_step")


def rmsprop_step(
    w: torch.Tensor,
    dw: torch.Tensor,
    s: torch.Tensor,
    lr: float,
    alpha: float = 0.99,
    eps: float = 1e-8,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One RMSprop step, as `torch.optim.RMSprop` (not centered, no momentum).

    s' = alpha s + (1 - alpha) dw^2
    w' = w - lr dw / (sqrt(s') + eps)       (eps outside the square root)

    Shapes: w, dw, s same shape -> (w', s').

    Example: rmsprop_step(tensor([1.]), tensor([2.]), tensor([0.]), lr=0.1, alpha=0.75)
    -> s' = 0.25 * 4 = 1, w' = 1 - 0.1 * 2 / (1 + 1e-8) ~ tensor([0.8]).
    """
    # TODO: implement ch4.rmsprop_step (hint: `dlcourse hint ch4.rmsprop_step`).
    raise NotImplementedError("ch4.rmsprop_step")


def adam_step(
    w: torch.Tensor,
    dw: torch.Tensor,
    m: torch.Tensor,
    v: torch.Tensor,
    t: int,
    lr: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Step t (t = 1, 2, ...) of Adam, as `torch.optim.Adam` (L2 weight decay, no amsgrad).

    g  = dw + weight_decay w                (decay added to the gradient)
    m' = beta1 m + (1 - beta1) g
    v' = beta2 v + (1 - beta2) g^2
    w' = w - lr (m' / (1 - beta1^t)) / (sqrt(v' / (1 - beta2^t)) + eps)

    eps is added after the bias correction of v, as PyTorch does. Shapes: w, dw, m, v
    same shape -> (w', m', v').

    Example: at t = 1 from m = v = 0 the bias-corrected moments are g and g^2, so the
    step is lr g / (|g| + eps): adam_step(tensor([1.]), tensor([-3.]), tensor([0.]),
    tensor([0.]), t=1, lr=0.1) -> w' ~ tensor([1.1]), m' = tensor([-0.3]),
    v' = tensor([0.009]).
    """
    # TODO: implement ch4.adam_step (hint: `dlcourse hint ch4.adam_step`).
    raise NotImplementedError("ch4.adam_step")


def batchnorm_forward(
    x: torch.Tensor,
    gamma: torch.Tensor,
    beta: torch.Tensor,
    running_mean: torch.Tensor,
    running_var: torch.Tensor,
    momentum: float = 0.1,
    eps: float = 1e-5,
    training: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Batch normalisation of (N, D) inputs, as `F.batch_norm`.

    training: mu = mean over N, var = biased variance over N (divide by N),
              out = gamma (x - mu) / sqrt(var + eps) + beta,
              running_mean' = (1 - momentum) running_mean + momentum mu,
              running_var'  = (1 - momentum) running_var + momentum var N / (N - 1)
              (the running variance uses the unbiased estimate; needs N >= 2).
    eval:     out = gamma (x - running_mean) / sqrt(running_var + eps) + beta and the
              running statistics are returned unchanged.

    The running statistics are returned as new tensors; no argument is modified.
    Shapes: x (N, D), gamma, beta, running_mean, running_var (D,)
    -> (out (N, D), running_mean' (D,), running_var' (D,)).

    Example: x = tensor([[0.], [2.]]), gamma = 1, beta = 0, running stats 0 and 1,
    training -> out ~ tensor([[-1.], [1.]]), running_mean' = tensor([0.1]),
    running_var' = 0.9 + 0.1 * 2 = tensor([1.1]).
    """
    # TODO: implement ch4.batchnorm_forward (hint: `dlcourse hint ch4.batchnorm_forward`).
    raise NotImplementedError("ch4.batchnorm_forward")


def batchnorm_backward(
    dout: torch.Tensor, x: torch.Tensor, gamma: torch.Tensor, eps: float = 1e-5
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients of training-mode batch norm `out = gamma xhat + beta` over (N, D).

    xhat = (x - mu) / sqrt(var + eps) with mu the batch mean and var the biased batch
    variance; both statistics depend on every sample, so dx has a term through each.
    Shapes: dout, x (N, D), gamma (D,) -> dx (N, D), dgamma (D,), dbeta (D,).

    Example: any x with dout = ones gives dx = 0 (a constant upstream gradient cannot
    change the normalised output, whose mean is fixed), dgamma ~ 0 and dbeta = N.
    """
    # TODO: implement ch4.batchnorm_backward (hint: `dlcourse hint ch4.batchnorm_backward`).
    raise NotImplementedError("ch4.batchnorm_backward")


def layernorm_forward(
    x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, eps: float = 1e-5
) -> torch.Tensor:
    """Layer normalisation over the last dim, as `F.layer_norm(x, (D,), gamma, beta, eps)`.

    For each row (all entries sharing the leading indices): mu and the biased variance
    over the D features, out = gamma (x - mu) / sqrt(var + eps) + beta. No running
    statistics: training and evaluation are the same. Rows far from 0 (values near
    1000, float32) must still come out right: subtract the mean before squaring, never
    var = E[x^2] - E[x]^2, which cancels catastrophically there. Shapes: x (..., D),
    gamma, beta (D,) -> out (..., D).

    Example: layernorm_forward(tensor([[1., 3.]]), tensor([1., 1.]), tensor([0., 5.]))
    -> ~ tensor([[-1., 6.]]).
    """
    # TODO: implement ch4.layernorm_forward (hint: `dlcourse hint ch4.layernorm_forward`).
    raise NotImplementedError("ch4.layernorm_forward")


def layernorm_backward(
    dout: torch.Tensor, x: torch.Tensor, gamma: torch.Tensor, eps: float = 1e-5
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients of `layernorm_forward` with respect to x, gamma and beta.

    The statistics are per row, over the last dim D, and depend on every feature of
    that row; gamma and beta are shared by all rows, so their gradients add up over
    every leading dim. Shapes: dout, x (..., D), gamma (D,) -> dx (..., D),
    dgamma (D,), dbeta (D,).

    Example: x = tensor([[1., 3.]]), dout = tensor([[1., 0.]]), gamma = ones(2):
    xhat ~ [[-1., 1.]], so dgamma ~ tensor([-1., 0.]), dbeta = tensor([1., 0.]) and
    dx ~ tensor([[0., 0.]]) (a row of two features always normalises to -1 and 1).
    """
    # TODO: implement ch4.layernorm_backward (hint: `dlcourse hint ch4.layernorm_backward`).
    raise NotImplementedError("ch4.layernorm_backward")
