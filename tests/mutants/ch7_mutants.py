"""Mutants and variants of chapter 7 (recurrent networks).

Each function is graded as if it were the student's, appended to `solutions/ch7_rnn.py`
under the exercise's name: it may use torch and the module's other functions (for
example `rnn_step_forward` inside a mutant of `rnn_forward`), nothing else from this file.
"""

from __future__ import annotations

import torch

from tests.mutants import mutant, variant

# ---------------------------------------------------------------- ch7.rnn_step_forward


@mutant("ch7.rnn_step_forward", expect=r"tanh|activation|nonlinear")
def rnn_step_forward__no_tanh(x, h_prev, W_ih, W_hh, b):
    return x @ W_ih.T + h_prev @ W_hh.T + b


@mutant("ch7.rnn_step_forward", expect=r"transpose")
def rnn_step_forward__W_hh_not_transposed(x, h_prev, W_ih, W_hh, b):
    return torch.tanh(x @ W_ih.T + h_prev @ W_hh + b)


@mutant("ch7.rnn_step_forward", expect=r"tanh|sigmoid|activation")
def rnn_step_forward__sigmoid(x, h_prev, W_ih, W_hh, b):
    return torch.sigmoid(x @ W_ih.T + h_prev @ W_hh.T + b)


@variant("ch7.rnn_step_forward")
def rnn_step_forward__einsum_sigmoid_identity(x, h_prev, W_ih, W_hh, b):
    # tanh(a) = 2 sigmoid(2a) - 1, finite in both tails
    a = torch.einsum("nd,hd->nh", x, W_ih) + torch.einsum("nk,hk->nh", h_prev, W_hh) + b
    return 2 * torch.sigmoid(2 * a) - 1


# ---------------------------------------------------------------- ch7.rnn_step_backward


@mutant("ch7.rnn_step_backward", expect=r"tanh|derivative|local")
def rnn_step_backward__derivative_of_preactivation(dh, x, h_prev, W_ih, W_hh, b):
    # uses 1 - a^2 with the pre-activation a instead of 1 - tanh(a)^2
    a = x @ W_ih.T + h_prev @ W_hh.T + b
    da = dh * (1 - a * a)
    return da @ W_ih, da @ W_hh, da.T @ x, da.T @ h_prev, da.sum(dim=0)


@mutant("ch7.rnn_step_backward", expect=r"transpose")
def rnn_step_backward__dW_hh_transposed(dh, x, h_prev, W_ih, W_hh, b):
    h = torch.tanh(x @ W_ih.T + h_prev @ W_hh.T + b)
    da = dh * (1 - h * h)
    return da @ W_ih, da @ W_hh, da.T @ x, h_prev.T @ da, da.sum(dim=0)


@mutant("ch7.rnn_step_backward", expect=r"\bdb\b|bias|mean|sum")
def rnn_step_backward__db_averaged(dh, x, h_prev, W_ih, W_hh, b):
    h = torch.tanh(x @ W_ih.T + h_prev @ W_hh.T + b)
    da = dh * (1 - h * h)
    return da @ W_ih, da @ W_hh, da.T @ x, da.T @ h_prev, da.mean(dim=0)


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


@mutant("ch7.rnn_forward", expect=r"state|carry|previous")
def rnn_forward__state_not_carried(x, h0, W_ih, W_hh, b):
    # every step starts again from h0
    return torch.stack([rnn_step_forward(x[:, t], h0, W_ih, W_hh, b) for t in range(x.shape[1])], dim=1)


@mutant("ch7.rnn_forward", expect=r"shift|h0|initial|off by one")
def rnn_forward__includes_h0(x, h0, W_ih, W_hh, b):
    # stores the state BEFORE each step: hs starts with h0 and misses h_T
    h = h0
    hs = []
    for t in range(x.shape[1]):
        hs.append(h)
        h = rnn_step_forward(x[:, t], h, W_ih, W_hh, b)
    return torch.stack(hs, dim=1)


@mutant("ch7.rnn_forward", expect=r"transpose|time|axis|batch-first")
def rnn_forward__stacked_time_first_then_reshaped(x, h0, W_ih, W_hh, b):
    # stacks the states as (T, N, H), then reshapes (not transposes) to (N, T, H)
    h = h0
    hs = []
    for t in range(x.shape[1]):
        h = rnn_step_forward(x[:, t], h, W_ih, W_hh, b)
        hs.append(h)
    return torch.stack(hs, dim=0).reshape(x.shape[0], x.shape[1], h0.shape[1])


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


@mutant("ch7.rnn_backward", expect=r"time|future|through|later")
def rnn_backward__no_gradient_through_time(dhs, x, h0, W_ih, W_hh, b):
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


@mutant("ch7.rnn_backward", expect=r"previous|state|shift")
def rnn_backward__wrong_previous_state(dhs, x, h0, W_ih, W_hh, b):
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


@mutant("ch7.rnn_backward", expect=r"dh0|initial")
def rnn_backward__dh0_zero(dhs, x, h0, W_ih, W_hh, b):
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


@mutant("ch7.lstm_step_forward", expect=r"gate|order")
def lstm_step_forward__gate_order_ifog(x, h_prev, c_prev, W_ih, W_hh, b):
    # reads the blocks as i, f, o, g (the order of some textbooks), not PyTorch's i, f, g, o
    a = x @ W_ih.T + h_prev @ W_hh.T + b
    a_i, a_f, a_o, a_g = a.chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
    c = f * c_prev + i * g
    return o * torch.tanh(c), c


@mutant("ch7.lstm_step_forward", expect=r"tanh")
def lstm_step_forward__h_without_tanh(x, h_prev, c_prev, W_ih, W_hh, b):
    a = x @ W_ih.T + h_prev @ W_hh.T + b
    a_i, a_f, a_g, a_o = a.chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
    c = f * c_prev + i * g
    return o * c, c


@mutant("ch7.lstm_step_forward", expect=r"forget|cell")
def lstm_step_forward__forget_gate_on_candidate(x, h_prev, c_prev, W_ih, W_hh, b):
    # c = i * c_prev + f * g: the input and forget gates swapped
    a = x @ W_ih.T + h_prev @ W_hh.T + b
    a_i, a_f, a_g, a_o = a.chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
    c = i * c_prev + f * g
    return o * torch.tanh(c), c


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


@mutant("ch7.lstm_step_backward", expect=r"\bdc\b|cell|path|through h")
def lstm_step_backward__cell_gets_only_dc(dh, dc, x, h_prev, c_prev, W_ih, W_hh, b):
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


@mutant("ch7.lstm_step_backward", expect=r"forget|dc_prev")
def lstm_step_backward__dc_prev_without_forget_gate(dh, dc, x, h_prev, c_prev, W_ih, W_hh, b):
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


@mutant("ch7.lstm_step_backward", expect=r"sigmoid|derivative|gate")
def lstm_step_backward__sigmoid_derivative_missing(dh, dc, x, h_prev, c_prev, W_ih, W_hh, b):
    # passes the gate gradients straight through the sigmoids
    a = x @ W_ih.T + h_prev @ W_hh.T + b
    a_i, a_f, a_g, a_o = a.chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
    c = f * c_prev + i * g
    tanh_c = torch.tanh(c)
    dc_total = dc + dh * o * (1 - tanh_c * tanh_c)
    da = torch.cat([dc_total * g, dc_total * c_prev, dc_total * i * (1 - g * g), dh * tanh_c], dim=1)
    return da @ W_ih, da @ W_hh, dc_total * f, da.T @ x, da.T @ h_prev, da.sum(dim=0)


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


@mutant("ch7.lstm_forward", expect=r"cell|carry|state")
def lstm_forward__cell_state_reset(x, h0, c0, W_ih, W_hh, b):
    # carries h but restarts every step from c0
    h, c = h0, c0
    hs = []
    for t in range(x.shape[1]):
        h, c = lstm_step_forward(x[:, t], h, c0, W_ih, W_hh, b)
        hs.append(h)
    return torch.stack(hs, dim=1), (h, c)


@mutant("ch7.lstm_forward", expect=r"order|swap|h_T|c_T|final")
def lstm_forward__final_state_swapped(x, h0, c0, W_ih, W_hh, b):
    h, c = h0, c0
    hs = []
    for t in range(x.shape[1]):
        h, c = lstm_step_forward(x[:, t], h, c, W_ih, W_hh, b)
        hs.append(h)
    return torch.stack(hs, dim=1), (c, h)


@mutant("ch7.lstm_forward", expect=r"cell|\bhs\b|hidden")
def lstm_forward__returns_cells(x, h0, c0, W_ih, W_hh, b):
    # stacks the cell states instead of the hidden states
    h, c = h0, c0
    cs = []
    for t in range(x.shape[1]):
        h, c = lstm_step_forward(x[:, t], h, c, W_ih, W_hh, b)
        cs.append(c)
    return torch.stack(cs, dim=1), (h, c)


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


@mutant("ch7.gru_step_forward", expect=r"reset|b_hn|bias")
def gru_step_forward__reset_outside_bias(x, h_prev, W_ih, W_hh, b_ih, b_hh):
    # n = tanh(W_in x + b_in + r * (W_hn h) + b_hn): the reset gate misses b_hn
    H = h_prev.shape[1]
    gi = x @ W_ih.T + b_ih
    gh_nobias = h_prev @ W_hh.T
    r = torch.sigmoid(gi[:, :H] + gh_nobias[:, :H] + b_hh[:H])
    z = torch.sigmoid(gi[:, H : 2 * H] + gh_nobias[:, H : 2 * H] + b_hh[H : 2 * H])
    n = torch.tanh(gi[:, 2 * H :] + r * gh_nobias[:, 2 * H :] + b_hh[2 * H :])
    return (1 - z) * n + z * h_prev


@mutant("ch7.gru_step_forward", expect=r"update|interpol|swap|\bz\b")
def gru_step_forward__update_gate_swapped(x, h_prev, W_ih, W_hh, b_ih, b_hh):
    gi_r, gi_z, gi_n = (x @ W_ih.T + b_ih).chunk(3, dim=1)
    gh_r, gh_z, gh_n = (h_prev @ W_hh.T + b_hh).chunk(3, dim=1)
    r = torch.sigmoid(gi_r + gh_r)
    z = torch.sigmoid(gi_z + gh_z)
    n = torch.tanh(gi_n + r * gh_n)
    return z * n + (1 - z) * h_prev


@mutant("ch7.gru_step_forward", expect=r"gate|order")
def gru_step_forward__gate_order_zrn(x, h_prev, W_ih, W_hh, b_ih, b_hh):
    # reads the blocks as z, r, n instead of PyTorch's r, z, n
    gi_z, gi_r, gi_n = (x @ W_ih.T + b_ih).chunk(3, dim=1)
    gh_z, gh_r, gh_n = (h_prev @ W_hh.T + b_hh).chunk(3, dim=1)
    r = torch.sigmoid(gi_r + gh_r)
    z = torch.sigmoid(gi_z + gh_z)
    n = torch.tanh(gi_n + r * gh_n)
    return (1 - z) * n + z * h_prev


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


@mutant("ch7.clip_grad_norm", expect=r"global|total|per-tensor|each")
def clip_grad_norm__per_tensor(grads, max_norm):
    # clips each tensor by its own norm instead of the norm of all of them
    clipped = [g * torch.clamp(max_norm / (g.norm() + 1e-6), max=1.0) for g in grads]
    total = torch.stack([g.norm() for g in grads]).norm()
    return clipped, total


@mutant("ch7.clip_grad_norm", expect=r"scale|up|min|never|below")
def clip_grad_norm__always_rescales(grads, max_norm):
    # forgets min(1, ...): gradients already small are scaled UP to max_norm
    total = torch.sqrt(sum((g * g).sum() for g in grads))
    factor = max_norm / (total + 1e-6)
    return [g * factor for g in grads], total


@mutant("ch7.clip_grad_norm", expect=r"in place|in-place|modif|unchanged")
def clip_grad_norm__in_place(grads, max_norm):
    total = torch.sqrt(sum((g * g).sum() for g in grads))
    factor = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        g.mul_(factor)
    return grads, total


@mutant("ch7.clip_grad_norm", expect=r"square|sum|norm|total")
def clip_grad_norm__sum_of_norms(grads, max_norm):
    # adds the per-tensor norms instead of taking the root of the summed squares
    total = sum(g.norm() for g in grads)
    factor = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    return [g * factor for g in grads], total


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


# ---------------------------------------------------------------- more mistakes and variants


@mutant("ch7.lstm_step_forward", expect=r"c_prev|cell")
def lstm_step_forward__forget_gate_on_h(x, h_prev, c_prev, W_ih, W_hh, b):
    # c = f * h_prev + i * g: the forget gate applied to the hidden state
    a = x @ W_ih.T + h_prev @ W_hh.T + b
    a_i, a_f, a_g, a_o = a.chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
    c = f * h_prev + i * g
    return o * torch.tanh(c), c


@mutant("ch7.lstm_step_backward", expect=r"order")
def lstm_step_backward__gate_blocks_ifog(dh, dc, x, h_prev, c_prev, W_ih, W_hh, b):
    # the gate gradients stacked as i, f, o, g instead of the weights' i, f, g, o
    a_i, a_f, a_g, a_o = (x @ W_ih.T + h_prev @ W_hh.T + b).chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
    tanh_c = torch.tanh(f * c_prev + i * g)
    dc_total = dc + dh * o * (1 - tanh_c * tanh_c)
    di, df = dc_total * g * i * (1 - i), dc_total * c_prev * f * (1 - f)
    dg, do = dc_total * i * (1 - g * g), dh * tanh_c * o * (1 - o)
    da = torch.cat([di, df, do, dg], dim=1)
    return da @ W_ih, da @ W_hh, dc_total * f, da.T @ x, da.T @ h_prev, da.sum(dim=0)


@mutant("ch7.rnn_backward", expect=r"summed|shared|too small|accumulat")
def rnn_backward__weight_grads_overwritten(dhs, x, h0, W_ih, W_hh, b):
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


@mutant("ch7.gru_step_forward", expect=r"reset|product")
def gru_step_forward__reset_before_matmul(x, h_prev, W_ih, W_hh, b_ih, b_hh):
    # the original paper's candidate: W_hn (r * h_prev) instead of r * (W_hn h_prev + b_hn)
    H = h_prev.shape[1]
    gi_r, gi_z, gi_n = (x @ W_ih.T + b_ih).chunk(3, dim=1)
    gh = h_prev @ W_hh.T + b_hh
    r = torch.sigmoid(gi_r + gh[:, :H])
    z = torch.sigmoid(gi_z + gh[:, H : 2 * H])
    n = torch.tanh(gi_n + (r * h_prev) @ W_hh[2 * H :].T + b_hh[2 * H :])
    return (1 - z) * n + z * h_prev


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
