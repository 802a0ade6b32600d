"""Chapter 7, the reference side of known mistakes: the outputs of the usual RNN, LSTM,
GRU and clipping mistakes, one function per exercise (`ref.rnn_forward_mistake_outputs(...)`),
each a dict catalogue key -> the output that mistake gives (None where it changes
nothing). The truths stay in the checks (PyTorch's own cells, `nn.RNN`, `nn.LSTM`,
`clip_grad_norm_`). Reached through `ref`, never shipped in a release.
"""

from __future__ import annotations

import torch


def rnn_step_forward_mistake_outputs(x, h, W_ih, W_hh, b) -> dict:
    """Catalogue key -> the output of each known mistake of rnn_step_forward."""
    a = x @ W_ih.T + h @ W_hh.T + b
    return {
        "mistake.ch7.rnn_step_forward.no_tanh": a,
        "mistake.ch7.rnn_step_forward.sigmoid": torch.sigmoid(a),
        "mistake.ch7.rnn_step_forward.transpose": torch.tanh(x @ W_ih.T + h @ W_hh + b),
    }


def rnn_step_backward_mistake_outputs(dh, x, h, W_ih, W_hh, b) -> dict:
    """Catalogue key -> the output of each known mistake of rnn_step_backward."""
    a = x @ W_ih.T + h @ W_hh.T + b
    da = dh * (1 - torch.tanh(a) ** 2)
    da_pre = dh * (1 - a * a)  # the derivative taken at the pre-activation
    return {
        "mistake.ch7.rnn_step_backward.tanh_derivative": (da_pre @ W_ih, da_pre @ W_hh, da_pre.T @ x, da_pre.T @ h, da_pre.sum(0)),
        "mistake.ch7.rnn_step_backward.transpose": (None, None, x.T @ da, h.T @ da, None),
        "mistake.ch7.rnn_step_backward.db": (None, None, None, None, da.mean(0)),
    }


def rnn_forward_mistake_outputs(x, h0, W_ih, W_hh, b) -> dict:
    """Catalogue key -> the output of each known mistake of rnn_forward."""
    n, t_len, _ = x.shape
    step = lambda x_t, h: torch.tanh(x_t @ W_ih.T + h @ W_hh.T + b)  # noqa: E731
    states, h = [h0], h0
    for t in range(t_len):
        h = step(x[:, t], h)
        states.append(h)
    return {
        "mistake.ch7.rnn_forward.state_not_carried": torch.stack([step(x[:, t], h0) for t in range(t_len)], dim=1),
        "mistake.ch7.rnn_forward.includes_h0": torch.stack(states[:-1], dim=1),
        "mistake.ch7.rnn_forward.time_axis": torch.stack(states[1:], dim=0).reshape(n, t_len, -1),
    }


def rnn_bptt_variant(dhs, x, h0, W_ih, W_hh, b, carry=True, own_state=False, accumulate=True):
    """BPTT with switches for the usual mistakes: no flow through time (`carry`), the
    step's own state for the previous one, the weight gradients of the last step only."""
    t_len = x.shape[1]
    states, h = [h0], h0
    for t in range(t_len):
        h = torch.tanh(x[:, t] @ W_ih.T + h @ W_hh.T + b)
        states.append(h)
    dx = torch.zeros_like(x)
    dW_ih, dW_hh, db = torch.zeros_like(W_ih), torch.zeros_like(W_hh), torch.zeros_like(b)
    dh_next = torch.zeros_like(h0)
    for t in reversed(range(t_len)):
        h_prev = states[t + 1] if own_state else states[t]
        h_t = torch.tanh(x[:, t] @ W_ih.T + h_prev @ W_hh.T + b)
        da = (dhs[:, t] + (dh_next if carry else 0)) * (1 - h_t * h_t)
        dx[:, t] = da @ W_ih
        dh_next = da @ W_hh
        step = (da.T @ x[:, t], da.T @ h_prev, da.sum(0))
        if accumulate:
            dW_ih, dW_hh, db = dW_ih + step[0], dW_hh + step[1], db + step[2]
        else:
            dW_ih, dW_hh, db = step
    return dx, dh_next, dW_ih, dW_hh, db


def rnn_backward_mistake_outputs(dhs, x, h0, W_ih, W_hh, b) -> dict:
    """(dx, dh0, dW_ih, dW_hh, db) of the usual BPTT mistakes."""
    args = (dhs, x, h0, W_ih, W_hh, b)
    last = rnn_bptt_variant(*args, accumulate=False)
    # dh0 first: when the loss sits on the last state only, forgetting the flow
    # through time also zeroes dh0, but a zero dh0 with the rest right is this mistake
    return {
        "mistake.ch7.rnn_backward.dh0": (None, torch.zeros_like(h0), None, None, None),
        "mistake.ch7.rnn_backward.no_bptt": rnn_bptt_variant(*args, carry=False),
        "mistake.ch7.rnn_backward.previous_state": rnn_bptt_variant(*args, own_state=True),
        "mistake.ch7.rnn_backward.accumulate": (None, None, *last[2:]),
    }


def lstm_step_variant(x, h, c, W_ih, W_hh, b, order=(0, 1, 2, 3), h_tanh=True, swap_gates=False, forget_on_h=False):
    """An LSTM step with switches for the usual mistakes. order: the blocks read as
    i, f, g, o (a textbook's i, f, o, g is (0, 1, 3, 2))."""
    blocks = (x @ W_ih.T + h @ W_hh.T + b).chunk(4, dim=1)
    a_i, a_f, a_g, a_o = (blocks[k] for k in order)
    i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
    if swap_gates:
        i, f = f, i
    c_new = f * (h if forget_on_h else c) + i * g
    return (o * torch.tanh(c_new) if h_tanh else o * c_new), c_new


def lstm_step_forward_mistake_outputs(*args) -> dict:
    """Catalogue key -> (h, c) of each known mistake; args: x, h, c, W_ih, W_hh, b."""
    return {
        "mistake.ch7.lstm_step_forward.gate_order": lstm_step_variant(*args, order=(0, 1, 3, 2)),
        "mistake.ch7.lstm_step_forward.h_without_tanh": lstm_step_variant(*args, h_tanh=False),
        "mistake.ch7.lstm_step_forward.input_forget_swapped": lstm_step_variant(*args, swap_gates=True),
        "mistake.ch7.lstm_step_forward.forget_on_h": lstm_step_variant(*args, forget_on_h=True),
    }


def lstm_step_backward_variant(dh, dc, x, h, c, W_ih, W_hh, b, through_h=True, forget=True, derivatives=True, order=(0, 1, 2, 3)):
    """The LSTM step's backward pass with switches for the usual mistakes. order: the
    gate blocks of da are stacked as these blocks of (i, f, g, o)."""
    a_i, a_f, a_g, a_o = (x @ W_ih.T + h @ W_hh.T + b).chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
    tanh_c = torch.tanh(f * c + i * g)
    dc_total = dc + (dh * o * (1 - tanh_c * tanh_c) if through_h else 0)
    di, df, dg, do = dc_total * g, dc_total * c, dc_total * i, dh * tanh_c
    if derivatives:
        di, df, dg, do = di * i * (1 - i), df * f * (1 - f), dg * (1 - g * g), do * o * (1 - o)
    else:  # the sigmoids skipped; the candidate's tanh kept
        dg = dg * (1 - g * g)
    blocks = (di, df, dg, do)
    da = torch.cat([blocks[k] for k in order], dim=1)
    return da @ W_ih, da @ W_hh, dc_total * f if forget else dc_total, da.T @ x, da.T @ h, da.sum(0)


def lstm_step_backward_mistake_outputs(*args) -> dict:
    """Catalogue key -> the gradients of each known mistake; args: dh, dc, x, h, c, W_ih, W_hh, b."""
    return {
        "mistake.ch7.lstm_step_backward.dc_path": lstm_step_backward_variant(*args, through_h=False),
        "mistake.ch7.lstm_step_backward.dc_prev": (None, None, lstm_step_backward_variant(*args, forget=False)[2], None, None, None),
        "mistake.ch7.lstm_step_backward.gate_derivative": lstm_step_backward_variant(*args, derivatives=False),
        "mistake.ch7.lstm_step_backward.gate_order": lstm_step_backward_variant(*args, order=(0, 1, 3, 2)),
    }


def lstm_forward_mistake_outputs(x, h0, c0, W_ih, W_hh, b) -> dict:
    """Catalogue key -> (hs, h_T, c_T) of each known mistake."""
    hs, cs, h, c = [], [], h0, c0
    reset_hs, hr = [], h0
    for t in range(x.shape[1]):
        h, c = lstm_step_variant(x[:, t], h, c, W_ih, W_hh, b)
        hs.append(h)
        cs.append(c)
        hr, cr = lstm_step_variant(x[:, t], hr, c0, W_ih, W_hh, b)
        reset_hs.append(hr)
    return {
        "mistake.ch7.lstm_forward.cell_not_carried": (torch.stack(reset_hs, dim=1), hr, cr),
        "mistake.ch7.lstm_forward.final_state_order": (None, c, h),
        "mistake.ch7.lstm_forward.hs_are_cells": (torch.stack(cs, dim=1), None, None),
    }


def gru_step_variant(x, h, W_ih, W_hh, b_ih, b_hh, order=(0, 1, 2), update_swapped=False, reset_bias=True, reset_before=False):
    """A GRU step with switches for the usual mistakes. order: the blocks read as r, z, n."""
    gi = (x @ W_ih.T + b_ih).chunk(3, dim=1)
    gh = (h @ W_hh.T + b_hh).chunk(3, dim=1)
    (gi_r, gi_z, gi_n), (gh_r, gh_z, gh_n) = (tuple(g[k] for k in order) for g in (gi, gh))
    r, z = torch.sigmoid(gi_r + gh_r), torch.sigmoid(gi_z + gh_z)
    W_hn, b_hn = W_hh.chunk(3, dim=0)[order[2]], b_hh.chunk(3)[order[2]]
    if reset_before:  # the original paper: the reset gate scales h_prev inside the product
        n = torch.tanh(gi_n + (r * h) @ W_hn.T + b_hn)
    elif not reset_bias:  # b_hn added outside the reset gate's product
        n = torch.tanh(gi_n + r * (gh_n - b_hn) + b_hn)
    else:
        n = torch.tanh(gi_n + r * gh_n)
    return z * n + (1 - z) * h if update_swapped else (1 - z) * n + z * h


def gru_step_forward_mistake_outputs(*args) -> dict:
    """Catalogue key -> h of each known mistake; args: x, h, W_ih, W_hh, b_ih, b_hh."""
    return {
        "mistake.ch7.gru_step_forward.reset_bias": gru_step_variant(*args, reset_bias=False),
        "mistake.ch7.gru_step_forward.update_swapped": gru_step_variant(*args, update_swapped=True),
        "mistake.ch7.gru_step_forward.gate_order": gru_step_variant(*args, order=(1, 0, 2)),
        "mistake.ch7.gru_step_forward.reset_before_matmul": gru_step_variant(*args, reset_before=True),
    }


def clip_grad_norm_mistake_outputs(grads, max_norm) -> dict:
    """Catalogue key -> (clipped, total) of each known mistake."""
    total = torch.sqrt(sum((g * g).sum() for g in grads))
    summed = sum(g.norm() for g in grads)
    return {
        "mistake.ch7.clip_grad_norm.per_tensor": ([g * torch.clamp(max_norm / (g.norm() + 1e-6), max=1.0) for g in grads], None),
        "mistake.ch7.clip_grad_norm.scaled_up": ([g * (max_norm / (total + 1e-6)) for g in grads], None),
        "mistake.ch7.clip_grad_norm.total": ([g * torch.clamp(max_norm / (summed + 1e-6), max=1.0) for g in grads], summed),
    }
