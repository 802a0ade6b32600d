"""Chapter 7, the reference side of known mistakes: the usual RNN, LSTM, GRU and
gradient-clipping mistakes as realistic student code, each registered by the key of its
`mistake.ch7.*` message (`solutions.mistakes.mistake`). Each is written as a student
would write the exercise function in `solutions/ch7_rnn.py`, and runs in that module's
namespace (so `rnn_backward` here calls the reference `rnn_forward` and
`rnn_step_backward`), so the mutant suite can grade it as a submission unchanged.
Mistakes the grader recognises otherwise (a modified argument, a total of the wrong
shape) stay mutants in `tests/mutants/ch7_mutants.py`.

The truths stay in the checks: PyTorch's own cells, `nn.RNN`, `nn.LSTM` and
`clip_grad_norm_`. Never shipped in a release: the release carries the recorded
outputs only.
"""

from __future__ import annotations

import torch

from solutions.mistakes import mistake

# --- rnn_step_forward ---------------------------------------------------------------


@mistake("ch7.rnn_step_forward.no_tanh")
def rnn_step_forward(x, h_prev, W_ih, W_hh, b):
    # the affine map without its nonlinearity
    return x @ W_ih.T + h_prev @ W_hh.T + b


@mistake("ch7.rnn_step_forward.transpose")
def rnn_step_forward(x, h_prev, W_ih, W_hh, b):
    # W_hh used without its transpose (square, so the shapes still fit)
    return torch.tanh(x @ W_ih.T + h_prev @ W_hh + b)


@mistake("ch7.rnn_step_forward.sigmoid")
def rnn_step_forward(x, h_prev, W_ih, W_hh, b):
    # sigmoid where the cell uses tanh
    return torch.sigmoid(x @ W_ih.T + h_prev @ W_hh.T + b)


# --- rnn_step_backward --------------------------------------------------------------


@mistake("ch7.rnn_step_backward.tanh_derivative")
def rnn_step_backward(dh, x, h_prev, W_ih, W_hh, b):
    # uses 1 - a^2 with the pre-activation a instead of 1 - tanh(a)^2
    a = x @ W_ih.T + h_prev @ W_hh.T + b
    da = dh * (1 - a * a)
    return da @ W_ih, da @ W_hh, da.T @ x, da.T @ h_prev, da.sum(dim=0)


@mistake("ch7.rnn_step_backward.transpose")
def rnn_step_backward(dh, x, h_prev, W_ih, W_hh, b):
    # dW_hh as h_prev^T da, the transpose of da^T h_prev
    h = torch.tanh(x @ W_ih.T + h_prev @ W_hh.T + b)
    da = dh * (1 - h * h)
    return da @ W_ih, da @ W_hh, da.T @ x, h_prev.T @ da, da.sum(dim=0)


@mistake("ch7.rnn_step_backward.db")
def rnn_step_backward(dh, x, h_prev, W_ih, W_hh, b):
    # db averaged over the batch instead of summed
    h = torch.tanh(x @ W_ih.T + h_prev @ W_hh.T + b)
    da = dh * (1 - h * h)
    return da @ W_ih, da @ W_hh, da.T @ x, da.T @ h_prev, da.mean(dim=0)


# --- rnn_forward --------------------------------------------------------------------


@mistake("ch7.rnn_forward.state_not_carried")
def rnn_forward(x, h0, W_ih, W_hh, b):
    # every step starts again from h0
    return torch.stack([rnn_step_forward(x[:, t], h0, W_ih, W_hh, b) for t in range(x.shape[1])], dim=1)


@mistake("ch7.rnn_forward.includes_h0")
def rnn_forward(x, h0, W_ih, W_hh, b):
    # stores the state BEFORE each step: hs starts with h0 and misses h_T
    h = h0
    hs = []
    for t in range(x.shape[1]):
        hs.append(h)
        h = rnn_step_forward(x[:, t], h, W_ih, W_hh, b)
    return torch.stack(hs, dim=1)


@mistake("ch7.rnn_forward.time_axis")
def rnn_forward(x, h0, W_ih, W_hh, b):
    # stacks the states as (T, N, H), then reshapes (not transposes) to (N, T, H)
    h = h0
    hs = []
    for t in range(x.shape[1]):
        h = rnn_step_forward(x[:, t], h, W_ih, W_hh, b)
        hs.append(h)
    return torch.stack(hs, dim=0).reshape(x.shape[0], x.shape[1], h0.shape[1])


# --- rnn_backward -------------------------------------------------------------------
# dh0 first: when the loss sits on the last state only and T = 1, several of these agree
# with the truth everywhere but dh0


@mistake("ch7.rnn_backward.dh0")
def rnn_backward(dhs, x, h0, W_ih, W_hh, b):
    # everything right, but dh0 returned as zeros
    hs = rnn_forward(x, h0, W_ih, W_hh, b)
    dx = torch.zeros_like(x)
    dW_ih, dW_hh, db = torch.zeros_like(W_ih), torch.zeros_like(W_hh), torch.zeros_like(b)
    dh_next = torch.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        h_prev = hs[:, t - 1] if t > 0 else h0
        dx_t, dh_next, a, c, d = rnn_step_backward(dhs[:, t] + dh_next, x[:, t], h_prev, W_ih, W_hh, b)
        dx[:, t] = dx_t
        dW_ih, dW_hh, db = dW_ih + a, dW_hh + c, db + d
    return dx, torch.zeros_like(h0), dW_ih, dW_hh, db


@mistake("ch7.rnn_backward.no_bptt")
def rnn_backward(dhs, x, h0, W_ih, W_hh, b):
    # each step sees only its own dhs[:, t], not what flows back from step t + 1
    hs = rnn_forward(x, h0, W_ih, W_hh, b)
    dx = torch.zeros_like(x)
    dW_ih, dW_hh, db = torch.zeros_like(W_ih), torch.zeros_like(W_hh), torch.zeros_like(b)
    dh0 = torch.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        h_prev = hs[:, t - 1] if t > 0 else h0
        dx_t, dh_prev, a, c, d = rnn_step_backward(dhs[:, t], x[:, t], h_prev, W_ih, W_hh, b)
        dx[:, t] = dx_t
        dW_ih, dW_hh, db = dW_ih + a, dW_hh + c, db + d
        if t == 0:
            dh0 = dh_prev
    return dx, dh0, dW_ih, dW_hh, db


@mistake("ch7.rnn_backward.previous_state")
def rnn_backward(dhs, x, h0, W_ih, W_hh, b):
    # uses the step's own output h_t where h_{t-1} belongs
    hs = rnn_forward(x, h0, W_ih, W_hh, b)
    dx = torch.zeros_like(x)
    dW_ih, dW_hh, db = torch.zeros_like(W_ih), torch.zeros_like(W_hh), torch.zeros_like(b)
    dh_next = torch.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        dx_t, dh_next, a, c, d = rnn_step_backward(dhs[:, t] + dh_next, x[:, t], hs[:, t], W_ih, W_hh, b)
        dx[:, t] = dx_t
        dW_ih, dW_hh, db = dW_ih + a, dW_hh + c, db + d
    return dx, dh_next, dW_ih, dW_hh, db


@mistake("ch7.rnn_backward.accumulate")
def rnn_backward(dhs, x, h0, W_ih, W_hh, b):
    # "=" instead of "+=": the weight gradients keep only the first step's share
    hs = rnn_forward(x, h0, W_ih, W_hh, b)
    dx = torch.zeros_like(x)
    dW_ih, dW_hh, db = torch.zeros_like(W_ih), torch.zeros_like(W_hh), torch.zeros_like(b)
    dh_next = torch.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        h_prev = hs[:, t - 1] if t > 0 else h0
        dx_t, dh_next, dW_ih, dW_hh, db = rnn_step_backward(dhs[:, t] + dh_next, x[:, t], h_prev, W_ih, W_hh, b)
        dx[:, t] = dx_t
    return dx, dh_next, dW_ih, dW_hh, db


# --- lstm_step_forward --------------------------------------------------------------


@mistake("ch7.lstm_step_forward.gate_order")
def lstm_step_forward(x, h_prev, c_prev, W_ih, W_hh, b):
    # reads the blocks as i, f, o, g (the order of some textbooks), not PyTorch's i, f, g, o
    a = x @ W_ih.T + h_prev @ W_hh.T + b
    a_i, a_f, a_o, a_g = a.chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
    c = f * c_prev + i * g
    return o * torch.tanh(c), c


@mistake("ch7.lstm_step_forward.h_without_tanh")
def lstm_step_forward(x, h_prev, c_prev, W_ih, W_hh, b):
    # h = o * c: the cell state's tanh forgotten
    a = x @ W_ih.T + h_prev @ W_hh.T + b
    a_i, a_f, a_g, a_o = a.chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
    c = f * c_prev + i * g
    return o * c, c


@mistake("ch7.lstm_step_forward.input_forget_swapped")
def lstm_step_forward(x, h_prev, c_prev, W_ih, W_hh, b):
    # c = i * c_prev + f * g: the input and forget gates swapped
    a = x @ W_ih.T + h_prev @ W_hh.T + b
    a_i, a_f, a_g, a_o = a.chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
    c = i * c_prev + f * g
    return o * torch.tanh(c), c


@mistake("ch7.lstm_step_forward.forget_on_h")
def lstm_step_forward(x, h_prev, c_prev, W_ih, W_hh, b):
    # c = f * h_prev + i * g: the forget gate applied to the hidden state
    a = x @ W_ih.T + h_prev @ W_hh.T + b
    a_i, a_f, a_g, a_o = a.chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
    c = f * h_prev + i * g
    return o * torch.tanh(c), c


# --- lstm_step_backward -------------------------------------------------------------


@mistake("ch7.lstm_step_backward.dc_path")
def lstm_step_backward(dh, dc, x, h_prev, c_prev, W_ih, W_hh, b):
    # forgets that c also reaches the loss through h = o * tanh(c)
    a = x @ W_ih.T + h_prev @ W_hh.T + b
    a_i, a_f, a_g, a_o = a.chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
    c = f * c_prev + i * g
    tanh_c = torch.tanh(c)
    dc_total = dc
    do = dh * tanh_c
    da = torch.cat(
        [
            dc_total * g * i * (1 - i),
            dc_total * c_prev * f * (1 - f),
            dc_total * i * (1 - g * g),
            do * o * (1 - o),
        ],
        dim=1,
    )
    return da @ W_ih, da @ W_hh, dc_total * f, da.T @ x, da.T @ h_prev, da.sum(dim=0)


@mistake("ch7.lstm_step_backward.dc_prev")
def lstm_step_backward(dh, dc, x, h_prev, c_prev, W_ih, W_hh, b):
    # dc_prev = dc_total, without the forget gate
    a = x @ W_ih.T + h_prev @ W_hh.T + b
    a_i, a_f, a_g, a_o = a.chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
    c = f * c_prev + i * g
    tanh_c = torch.tanh(c)
    dc_total = dc + dh * o * (1 - tanh_c * tanh_c)
    do = dh * tanh_c
    da = torch.cat(
        [
            dc_total * g * i * (1 - i),
            dc_total * c_prev * f * (1 - f),
            dc_total * i * (1 - g * g),
            do * o * (1 - o),
        ],
        dim=1,
    )
    return da @ W_ih, da @ W_hh, dc_total, da.T @ x, da.T @ h_prev, da.sum(dim=0)


@mistake("ch7.lstm_step_backward.gate_derivative")
def lstm_step_backward(dh, dc, x, h_prev, c_prev, W_ih, W_hh, b):
    # passes the gate gradients straight through the sigmoids
    a = x @ W_ih.T + h_prev @ W_hh.T + b
    a_i, a_f, a_g, a_o = a.chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
    c = f * c_prev + i * g
    tanh_c = torch.tanh(c)
    dc_total = dc + dh * o * (1 - tanh_c * tanh_c)
    da = torch.cat([dc_total * g, dc_total * c_prev, dc_total * i * (1 - g * g), dh * tanh_c], dim=1)
    return da @ W_ih, da @ W_hh, dc_total * f, da.T @ x, da.T @ h_prev, da.sum(dim=0)


@mistake("ch7.lstm_step_backward.gate_order")
def lstm_step_backward(dh, dc, x, h_prev, c_prev, W_ih, W_hh, b):
    # the gate gradients stacked as i, f, o, g instead of the weights' i, f, g, o
    a_i, a_f, a_g, a_o = (x @ W_ih.T + h_prev @ W_hh.T + b).chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
    tanh_c = torch.tanh(f * c_prev + i * g)
    dc_total = dc + dh * o * (1 - tanh_c * tanh_c)
    di, df = dc_total * g * i * (1 - i), dc_total * c_prev * f * (1 - f)
    dg, do = dc_total * i * (1 - g * g), dh * tanh_c * o * (1 - o)
    da = torch.cat([di, df, do, dg], dim=1)
    return da @ W_ih, da @ W_hh, dc_total * f, da.T @ x, da.T @ h_prev, da.sum(dim=0)


# --- lstm_forward -------------------------------------------------------------------


@mistake("ch7.lstm_forward.cell_not_carried")
def lstm_forward(x, h0, c0, W_ih, W_hh, b):
    # carries h but restarts every step from c0
    h, c = h0, c0
    hs = []
    for t in range(x.shape[1]):
        h, c = lstm_step_forward(x[:, t], h, c0, W_ih, W_hh, b)
        hs.append(h)
    return torch.stack(hs, dim=1), (h, c)


@mistake("ch7.lstm_forward.final_state_order")
def lstm_forward(x, h0, c0, W_ih, W_hh, b):
    # the final pair returned as (c_T, h_T)
    h, c = h0, c0
    hs = []
    for t in range(x.shape[1]):
        h, c = lstm_step_forward(x[:, t], h, c, W_ih, W_hh, b)
        hs.append(h)
    return torch.stack(hs, dim=1), (c, h)


@mistake("ch7.lstm_forward.hs_are_cells")
def lstm_forward(x, h0, c0, W_ih, W_hh, b):
    # stacks the cell states instead of the hidden states
    h, c = h0, c0
    cs = []
    for t in range(x.shape[1]):
        h, c = lstm_step_forward(x[:, t], h, c, W_ih, W_hh, b)
        cs.append(c)
    return torch.stack(cs, dim=1), (h, c)


# --- gru_step_forward ---------------------------------------------------------------


@mistake("ch7.gru_step_forward.reset_bias")
def gru_step_forward(x, h_prev, W_ih, W_hh, b_ih, b_hh):
    # n = tanh(W_in x + b_in + r * (W_hn h) + b_hn): the reset gate misses b_hn
    H = h_prev.shape[1]
    gi = x @ W_ih.T + b_ih
    gh_nobias = h_prev @ W_hh.T
    r = torch.sigmoid(gi[:, :H] + gh_nobias[:, :H] + b_hh[:H])
    z = torch.sigmoid(gi[:, H : 2 * H] + gh_nobias[:, H : 2 * H] + b_hh[H : 2 * H])
    n = torch.tanh(gi[:, 2 * H :] + r * gh_nobias[:, 2 * H :] + b_hh[2 * H :])
    return (1 - z) * n + z * h_prev


@mistake("ch7.gru_step_forward.update_swapped")
def gru_step_forward(x, h_prev, W_ih, W_hh, b_ih, b_hh):
    # h = z * n + (1 - z) * h_prev: the interpolation the wrong way round
    gi_r, gi_z, gi_n = (x @ W_ih.T + b_ih).chunk(3, dim=1)
    gh_r, gh_z, gh_n = (h_prev @ W_hh.T + b_hh).chunk(3, dim=1)
    r = torch.sigmoid(gi_r + gh_r)
    z = torch.sigmoid(gi_z + gh_z)
    n = torch.tanh(gi_n + r * gh_n)
    return z * n + (1 - z) * h_prev


@mistake("ch7.gru_step_forward.gate_order")
def gru_step_forward(x, h_prev, W_ih, W_hh, b_ih, b_hh):
    # reads the blocks as z, r, n instead of PyTorch's r, z, n
    gi_z, gi_r, gi_n = (x @ W_ih.T + b_ih).chunk(3, dim=1)
    gh_z, gh_r, gh_n = (h_prev @ W_hh.T + b_hh).chunk(3, dim=1)
    r = torch.sigmoid(gi_r + gh_r)
    z = torch.sigmoid(gi_z + gh_z)
    n = torch.tanh(gi_n + r * gh_n)
    return (1 - z) * n + z * h_prev


@mistake("ch7.gru_step_forward.reset_before_matmul")
def gru_step_forward(x, h_prev, W_ih, W_hh, b_ih, b_hh):
    # the original paper's candidate: W_hn (r * h_prev) instead of r * (W_hn h_prev + b_hn)
    H = h_prev.shape[1]
    gi_r, gi_z, gi_n = (x @ W_ih.T + b_ih).chunk(3, dim=1)
    gh = h_prev @ W_hh.T + b_hh
    r = torch.sigmoid(gi_r + gh[:, :H])
    z = torch.sigmoid(gi_z + gh[:, H : 2 * H])
    n = torch.tanh(gi_n + (r * h_prev) @ W_hh[2 * H :].T + b_hh[2 * H :])
    return (1 - z) * n + z * h_prev


# --- clip_grad_norm -----------------------------------------------------------------


@mistake("ch7.clip_grad_norm.per_tensor")
def clip_grad_norm(grads, max_norm):
    # clips each tensor by its own norm instead of the norm of all of them
    clipped = [g * torch.clamp(max_norm / (g.norm() + 1e-6), max=1.0) for g in grads]
    total = torch.stack([g.norm() for g in grads]).norm()
    return clipped, total


@mistake("ch7.clip_grad_norm.scaled_up")
def clip_grad_norm(grads, max_norm):
    # forgets min(1, ...): gradients already small are scaled UP to max_norm
    total = torch.sqrt(sum((g * g).sum() for g in grads))
    factor = max_norm / (total + 1e-6)
    return [g * factor for g in grads], total


@mistake("ch7.clip_grad_norm.total")
def clip_grad_norm(grads, max_norm):
    # adds the per-tensor norms instead of taking the root of the summed squares
    total = sum(g.norm() for g in grads)
    factor = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    return [g * factor for g in grads], total


@mistake("ch7.clip_grad_norm.no_eps")
def clip_grad_norm(grads, max_norm):
    # the textbook factor max_norm / total, without the 1e-6 the docstring adds to total
    total = torch.sqrt(sum((g * g).sum() for g in grads))
    factor = torch.clamp(max_norm / total, max=1.0)
    return [g * factor for g in grads], total
