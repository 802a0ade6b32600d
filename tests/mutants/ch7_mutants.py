"""Mutants and variants of chapter 7 (recurrent networks).

Each function is graded as if it were the student's, appended to `solutions/ch7_rnn.py`
under the exercise's name: it may use torch and the module's other functions (for
example `rnn_step_forward` inside a variant of `rnn_step_backward`), nothing else from
this file.

The known mistakes of the chapter, each with its own message, are registered in
`solutions/mistakes/ch7_rnn.py` and graded as mutants from there; this file keeps the
correct variants and the mutants the grader recognises otherwise (gradients modified in
place, a total of the wrong shape).
"""

from __future__ import annotations

import torch

from tests.mutants import mutant, variant

# ---------------------------------------------------------------- ch7.rnn_step_forward


@variant("ch7.rnn_step_forward")
def rnn_step_forward__einsum_sigmoid_identity(x, h_prev, W_ih, W_hh, b):
    # tanh(a) = 2 sigmoid(2a) - 1, finite in both tails
    a = torch.einsum("nd,hd->nh", x, W_ih) + torch.einsum("nk,hk->nh", h_prev, W_hh) + b
    return 2 * torch.sigmoid(2 * a) - 1


# ---------------------------------------------------------------- ch7.rnn_step_backward


@variant("ch7.rnn_step_backward")
def rnn_step_backward__per_sample_outer_products(dh, x, h_prev, W_ih, W_hh, b):
    h = rnn_step_forward(x, h_prev, W_ih, W_hh, b)
    da = dh * (1 - h.pow(2))
    dW_ih = torch.zeros_like(W_ih)
    dW_hh = torch.zeros_like(W_hh)
    for k in range(x.shape[0]):
        dW_ih = dW_ih + torch.outer(da[k], x[k])
        dW_hh = dW_hh + torch.outer(da[k], h_prev[k])
    return (
        torch.einsum("nh,hd->nd", da, W_ih),
        torch.einsum("nh,hk->nk", da, W_hh),
        dW_ih,
        dW_hh,
        da.sum(dim=0),
    )


# ---------------------------------------------------------------- ch7.rnn_forward


@variant("ch7.rnn_forward")
def rnn_forward__precomputed_input_projection(x, h0, W_ih, W_hh, b):
    # project every time step at once, then run the recurrence
    xw = x @ W_ih.T + b  # (N, T, H)
    hs = x.new_zeros((x.shape[0], x.shape[1], h0.shape[1]))
    h = h0
    for t in range(x.shape[1]):
        h = torch.tanh(xw[:, t] + h @ W_hh.T)
        hs[:, t] = h
    return hs


# ---------------------------------------------------------------- ch7.rnn_backward


@variant("ch7.rnn_backward")
def rnn_backward__batched_parameter_grads(dhs, x, h0, W_ih, W_hh, b):
    # collect every step's da, then form the weight gradients with one einsum each
    n, t_len, _ = x.shape
    h = h0
    states = [h0]
    for t in range(t_len):
        h = torch.tanh(x[:, t] @ W_ih.T + h @ W_hh.T + b)
        states.append(h)
    das = [None] * t_len
    dh = torch.zeros_like(h0)
    for t in range(t_len - 1, -1, -1):
        da = (dhs[:, t] + dh) * (1 - states[t + 1] ** 2)
        das[t] = da
        dh = da @ W_hh
    if t_len == 0:
        return torch.zeros_like(x), dh, torch.zeros_like(W_ih), torch.zeros_like(W_hh), torch.zeros_like(b)
    da_all = torch.stack(das, dim=1)  # (N, T, H)
    prev = torch.stack(states[:-1], dim=1)  # (N, T, H)
    dx = da_all @ W_ih
    dW_ih = torch.einsum("nth,ntd->hd", da_all, x)
    dW_hh = torch.einsum("nth,ntk->hk", da_all, prev)
    db = da_all.sum(dim=(0, 1))
    return dx, dh, dW_ih, dW_hh, db


# ---------------------------------------------------------------- ch7.lstm_step_forward


@variant("ch7.lstm_step_forward")
def lstm_step_forward__per_gate_weights(x, h_prev, c_prev, W_ih, W_hh, b):
    H = h_prev.shape[1]

    def gate(k):
        rows = slice(k * H, (k + 1) * H)
        return x @ W_ih[rows].T + h_prev @ W_hh[rows].T + b[rows]

    i = 1 / (1 + torch.exp(-gate(0)))
    f = 1 / (1 + torch.exp(-gate(1)))
    g = torch.tanh(gate(2))
    o = 1 / (1 + torch.exp(-gate(3)))
    c = torch.addcmul(f * c_prev, i, g)
    return o * torch.tanh(c), c


# ---------------------------------------------------------------- ch7.lstm_step_backward


@variant("ch7.lstm_step_backward")
def lstm_step_backward__per_gate_blocks(dh, dc, x, h_prev, c_prev, W_ih, W_hh, b):
    H = h_prev.shape[1]
    a = torch.einsum("nd,gd->ng", x, W_ih) + torch.einsum("nk,gk->ng", h_prev, W_hh) + b
    i = torch.sigmoid(a[:, :H])
    f = torch.sigmoid(a[:, H : 2 * H])
    g = torch.tanh(a[:, 2 * H : 3 * H])
    o = torch.sigmoid(a[:, 3 * H :])
    c = f * c_prev + i * g
    # derivative of tanh(c) via 1 / cosh^2 written as 1 - tanh^2 of the new cell
    dtanh_c = 1 - torch.tanh(c) ** 2
    dc_total = dc + dh * o * dtanh_c
    da = torch.zeros_like(a)
    da[:, :H] = dc_total * g * i * (1 - i)
    da[:, H : 2 * H] = dc_total * c_prev * f * (1 - f)
    da[:, 2 * H : 3 * H] = dc_total * i * (1 - g * g)
    da[:, 3 * H :] = dh * torch.tanh(c) * o * (1 - o)
    return (
        torch.einsum("ng,gd->nd", da, W_ih),
        torch.einsum("ng,gk->nk", da, W_hh),
        dc_total * f,
        torch.einsum("ng,nd->gd", da, x),
        torch.einsum("ng,nk->gk", da, h_prev),
        da.sum(dim=0),
    )


# ---------------------------------------------------------------- ch7.lstm_forward


@variant("ch7.lstm_forward")
def lstm_forward__precomputed_input_projection(x, h0, c0, W_ih, W_hh, b):
    xw = x @ W_ih.T + b  # (N, T, 4H)
    hs = x.new_zeros((x.shape[0], x.shape[1], h0.shape[1]))
    h, c = h0, c0
    for t in range(x.shape[1]):
        i, f, g, o = (xw[:, t] + h @ W_hh.T).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        hs[:, t] = h
    return hs, (h, c)


# ---------------------------------------------------------------- ch7.gru_step_forward


@variant("ch7.gru_step_forward")
def gru_step_forward__lerp(x, h_prev, W_ih, W_hh, b_ih, b_hh):
    # h = n + z (h_prev - n), the same interpolation written as torch.lerp
    H = h_prev.shape[1]
    W_ir, W_iz, W_in = W_ih[:H], W_ih[H : 2 * H], W_ih[2 * H :]
    W_hr, W_hz, W_hn = W_hh[:H], W_hh[H : 2 * H], W_hh[2 * H :]
    r = torch.sigmoid(x @ W_ir.T + b_ih[:H] + h_prev @ W_hr.T + b_hh[:H])
    z = torch.sigmoid(x @ W_iz.T + b_ih[H : 2 * H] + h_prev @ W_hz.T + b_hh[H : 2 * H])
    n = torch.tanh(x @ W_in.T + b_ih[2 * H :] + r * (h_prev @ W_hn.T + b_hh[2 * H :]))
    return torch.lerp(n, h_prev, z)


# ---------------------------------------------------------------- ch7.clip_grad_norm


@mutant("ch7.clip_grad_norm", expect=r"in place|in-place|modif|unchanged")
def clip_grad_norm__in_place(grads, max_norm):
    total = torch.sqrt(sum((g * g).sum() for g in grads))
    factor = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        g.mul_(factor)
    return grads, total


@variant("ch7.clip_grad_norm")
def clip_grad_norm__flatten(grads, max_norm):
    if not grads:
        return [], torch.tensor(0.0)
    flat = torch.cat([g.reshape(-1) for g in grads])
    total = torch.linalg.vector_norm(flat)
    if total + 1e-6 > max_norm:
        factor = max_norm / (total + 1e-6)
        return [g * factor for g in grads], total
    return [g.clone() for g in grads], total


# ---------------------------------------------------------------- more variants


@mutant("ch7.clip_grad_norm", expect=r"0-d|shape")
def clip_grad_norm__total_keeps_a_dimension(grads, max_norm):
    # the norm of the concatenated entries taken with keepdim: total has shape (1,)
    total = torch.cat([g.reshape(-1) for g in grads]).norm(dim=0, keepdim=True)
    factor = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    return [g * factor for g in grads], total


@variant("ch7.clip_grad_norm")
def clip_grad_norm__python_loop(grads, max_norm):
    squares = grads[0].new_zeros(())
    for g in grads:
        squares = squares + (g**2).sum()
    total = squares.sqrt()
    factor = torch.minimum(max_norm / (total + 1e-6), torch.ones_like(total))
    return [g * factor for g in grads], total


# --- correct variants a student may write: namedtuples where a tuple is asked ----------------


@variant("ch7.lstm_forward")
def lstm_forward__namedtuple_state(x, h0, c0, W_ih, W_hh, b):
    # (hs, (h_T, c_T)) with the final state as a namedtuple, as some libraries return it.
    from collections import namedtuple

    State = namedtuple("State", "h c")
    h, c, hs = h0, c0, []
    H = h0.shape[1]
    for t in range(x.shape[1]):
        a = x[:, t] @ W_ih.T + h @ W_hh.T + b
        i, f, g, o = a[:, :H].sigmoid(), a[:, H : 2 * H].sigmoid(), a[:, 2 * H : 3 * H].tanh(), a[:, 3 * H :].sigmoid()
        c = f * c + i * g
        h = o * c.tanh()
        hs.append(h)
    return torch.stack(hs, dim=1), State(h, c)


# --- promises of the docstrings: saturated units come out right ---------------------------


@mutant("ch7.rnn_step_forward", expect=r"pre-activations are large.*saturated")
def rnn_step_forward__tanh_from_exp(x, h_prev, W_ih, W_hh, b):
    # tanh written out from exp: inf / inf = NaN once exp(2a) overflows
    e = torch.exp(2 * (x @ W_ih.T + h_prev @ W_hh.T + b))
    return (e - 1) / (e + 1)


@variant("ch7.rnn_step_forward")
def rnn_step_forward__tanh_as_one_minus_two_over(x, h_prev, W_ih, W_hh, b):
    # tanh(a) = 1 - 2 / (exp(2a) + 1): exp overflowing gives 1, underflowing -1, both right
    return 1 - 2 / (torch.exp(2 * (x @ W_ih.T + h_prev @ W_hh.T + b)) + 1)


@mutant("ch7.lstm_step_forward", expect=r"pre-activations are large.*saturated")
def lstm_step_forward__sigmoid_as_exp_over_one_plus_exp(x, h_prev, c_prev, W_ih, W_hh, b):
    # sigmoid(a) = exp(a) / (1 + exp(a)): inf / inf = NaN for a saturated gate
    a_i, a_f, a_g, a_o = (x @ W_ih.T + h_prev @ W_hh.T + b).chunk(4, dim=1)
    i, f, o = (torch.exp(a) / (1 + torch.exp(a)) for a in (a_i, a_f, a_o))
    c = f * c_prev + i * torch.tanh(a_g)
    return o * torch.tanh(c), c


@mutant("ch7.gru_step_forward", expect=r"pre-activations are large.*saturated")
def gru_step_forward__sigmoid_as_exp_over_one_plus_exp(x, h_prev, W_ih, W_hh, b_ih, b_hh):
    # sigmoid(a) = exp(a) / (1 + exp(a)): inf / inf = NaN for a saturated gate
    gi_r, gi_z, gi_n = (x @ W_ih.T + b_ih).chunk(3, dim=1)
    gh_r, gh_z, gh_n = (h_prev @ W_hh.T + b_hh).chunk(3, dim=1)
    r = torch.exp(gi_r + gh_r) / (1 + torch.exp(gi_r + gh_r))
    z = torch.exp(gi_z + gh_z) / (1 + torch.exp(gi_z + gh_z))
    n = torch.tanh(gi_n + r * gh_n)
    return (1 - z) * n + z * h_prev


@variant("ch7.gru_step_forward")
def gru_step_forward__sigmoid_from_exp_of_minus(x, h_prev, W_ih, W_hh, b_ih, b_hh):
    # sigmoid(a) = 1 / (1 + exp(-a)): exp(-a) overflowing gives 0, which is right
    gi_r, gi_z, gi_n = (x @ W_ih.T + b_ih).chunk(3, dim=1)
    gh_r, gh_z, gh_n = (h_prev @ W_hh.T + b_hh).chunk(3, dim=1)
    r = 1 / (1 + torch.exp(-(gi_r + gh_r)))
    z = 1 / (1 + torch.exp(-(gi_z + gh_z)))
    n = torch.tanh(gi_n + r * gh_n)
    return (1 - z) * n + z * h_prev
