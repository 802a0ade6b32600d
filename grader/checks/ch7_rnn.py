"""Checks for chapter 7: RNN, LSTM and GRU cells, whole sequences, BPTT, gradient clipping.

Expected values come from PyTorch itself, in float64: the cells' own kernels
(`torch.rnn_tanh_cell`, `torch.lstm_cell`, `torch.gru_cell`, what `nn.RNNCell`,
`nn.LSTMCell` and `nn.GRUCell` run), `nn.RNN` / `nn.LSTM(batch_first=True)` called with
the student's weights through `torch.func.functional_call`, autograd through those for
the backward passes, and `torch.nn.utils.clip_grad_norm_`. The contract's single bias b
is PyTorch's bias_ih with bias_hh = 0. Known mistakes are not written here: each is
student code registered in `solutions/mistakes/ch7_rnn.py`, and `expect_close` names the
one a wrong answer matches. One promise of the cells' docstrings is named by the checks:
saturated units come out right, so a NaN or inf on the hidden saturated inputs is an
exp() that overflowed (`saturated`).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import NamedTuple

import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.func import functional_call

from grader import diagnose
from grader.checks import exercise
from grader.compare import CheckFailure, PartialCredit, expect_close, fail
from grader.precision import autograd, truth
from grader.strategies import float_dtypes, sizes, tensors

ZEROS = (0.0, -0.0)

# --- inputs ------------------------------------------------------------------------------------


class Case(NamedTuple):
    """One recurrent problem. x is (N, D) for a cell, (N, T, D) for a sequence; dh (and
    dc) are the upstream gradients of the outputs: (N, H) for a cell, (N, T, H) for hs."""

    x: torch.Tensor
    h0: torch.Tensor
    c0: torch.Tensor
    W_ih: torch.Tensor
    W_hh: torch.Tensor
    b: torch.Tensor
    b_hh: torch.Tensor
    dh: torch.Tensor
    dc: torch.Tensor


@st.composite
def recurrent_case(draw, gates=1, seq=False, max_n=4, max_d=5, min_h=1, max_h=5, min_t=1, max_t=5, bias_scale=0.7, weight_scale=0.7):
    """Random sizes (H != D as often as not), float32 or float64, states with exact
    zeros, weights of a moderate scale. A large `bias_scale` (a float or a strategy)
    saturates the units: the biases are large, not the weights, so no pre-activation
    is a cancellation of large terms that float32 could not resolve."""
    if isinstance(bias_scale, st.SearchStrategy):
        bias_scale = draw(bias_scale)
    dtype = draw(float_dtypes())
    n, d, h = draw(sizes(1, max_n)), draw(sizes(1, max_d)), draw(sizes(min_h, max_h))
    t = draw(sizes(min_t, max_t))
    x_shape = (n, t, d) if seq else (n, d)
    out_shape = (n, t, h) if seq else (n, h)
    ws = weight_scale
    return Case(
        x=draw(tensors(x_shape, dtype, edges=ZEROS)),
        h0=draw(tensors((n, h), dtype, edges=ZEROS)),
        c0=draw(tensors((n, h), dtype, edges=ZEROS)),
        W_ih=draw(tensors((gates * h, d), dtype, scale=ws)),
        W_hh=draw(tensors((gates * h, h), dtype, scale=ws)),
        b=draw(tensors((gates * h,), dtype, scale=bias_scale)),
        b_hh=draw(tensors((gates * h,), dtype, scale=bias_scale)),
        dh=draw(tensors(out_shape, dtype, edges=ZEROS)),
        dc=draw(tensors((n, h), dtype, edges=ZEROS)),
    )


def _zero_bias(b: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(b)


@contextmanager
def saturated():
    """The docstrings' promise for saturated units (biases up to ~300): a NaN or inf where
    the truth is finite is an exp() of a large pre-activation that overflowed, named as
    such (the check is hidden, so the message is all the student sees)."""
    try:
        yield
    except CheckFailure as failure:
        if failure.key != "mistake.nonfinite" or type(failure) not in (CheckFailure, PartialCredit):
            raise
        if isinstance(failure, PartialCredit):
            raise PartialCredit(failure.fraction, "mistake.ch7.saturated", failure.params, failure.reveal) from None
        raise CheckFailure("mistake.ch7.saturated", failure.params, failure.reveal) from None


# --- RNN cell ----------------------------------------------------------------------------------------


def _rnn_cell(x, h, W_ih, W_hh, b):
    """What nn.RNNCell computes (bias_ih = b, bias_hh = 0)."""
    return torch.rnn_tanh_cell(x, h, W_ih, W_hh, b, _zero_bias(b))


def _check_rnn_step_forward(student, ref, case, reveal=True):
    x, h, _, W_ih, W_hh, b, *_ = case
    expect_close(
        student.rnn_step_forward(x, h, W_ih, W_hh, b),
        truth(_rnn_cell, x, h, W_ih, W_hh, b),
        name="h",
        inputs=dict(x=x, h_prev=h, W_ih=W_ih, W_hh=W_hh, b=b) if reveal else None,
    )


@exercise("ch7.rnn_step_forward", points=1)
@given(case=recurrent_case())
def check_rnn_step_forward_matches_rnncell(student, ref, case):
    _check_rnn_step_forward(student, ref, case)


@exercise("ch7.rnn_step_forward", points=1, hidden=True)
@given(case=recurrent_case(max_n=8, max_d=10, max_h=10, bias_scale=st.sampled_from([1.0, 10.0, 300.0])))
def check_rnn_step_forward_saturated_and_larger(student, ref, case):
    with saturated():
        _check_rnn_step_forward(student, ref, case, reveal=False)


def _check_rnn_step_backward(student, ref, case, reveal=True):
    x, h, _, W_ih, W_hh, b, _, dh, _ = case
    expect_close(
        student.rnn_step_backward(dh, x, h, W_ih, W_hh, b),
        autograd(_rnn_cell, x, h, W_ih, W_hh, b, dout=(dh,)),
        name=("dx", "dh_prev", "dW_ih", "dW_hh", "db"),
        inputs=dict(dh=dh, x=x, h_prev=h, W_ih=W_ih, W_hh=W_hh, b=b) if reveal else None,
        batch=x.shape[0],
    )


@exercise("ch7.rnn_step_backward", points=3)
@given(case=recurrent_case())
def check_rnn_step_backward_matches_autograd(student, ref, case):
    _check_rnn_step_backward(student, ref, case)


@exercise("ch7.rnn_step_backward", points=1, hidden=True)
@given(case=recurrent_case(max_n=8, max_d=10, max_h=10, bias_scale=st.sampled_from([1.0, 3.0])))
def check_rnn_step_backward_saturated_and_larger(student, ref, case):
    _check_rnn_step_backward(student, ref, case, reveal=False)


# --- RNN over a sequence -------------------------------------------------------------------------------


def _rnn_layer(x, h0, W_ih, W_hh, b):
    """hs of nn.RNN(D, H, batch_first=True) with the given weights."""
    module = nn.RNN(x.shape[-1], h0.shape[-1], batch_first=True, dtype=x.dtype)
    params = {"weight_ih_l0": W_ih, "weight_hh_l0": W_hh, "bias_ih_l0": b, "bias_hh_l0": _zero_bias(b)}
    hs, _ = functional_call(module, params, (x, h0.unsqueeze(0)))
    return hs


def _check_rnn_forward(student, ref, case, reveal=True):
    x, h0, _, W_ih, W_hh, b, *_ = case
    expect_close(
        student.rnn_forward(x, h0, W_ih, W_hh, b),
        truth(_rnn_layer, x, h0, W_ih, W_hh, b),
        name="hs",
        inputs=dict(x=x, h0=h0, W_ih=W_ih, W_hh=W_hh, b=b) if reveal else None,
    )


@exercise("ch7.rnn_forward", points=2)
@given(case=recurrent_case(seq=True))
def check_rnn_forward_matches_nn_rnn(student, ref, case):
    _check_rnn_forward(student, ref, case)


@exercise("ch7.rnn_forward", points=1, hidden=True)
@given(case=recurrent_case(seq=True, max_n=3, min_t=50, max_t=50, weight_scale=0.35))
def check_rnn_forward_long_sequences(student, ref, case):
    _check_rnn_forward(student, ref, case, reveal=False)


def _check_rnn_backward(student, ref, case, dhs=None, reveal=True):
    x, h0, _, W_ih, W_hh, b, _, dh, _ = case
    dhs = dh if dhs is None else dhs
    expect_close(
        student.rnn_backward(dhs, x, h0, W_ih, W_hh, b),
        autograd(_rnn_layer, x, h0, W_ih, W_hh, b, dout=(dhs,)),
        name=("dx", "dh0", "dW_ih", "dW_hh", "db"),
        inputs=dict(dhs=dhs, x=x, h0=h0, W_ih=W_ih, W_hh=W_hh, b=b) if reveal else None,
    )


@exercise("ch7.rnn_backward", points=4)
@given(case=recurrent_case(seq=True))
def check_rnn_backward_matches_autograd(student, ref, case):
    _check_rnn_backward(student, ref, case)


@exercise("ch7.rnn_backward", points=1)
@given(case=recurrent_case(seq=True, min_t=2))
def check_rnn_backward_loss_on_the_last_state_only(student, ref, case):
    # every gradient comes from h_T: it must flow back through all the steps
    dhs = torch.zeros_like(case.dh)
    dhs[:, -1] = case.dh[:, -1]
    _check_rnn_backward(student, ref, case, dhs=dhs)


@exercise("ch7.rnn_backward", points=1, hidden=True)
@given(case=recurrent_case(seq=True, max_n=3, min_t=50, max_t=50, weight_scale=0.35))
def check_rnn_backward_long_sequences(student, ref, case):
    _check_rnn_backward(student, ref, case, reveal=False)


# --- LSTM cell ------------------------------------------------------------------------------------------


def _lstm_cell(x, h, c, W_ih, W_hh, b):
    """What nn.LSTMCell computes (bias_ih = b, bias_hh = 0): (h, c)."""
    return torch.lstm_cell(x, (h, c), W_ih, W_hh, b, _zero_bias(b))


def _check_lstm_step_forward(student, ref, case, reveal=True):
    x, h, c, W_ih, W_hh, b, *_ = case
    expect_close(
        student.lstm_step_forward(x, h, c, W_ih, W_hh, b),
        truth(_lstm_cell, x, h, c, W_ih, W_hh, b),
        name=("h", "c"),
        inputs=dict(x=x, h_prev=h, c_prev=c, W_ih=W_ih, W_hh=W_hh, b=b) if reveal else None,
    )


@exercise("ch7.lstm_step_forward", points=3)
@given(case=recurrent_case(gates=4))
def check_lstm_step_forward_matches_lstmcell(student, ref, case):
    _check_lstm_step_forward(student, ref, case)


@exercise("ch7.lstm_step_forward", points=1, hidden=True)
@given(case=recurrent_case(gates=4, max_n=8, max_d=10, max_h=10, bias_scale=st.sampled_from([1.0, 10.0, 300.0])))
def check_lstm_step_forward_saturated_and_larger(student, ref, case):
    with saturated():
        _check_lstm_step_forward(student, ref, case, reveal=False)


def _check_lstm_step_backward(student, ref, case, dh=None, dc=None, reveal=True):
    x, h, c, W_ih, W_hh, b, _, dh0, dc0 = case
    dh = dh0 if dh is None else dh
    dc = dc0 if dc is None else dc
    expect_close(
        student.lstm_step_backward(dh, dc, x, h, c, W_ih, W_hh, b),
        autograd(_lstm_cell, x, h, c, W_ih, W_hh, b, dout=(dh, dc)),
        name=("dx", "dh_prev", "dc_prev", "dW_ih", "dW_hh", "db"),
        inputs=dict(dh=dh, dc=dc, x=x, h_prev=h, c_prev=c, W_ih=W_ih, W_hh=W_hh, b=b) if reveal else None,
        batch=x.shape[0],
    )


@exercise("ch7.lstm_step_backward", points=4)
@given(case=recurrent_case(gates=4))
def check_lstm_step_backward_matches_autograd(student, ref, case):
    _check_lstm_step_backward(student, ref, case)


@exercise("ch7.lstm_step_backward", points=1)
@given(case=recurrent_case(gates=4), zero=st.sampled_from(["dh", "dc"]))
def check_lstm_step_backward_one_upstream_path_at_a_time(student, ref, case, zero):
    # only the cell state, or only the hidden state, feeds the loss
    if zero == "dh":
        _check_lstm_step_backward(student, ref, case, dh=torch.zeros_like(case.dh))
    else:
        _check_lstm_step_backward(student, ref, case, dc=torch.zeros_like(case.dc))


@exercise("ch7.lstm_step_backward", points=1, hidden=True)
@given(case=recurrent_case(gates=4, max_n=8, max_d=10, max_h=10, bias_scale=st.sampled_from([1.0, 3.0])))
def check_lstm_step_backward_saturated_and_larger(student, ref, case):
    _check_lstm_step_backward(student, ref, case, reveal=False)


# --- LSTM over a sequence -----------------------------------------------------------------------------


def _lstm_layer(x, h0, c0, W_ih, W_hh, b):
    """(hs, h_T, c_T) of nn.LSTM(D, H, batch_first=True) with the given weights."""
    module = nn.LSTM(x.shape[-1], h0.shape[-1], batch_first=True, dtype=x.dtype)
    params = {"weight_ih_l0": W_ih, "weight_hh_l0": W_hh, "bias_ih_l0": b, "bias_hh_l0": _zero_bias(b)}
    hs, (h_n, c_n) = functional_call(module, params, (x, (h0.unsqueeze(0), c0.unsqueeze(0))))
    return hs, h_n[0], c_n[0]


def _check_lstm_forward(student, ref, case, reveal=True):
    x, h0, c0, W_ih, W_hh, b, *_ = case
    hs, h_T, c_T = truth(_lstm_layer, x, h0, c0, W_ih, W_hh, b)
    expect_close(
        student.lstm_forward(x, h0, c0, W_ih, W_hh, b),
        (hs, (h_T, c_T)),
        name=("hs", "(h_T, c_T)"),
        inputs=dict(x=x, h0=h0, c0=c0, W_ih=W_ih, W_hh=W_hh, b=b) if reveal else None,
    )


@exercise("ch7.lstm_forward", points=2)
@given(case=recurrent_case(gates=4, seq=True))
def check_lstm_forward_matches_nn_lstm(student, ref, case):
    _check_lstm_forward(student, ref, case)


@exercise("ch7.lstm_forward", points=1, hidden=True)
@given(case=recurrent_case(gates=4, seq=True, max_n=3, min_t=50, max_t=50, weight_scale=0.35))
def check_lstm_forward_long_sequences(student, ref, case):
    _check_lstm_forward(student, ref, case, reveal=False)


# --- GRU cell --------------------------------------------------------------------------------------------


def _check_gru_step_forward(student, ref, case, reveal=True):
    x, h, _, W_ih, W_hh, b_ih, b_hh, *_ = case
    expect_close(
        student.gru_step_forward(x, h, W_ih, W_hh, b_ih, b_hh),
        truth(torch.gru_cell, x, h, W_ih, W_hh, b_ih, b_hh),
        name="h",
        inputs=dict(x=x, h_prev=h, W_ih=W_ih, W_hh=W_hh, b_ih=b_ih, b_hh=b_hh) if reveal else None,
    )


@exercise("ch7.gru_step_forward", points=3)
@given(case=recurrent_case(gates=3, min_h=2))  # H = 1 cannot tell where the reset gate goes
def check_gru_step_forward_matches_grucell(student, ref, case):
    _check_gru_step_forward(student, ref, case)


@exercise("ch7.gru_step_forward", points=1, hidden=True)
@given(case=recurrent_case(gates=3, max_n=8, max_d=10, max_h=10, bias_scale=st.sampled_from([1.0, 10.0, 300.0])))
def check_gru_step_forward_saturated_and_larger(student, ref, case):
    with saturated():
        _check_gru_step_forward(student, ref, case, reveal=False)


# --- gradient clipping ---------------------------------------------------------------------------------


class ClipCase(NamedTuple):
    grads: list[torch.Tensor]
    max_norm: float


@st.composite
def clip_case(draw, max_tensors=4, scale=1.0, zeros=False):
    """Gradients of several shapes (0-d included) and a max_norm clearly below or above
    their total norm (never within rounding of it, where the contract's factor is ~1
    either way)."""
    if isinstance(scale, st.SearchStrategy):
        scale = draw(scale)
    dtype = draw(float_dtypes())
    shapes = draw(st.lists(st.sampled_from([(), (3,), (2, 3), (4, 1), (2, 2, 2)]), min_size=1, max_size=max_tensors))
    grads = [draw(tensors(shape, dtype, scale=scale, edges=ZEROS)) * (0 if zeros else 1) for shape in shapes]
    total = float(torch.sqrt(sum((g.double() ** 2).sum() for g in grads)))
    ratio = draw(st.sampled_from([0.01, 0.3, 0.8, 1.25, 3.0]))
    max_norm = ratio * total if total > 0 else draw(st.sampled_from([0.5, 1.0]))
    return ClipCase(grads, max_norm)


def _clip(grads, max_norm):
    """torch.nn.utils.clip_grad_norm_ on parameters whose .grad are copies of `grads`."""
    params = [nn.Parameter(torch.zeros_like(g)) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    total = torch.nn.utils.clip_grad_norm_(params, max_norm)
    return [p.grad.detach() for p in params], total.detach()


def _check_clip_grad_norm(student, ref, case, reveal=True):
    grads, max_norm = case
    inputs = dict(grads=grads, max_norm=max_norm) if reveal else None
    got = student.clip_grad_norm(grads, max_norm)
    # a total that is no tensor at all (a float, a numpy scalar...) is one mistake whatever
    # the code behind it: named here, with its type, rather than by a registered mistake
    if isinstance(got, (tuple, list)) and len(got) == 2 and not isinstance(got[1], torch.Tensor):
        fail("mistake.ch7.clip_grad_norm.total_type", {"inputs": diagnose.show(inputs)} if inputs else None, got=diagnose.type_name(got[1]))
    expect_close(got, truth(_clip, grads, max_norm), name=("clipped", "total"), inputs=inputs)


@exercise("ch7.clip_grad_norm", points=2)
@given(case=clip_case())
def check_clip_grad_norm_matches_pytorch(student, ref, case):
    _check_clip_grad_norm(student, ref, case)


@exercise("ch7.clip_grad_norm", points=1, hidden=True)
@given(case=clip_case(max_tensors=8, scale=st.sampled_from([1e-3, 1.0, 1e3])), zeros=st.booleans())
def check_clip_grad_norm_tiny_huge_and_zero_gradients(student, ref, case, zeros):
    if zeros:  # total 0: the factor is min(1, max_norm / 1e-6) = 1, nothing changes
        case = ClipCase([torch.zeros_like(g) for g in case.grads], case.max_norm)
    _check_clip_grad_norm(student, ref, case, reveal=False)
