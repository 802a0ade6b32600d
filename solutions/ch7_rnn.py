"""Chapter 7: recurrent networks, written from tensor operations.

Covers the vanilla (Elman, tanh) RNN cell and its backward pass, a whole-sequence
RNN with backpropagation through time, the LSTM cell forward and backward, a
one-layer LSTM over a sequence, the GRU cell, and gradient clipping by global norm.

Left out: stacked and bidirectional layers, dropout between layers, packed
(variable-length) sequences, projections (`proj_size`), GRU backward.

Weights follow PyTorch: W_ih (G H, D) and W_hh (G H, H) hold the G gate blocks on
top of each other, G = 1 (RNN), 4 (LSTM, gate order i, f, g, o) or 3 (GRU, order
r, z, n). The RNN and LSTM cells take one bias b (G H,), the sum of PyTorch's b_ih
and b_hh; the GRU needs both because b_hn sits inside the reset gate's product.
Sequences are batch-first (N, T, D); states are (N, H).
"""

from __future__ import annotations

import torch


def rnn_step_forward(
    x: torch.Tensor,
    h_prev: torch.Tensor,
    W_ih: torch.Tensor,
    W_hh: torch.Tensor,
    b: torch.Tensor,
) -> torch.Tensor:
    """One step of a tanh RNN: h = tanh(x W_ih^T + h_prev W_hh^T + b).

    Shapes: x (N, D), h_prev (N, H), W_ih (H, D), W_hh (H, H), b (H,) -> h (N, H).

    Saturated units must come out right: for pre-activations of any magnitude (hundreds
    included), in float32 as in float64, h is finite (+-1 in the tails). torch.tanh is;
    a hand-written (exp(2a) - 1) / (exp(2a) + 1) is inf / inf = NaN once exp overflows.

    Example: x = [[1.]], h_prev = [[0.]], W_ih = [[1.]], W_hh = [[1.]], b = [0.] ->
    [[tanh(1)]] = [[0.7616]].
    """
    return torch.tanh(x @ W_ih.T + h_prev @ W_hh.T + b)


def rnn_step_backward(
    dh: torch.Tensor,
    x: torch.Tensor,
    h_prev: torch.Tensor,
    W_ih: torch.Tensor,
    W_hh: torch.Tensor,
    b: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients of `rnn_step_forward` given dh = dL/dh.

    With h = tanh(a), a = x W_ih^T + h_prev W_hh^T + b, the local derivative is
    tanh'(a) = 1 - h^2, so da = dh * (1 - h^2) and
    dx = da W_ih, dh_prev = da W_hh, dW_ih = da^T x, dW_hh = da^T h_prev, db = sum_n da.

    Shapes: dh (N, H), x (N, D), h_prev (N, H) -> (dx (N, D), dh_prev (N, H),
    dW_ih (H, D), dW_hh (H, H), db (H,)).

    Example (N = D = H = 1): x = h_prev = [[0.]], b = [0.], W_ih = [[2.]], W_hh = [[3.]],
    dh = [[1.]]: a = 0, h = 0, da = [[1.]], so dx = [[2.]], dh_prev = [[3.]],
    dW_ih = [[0.]], dW_hh = [[0.]], db = [1.].
    """
    h = rnn_step_forward(x, h_prev, W_ih, W_hh, b)  # recompute instead of caching
    da = dh * (1 - h * h)  # (N, H)
    dx = da @ W_ih
    dh_prev = da @ W_hh
    dW_ih = da.T @ x
    dW_hh = da.T @ h_prev
    db = da.sum(dim=0)
    return dx, dh_prev, dW_ih, dW_hh, db


def rnn_forward(
    x: torch.Tensor,
    h0: torch.Tensor,
    W_ih: torch.Tensor,
    W_hh: torch.Tensor,
    b: torch.Tensor,
) -> torch.Tensor:
    """Run the tanh RNN over a batch-first sequence; returns every hidden state.

    h_0 = h0, h_t = tanh(x_t W_ih^T + h_{t-1} W_hh^T + b) for t = 1..T, and
    hs[:, t - 1] = h_t (the initial state is not included), as
    `nn.RNN(D, H, batch_first=True)` with bias_ih + bias_hh = b.

    Shapes: x (N, T, D), h0 (N, H) -> hs (N, T, H).

    Example: x = ones(1, 2, 1), h0 = [[0.]], W_ih = W_hh = [[1.]], b = [0.] ->
    [[[tanh(1)], [tanh(1 + tanh(1))]]] = [[[0.7616], [0.9422]]].
    """
    n, t_len, _ = x.shape
    h = h0
    hs = []
    for t in range(t_len):
        h = rnn_step_forward(x[:, t], h, W_ih, W_hh, b)
        hs.append(h)
    if not hs:  # T = 0: an empty sequence of states
        return h0.new_zeros((n, 0, h0.shape[1]))
    return torch.stack(hs, dim=1)


def rnn_backward(
    dhs: torch.Tensor,
    x: torch.Tensor,
    h0: torch.Tensor,
    W_ih: torch.Tensor,
    W_hh: torch.Tensor,
    b: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Backpropagation through time for `rnn_forward`, given dL/dhs.

    The state h_t feeds both the loss (through dhs[:, t - 1]) and the next step, so
    going backwards from t = T the total gradient on h_t is
    dhs[:, t - 1] + (the dh_prev returned by step t + 1). Each step's parameter
    gradients are summed over time; dx[:, t - 1] is the step's dx, and dh0 is the
    dh_prev of the first step.

    Shapes: dhs (N, T, H), x (N, T, D), h0 (N, H) -> (dx (N, T, D), dh0 (N, H),
    dW_ih (H, D), dW_hh (H, H), db (H,)).

    Example: with T = 1 this is `rnn_step_backward(dhs[:, 0], x[:, 0], h0, ...)` with
    dx given a time axis of length 1.
    """
    t_len = x.shape[1]
    hs = rnn_forward(x, h0, W_ih, W_hh, b)  # (N, T, H), recomputed
    dx = torch.zeros_like(x)
    dW_ih = torch.zeros_like(W_ih)
    dW_hh = torch.zeros_like(W_hh)
    db = torch.zeros_like(b)
    dh_next = torch.zeros_like(h0)  # gradient arriving from step t + 1
    for t in reversed(range(t_len)):
        h_prev = hs[:, t - 1] if t > 0 else h0
        dh = dhs[:, t] + dh_next
        dx_t, dh_next, dW_ih_t, dW_hh_t, db_t = rnn_step_backward(dh, x[:, t], h_prev, W_ih, W_hh, b)
        dx[:, t] = dx_t
        dW_ih = dW_ih + dW_ih_t
        dW_hh = dW_hh + dW_hh_t
        db = db + db_t
    return dx, dh_next, dW_ih, dW_hh, db


def lstm_step_forward(
    x: torch.Tensor,
    h_prev: torch.Tensor,
    c_prev: torch.Tensor,
    W_ih: torch.Tensor,
    W_hh: torch.Tensor,
    b: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One LSTM step, as `nn.LSTMCell` with bias_ih + bias_hh = b.

    a = x W_ih^T + h_prev W_hh^T + b is split into four blocks of H columns, in the
    order i, f, g, o:
        i = sigmoid(a_i), f = sigmoid(a_f), g = tanh(a_g), o = sigmoid(a_o)
        c = f * c_prev + i * g
        h = o * tanh(c)

    Shapes: x (N, D), h_prev (N, H), c_prev (N, H), W_ih (4H, D), W_hh (4H, H),
    b (4H,) -> (h (N, H), c (N, H)).

    Saturated gates must come out right: for pre-activations of any magnitude (hundreds
    included), in float32 as in float64, every gate is finite (0 or 1 in the tails, +-1
    for g). torch.sigmoid and torch.tanh are, and so is 1 / (1 + exp(-a)); a hand-written
    exp(a) / (1 + exp(a)) is inf / inf = NaN once exp overflows.

    Example: every weight and bias zero, c_prev = [[2.]] (H = 1): i = f = o = 0.5,
    g = 0, c = 0.5 * 2 = [[1.]], h = 0.5 * tanh(1) = [[0.3808]].
    """
    a = x @ W_ih.T + h_prev @ W_hh.T + b  # (N, 4H)
    a_i, a_f, a_g, a_o = a.chunk(4, dim=1)
    i = torch.sigmoid(a_i)
    f = torch.sigmoid(a_f)
    g = torch.tanh(a_g)
    o = torch.sigmoid(a_o)
    c = f * c_prev + i * g
    h = o * torch.tanh(c)
    return h, c


def lstm_step_backward(
    dh: torch.Tensor,
    dc: torch.Tensor,
    x: torch.Tensor,
    h_prev: torch.Tensor,
    c_prev: torch.Tensor,
    W_ih: torch.Tensor,
    W_hh: torch.Tensor,
    b: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients of `lstm_step_forward` given dh = dL/dh and dc = dL/dc.

    c reaches the loss directly (dc) and through h = o * tanh(c), so
        dc_total = dc + dh * o * (1 - tanh(c)^2)
        do = dh * tanh(c), di = dc_total * g, dg = dc_total * i, df = dc_total * c_prev
        dc_prev = dc_total * f
    then through the gate nonlinearities (sigmoid' = s (1 - s), tanh' = 1 - t^2):
        da = [di i (1 - i), df f (1 - f), dg (1 - g^2), do o (1 - o)]  (order i, f, g, o)
    and the affine map as in the RNN: dx = da W_ih, dh_prev = da W_hh,
    dW_ih = da^T x, dW_hh = da^T h_prev, db = sum_n da.

    Shapes: dh, dc (N, H), x (N, D), h_prev, c_prev (N, H) -> (dx (N, D),
    dh_prev (N, H), dc_prev (N, H), dW_ih (4H, D), dW_hh (4H, H), db (4H,)).

    Example: every weight and bias zero, c_prev = [[2.]], dh = [[0.]], dc = [[1.]]:
    i = f = o = 0.5 and g = 0, so dc_prev = f = [[0.5]], and
    da = [[0., 2. * 0.25, 0.5 * 1., 0.]] = [[0., 0.5, 0.5, 0.]] (df = c_prev, dg = i).
    """
    a = x @ W_ih.T + h_prev @ W_hh.T + b  # (N, 4H), recomputed
    a_i, a_f, a_g, a_o = a.chunk(4, dim=1)
    i = torch.sigmoid(a_i)
    f = torch.sigmoid(a_f)
    g = torch.tanh(a_g)
    o = torch.sigmoid(a_o)
    c = f * c_prev + i * g
    tanh_c = torch.tanh(c)

    dc_total = dc + dh * o * (1 - tanh_c * tanh_c)  # both paths into c
    do = dh * tanh_c
    di = dc_total * g
    dg = dc_total * i
    df = dc_total * c_prev
    dc_prev = dc_total * f

    da = torch.cat(
        [di * i * (1 - i), df * f * (1 - f), dg * (1 - g * g), do * o * (1 - o)], dim=1
    )  # (N, 4H), same gate order as the weights
    dx = da @ W_ih
    dh_prev = da @ W_hh
    dW_ih = da.T @ x
    dW_hh = da.T @ h_prev
    db = da.sum(dim=0)
    return dx, dh_prev, dc_prev, dW_ih, dW_hh, db


def lstm_forward(
    x: torch.Tensor,
    h0: torch.Tensor,
    c0: torch.Tensor,
    W_ih: torch.Tensor,
    W_hh: torch.Tensor,
    b: torch.Tensor,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """Run one LSTM layer over a batch-first sequence.

    Applies `lstm_step_forward` for t = 1..T from (h0, c0); as
    `nn.LSTM(D, H, batch_first=True)` with one layer, bias_ih + bias_hh = b, called
    with the initial state (h0[None], c0[None]).

    Shapes: x (N, T, D), h0 (N, H), c0 (N, H) -> (hs (N, T, H), (h_T (N, H), c_T (N, H))),
    where hs[:, t - 1] is h_t and h_T equals hs[:, -1].

    Example: every weight and bias zero, x of any values, h0 = c0 = zeros(1, 1), T = 2:
    c stays 0 (c = 0.5 * 0 + 0.5 * tanh(0)), so hs = zeros(1, 2, 1), h_T = c_T = [[0.]].
    """
    n, t_len, _ = x.shape
    h, c = h0, c0
    hs = []
    for t in range(t_len):
        h, c = lstm_step_forward(x[:, t], h, c, W_ih, W_hh, b)
        hs.append(h)
    if not hs:  # T = 0: no step, the final state is the initial one
        return h0.new_zeros((n, 0, h0.shape[1])), (h0, c0)
    return torch.stack(hs, dim=1), (h, c)


def gru_step_forward(
    x: torch.Tensor,
    h_prev: torch.Tensor,
    W_ih: torch.Tensor,
    W_hh: torch.Tensor,
    b_ih: torch.Tensor,
    b_hh: torch.Tensor,
) -> torch.Tensor:
    """One GRU step, as `nn.GRUCell`.

    gi = x W_ih^T + b_ih and gh = h_prev W_hh^T + b_hh are split into blocks r, z, n:
        r = sigmoid(gi_r + gh_r), z = sigmoid(gi_z + gh_z)
        n = tanh(gi_n + r * gh_n)        (the reset gate scales W_hn h + b_hn, bias included)
        h = (1 - z) * n + z * h_prev

    Shapes: x (N, D), h_prev (N, H), W_ih (3H, D), W_hh (3H, H), b_ih (3H,),
    b_hh (3H,) -> h (N, H).

    Saturated gates must come out right: for pre-activations of any magnitude (hundreds
    included), in float32 as in float64, r, z and n are finite (0 or 1 in the tails, +-1
    for n). torch.sigmoid and torch.tanh are, and so is 1 / (1 + exp(-a)); a hand-written
    exp(a) / (1 + exp(a)) is inf / inf = NaN once exp overflows.

    Example: every weight and bias zero, h_prev = [[1.]]: r = z = 0.5, n = 0,
    h = 0.5 * 0 + 0.5 * 1 = [[0.5]].
    """
    gi = x @ W_ih.T + b_ih  # (N, 3H)
    gh = h_prev @ W_hh.T + b_hh  # (N, 3H)
    gi_r, gi_z, gi_n = gi.chunk(3, dim=1)
    gh_r, gh_z, gh_n = gh.chunk(3, dim=1)
    r = torch.sigmoid(gi_r + gh_r)
    z = torch.sigmoid(gi_z + gh_z)
    n = torch.tanh(gi_n + r * gh_n)
    return (1 - z) * n + z * h_prev


def clip_grad_norm(
    grads: list[torch.Tensor], max_norm: float
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Scale a list of gradients so that their global 2-norm is at most about max_norm.

    total = sqrt(sum over every tensor g and entry k of g_k^2), the 2-norm of all
    entries as one vector; every gradient is multiplied by
    min(1, max_norm / (total + 1e-6)) (the 1e-6 guards against division by zero), as
    `torch.nn.utils.clip_grad_norm_`. The inputs are left unchanged.

    Shapes: grads, a list of tensors of any shapes -> (list of the same shapes, total 0-d).

    Example: grads = [tensor([3.]), tensor([4.])], max_norm 1 -> total = 5, factor
    1 / (5 + 1e-6), clipped = [tensor([0.6]), tensor([0.8])] (up to 1e-6).
    """
    if not grads:
        return [], torch.tensor(0.0)
    first = grads[0]
    # per-tensor squared sums, added up on the first gradient's device
    squares = torch.stack([(g * g).sum().to(first.device) for g in grads])
    total = squares.sum().sqrt()
    factor = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    clipped = [g * factor.to(device=g.device, dtype=g.dtype) for g in grads]
    return clipped, total
