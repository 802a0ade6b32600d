"""The chapter 7 reference (`solutions/ch7_rnn.py`) against PyTorch's own modules.

Forward passes are compared with `nn.RNNCell`, `nn.RNN`, `nn.LSTMCell`, `nn.LSTM` and
`nn.GRUCell` loaded with the same weights (PyTorch's two biases: bias_ih = b and
bias_hh = 0), backward passes with autograd through those modules, and gradient
clipping with `torch.nn.utils.clip_grad_norm_`. The stubs must raise
NotImplementedError, every mutant in `tests/mutants/ch7_mutants.py` must differ from
the reference on some input and every variant must agree with it.
"""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

import solutions.ch7_rnn as ref
import tests.mutants.ch7_mutants  # noqa: F401  (registers the chapter's cases)
from tests.mutants import CASES, Case

DTYPES = [torch.float32, torch.float64]
N, T, D, H = 3, 5, 4, 6


def _randn(
    *shape: int, dtype: torch.dtype = torch.float64, seed: int = 0, scale: float = 1.0
) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype) * scale


def _tol(dtype: torch.dtype) -> dict[str, float]:
    return {"rtol": 2e-5, "atol": 2e-5} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-10}


def _weights(gates: int, dtype: torch.dtype, seed: int = 0, d: int = D, h: int = H):
    """W_ih (G H, D), W_hh (G H, H), b (G H,), scaled so the gates are not saturated."""
    return (
        _randn(gates * h, d, dtype=dtype, seed=seed, scale=0.5),
        _randn(gates * h, h, dtype=dtype, seed=seed + 1, scale=0.5),
        _randn(gates * h, dtype=dtype, seed=seed + 2, scale=0.5),
    )


def _load(module: nn.Module, W_ih, W_hh, b_ih, b_hh=None, suffix: str = "") -> nn.Module:
    with torch.no_grad():
        getattr(module, "weight_ih" + suffix).copy_(W_ih)
        getattr(module, "weight_hh" + suffix).copy_(W_hh)
        getattr(module, "bias_ih" + suffix).copy_(b_ih)
        getattr(module, "bias_hh" + suffix).copy_(torch.zeros_like(b_ih) if b_hh is None else b_hh)
    return module


# ---------------------------------------------------------------- vanilla RNN


@pytest.mark.parametrize("dtype", DTYPES)
def test_rnn_step_forward_matches_rnncell(dtype):
    W_ih, W_hh, b = _weights(1, dtype)
    x, h_prev = _randn(N, D, dtype=dtype, seed=10), _randn(N, H, dtype=dtype, seed=11)
    cell = _load(nn.RNNCell(D, H).to(dtype), W_ih, W_hh, b)
    with torch.no_grad():
        want = cell(x, h_prev)
    got = ref.rnn_step_forward(x, h_prev, W_ih, W_hh, b)
    assert got.dtype == dtype
    torch.testing.assert_close(got, want, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_rnn_step_backward_matches_autograd(dtype):
    W_ih, W_hh, b = _weights(1, dtype, seed=3)
    x, h_prev = _randn(N, D, dtype=dtype, seed=12), _randn(N, H, dtype=dtype, seed=13)
    dh = _randn(N, H, dtype=dtype, seed=14)
    cell = _load(nn.RNNCell(D, H).to(dtype), W_ih, W_hh, b)
    xg, hg = x.clone().requires_grad_(), h_prev.clone().requires_grad_()
    (cell(xg, hg) * dh).sum().backward()
    got = ref.rnn_step_backward(dh, x, h_prev, W_ih, W_hh, b)
    want = (xg.grad, hg.grad, cell.weight_ih.grad, cell.weight_hh.grad, cell.bias_ih.grad)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == dtype
        torch.testing.assert_close(g, w, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_rnn_forward_matches_nn_rnn(dtype):
    W_ih, W_hh, b = _weights(1, dtype, seed=20)
    x, h0 = _randn(N, T, D, dtype=dtype, seed=21), _randn(N, H, dtype=dtype, seed=22)
    rnn = _load(nn.RNN(D, H, batch_first=True).to(dtype), W_ih, W_hh, b, suffix="_l0")
    with torch.no_grad():
        want, h_last = rnn(x, h0[None])
    got = ref.rnn_forward(x, h0, W_ih, W_hh, b)
    torch.testing.assert_close(got, want, **_tol(dtype))
    torch.testing.assert_close(got[:, -1], h_last[0], **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_rnn_backward_matches_autograd(dtype):
    W_ih, W_hh, b = _weights(1, dtype, seed=30)
    x, h0 = _randn(N, T, D, dtype=dtype, seed=31), _randn(N, H, dtype=dtype, seed=32)
    dhs = _randn(N, T, H, dtype=dtype, seed=33)
    rnn = _load(nn.RNN(D, H, batch_first=True).to(dtype), W_ih, W_hh, b, suffix="_l0")
    xg, hg = x.clone().requires_grad_(), h0.clone().requires_grad_()
    (rnn(xg, hg[None])[0] * dhs).sum().backward()
    got = ref.rnn_backward(dhs, x, h0, W_ih, W_hh, b)
    want = (xg.grad, hg.grad, rnn.weight_ih_l0.grad, rnn.weight_hh_l0.grad, rnn.bias_ih_l0.grad)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == dtype
        torch.testing.assert_close(g, w, **_tol(dtype))


def test_empty_sequence():
    W_ih, W_hh, b = _weights(4, torch.float64)
    x, h0, c0 = _randn(N, 0, D), _randn(N, H, seed=1), _randn(N, H, seed=2)
    assert ref.rnn_forward(x, h0, W_ih[:H], W_hh[:H, :], b[:H]).shape == (N, 0, H)
    hs, (h, c) = ref.lstm_forward(x, h0, c0, W_ih, W_hh, b)
    assert hs.shape == (N, 0, H) and torch.equal(h, h0) and torch.equal(c, c0)


# ---------------------------------------------------------------- LSTM and GRU


@pytest.mark.parametrize("dtype", DTYPES)
def test_lstm_step_forward_matches_lstmcell(dtype):
    W_ih, W_hh, b = _weights(4, dtype, seed=40)
    x, h_prev, c_prev = (_randn(N, s, dtype=dtype, seed=41 + k) for k, s in enumerate((D, H, H)))
    cell = _load(nn.LSTMCell(D, H).to(dtype), W_ih, W_hh, b)
    with torch.no_grad():
        want_h, want_c = cell(x, (h_prev, c_prev))
    h, c = ref.lstm_step_forward(x, h_prev, c_prev, W_ih, W_hh, b)
    torch.testing.assert_close(h, want_h, **_tol(dtype))
    torch.testing.assert_close(c, want_c, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_lstm_step_backward_matches_autograd(dtype):
    W_ih, W_hh, b = _weights(4, dtype, seed=50)
    x, h_prev, c_prev = (_randn(N, s, dtype=dtype, seed=51 + k) for k, s in enumerate((D, H, H)))
    dh, dc = _randn(N, H, dtype=dtype, seed=54), _randn(N, H, dtype=dtype, seed=55)
    cell = _load(nn.LSTMCell(D, H).to(dtype), W_ih, W_hh, b)
    xg, hg, cg = (t.clone().requires_grad_() for t in (x, h_prev, c_prev))
    h, c = cell(xg, (hg, cg))
    ((h * dh).sum() + (c * dc).sum()).backward()
    got = ref.lstm_step_backward(dh, dc, x, h_prev, c_prev, W_ih, W_hh, b)
    want = (xg.grad, hg.grad, cg.grad, cell.weight_ih.grad, cell.weight_hh.grad, cell.bias_ih.grad)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == dtype
        torch.testing.assert_close(g, w, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_lstm_forward_matches_nn_lstm(dtype):
    W_ih, W_hh, b = _weights(4, dtype, seed=60)
    x = _randn(N, T, D, dtype=dtype, seed=61)
    h0, c0 = _randn(N, H, dtype=dtype, seed=62), _randn(N, H, dtype=dtype, seed=63)
    lstm = _load(nn.LSTM(D, H, batch_first=True).to(dtype), W_ih, W_hh, b, suffix="_l0")
    with torch.no_grad():
        want, (h_T, c_T) = lstm(x, (h0[None], c0[None]))
    hs, (h, c) = ref.lstm_forward(x, h0, c0, W_ih, W_hh, b)
    torch.testing.assert_close(hs, want, **_tol(dtype))
    torch.testing.assert_close(h, h_T[0], **_tol(dtype))
    torch.testing.assert_close(c, c_T[0], **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_gru_step_forward_matches_grucell(dtype):
    W_ih, W_hh, b_ih = _weights(3, dtype, seed=70)
    b_hh = _randn(3 * H, dtype=dtype, seed=73)
    x, h_prev = _randn(N, D, dtype=dtype, seed=74), _randn(N, H, dtype=dtype, seed=75)
    cell = _load(nn.GRUCell(D, H).to(dtype), W_ih, W_hh, b_ih, b_hh)
    with torch.no_grad():
        want = cell(x, h_prev)
    torch.testing.assert_close(ref.gru_step_forward(x, h_prev, W_ih, W_hh, b_ih, b_hh), want, **_tol(dtype))


def test_saturated_gates_stay_finite():
    W_ih, W_hh, b = (t * 200 for t in _weights(4, torch.float32, seed=80))
    x, h, c = (_randn(N, s, dtype=torch.float32, seed=81 + k) for k, s in enumerate((D, H, H)))
    outs = [
        *ref.lstm_step_forward(x, h, c, W_ih, W_hh, b),
        *ref.lstm_step_backward(h, c, x, h, c, W_ih, W_hh, b),
    ]
    outs.append(ref.gru_step_forward(x, h, W_ih[: 3 * H], W_hh[: 3 * H], b[: 3 * H], b[: 3 * H]))
    outs.append(ref.rnn_step_forward(x, h, W_ih[:H], W_hh[:H], b[:H]))
    assert all(torch.isfinite(o).all() for o in outs)


# ---------------------------------------------------------------- gradient clipping


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("max_norm", [0.5, 3.0, 100.0])
def test_clip_grad_norm_matches_torch(dtype, max_norm):
    grads = [_randn(3, 4, dtype=dtype, seed=90), _randn(5, dtype=dtype, seed=91)]
    grads.append(_randn(dtype=dtype, seed=92))  # a 0-d gradient
    params = [nn.Parameter(torch.zeros_like(g)) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    want_total = torch.nn.utils.clip_grad_norm_(params, max_norm)
    saved = [g.clone() for g in grads]
    clipped, total = ref.clip_grad_norm(grads, max_norm)
    assert total.dim() == 0 and total.dtype == dtype
    torch.testing.assert_close(total, want_total, **_tol(dtype))
    for c, p, g, s in zip(clipped, params, grads, saved):
        assert c.shape == g.shape and c.dtype == dtype
        torch.testing.assert_close(c, p.grad, **_tol(dtype))
        assert torch.equal(g, s)


# ---------------------------------------------------------------- conventions


def _all_calls(dtype: torch.dtype):
    """(name, args) for every exercise, small float inputs of `dtype`."""
    W1, U1, b1 = _weights(1, dtype)
    W4, U4, b4 = _weights(4, dtype)
    W3, U3, b3 = _weights(3, dtype)
    x, xs = _randn(N, D, dtype=dtype, seed=1), _randn(N, T, D, dtype=dtype, seed=2)
    h, c = _randn(N, H, dtype=dtype, seed=3), _randn(N, H, dtype=dtype, seed=4)
    dhs = _randn(N, T, H, dtype=dtype, seed=5)
    return [
        ("rnn_step_forward", (x, h, W1, U1, b1)),
        ("rnn_step_backward", (h, x, c, W1, U1, b1)),
        ("rnn_forward", (xs, h, W1, U1, b1)),
        ("rnn_backward", (dhs, xs, h, W1, U1, b1)),
        ("lstm_step_forward", (x, h, c, W4, U4, b4)),
        ("lstm_step_backward", (h, c, x, h, c, W4, U4, b4)),
        ("lstm_forward", (xs, h, c, W4, U4, b4)),
        ("gru_step_forward", (x, h, W3, U3, b3, b3 * 0.5)),
        ("clip_grad_norm", ([W1, U1, b1], 1.0)),
    ]


def _tensors(value):
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _tensors(v)]
    return []


@pytest.mark.parametrize("dtype", DTYPES)
def test_inputs_unchanged_and_dtype_kept(dtype):
    for name, args in _all_calls(dtype):
        saved = [t.clone() for t in _tensors(args)]
        out = getattr(ref, name)(*args)
        assert all(torch.equal(a, s) for a, s in zip(_tensors(args), saved)), name
        assert all(o.dtype == dtype and o.device == saved[0].device for o in _tensors(out)), name


# ---------------------------------------------------------------- the stubs


# ---------------------------------------------------------------- mutants and variants


def _as_student(case: Case):
    """The case's function inside a copy of the reference module, under the exercise's name."""
    source = inspect.getsource(ref) + "\n\n" + case.source()
    namespace: dict = {"__name__": f"ch7_rnn__{case.slug}"}
    exec(compile(source, f"<{case.slug}>", "exec"), namespace)
    return namespace[case.exercise.split(".", 1)[1]]


SATURATING = {"rnn_step_forward": 1, "lstm_step_forward": 4, "gru_step_forward": 3}  # the gate count G


def _inputs(name: str) -> list[tuple]:
    """Two input sets: square weights (D = H, so transposes do not fail) and not; a third
    with saturated units for the cells whose docstrings promise them."""
    sets = []
    for k, d in enumerate((H, D)):
        W1, U1, b1 = _weights(1, torch.float64, seed=100 + k, d=d)
        W4, U4, b4 = _weights(4, torch.float64, seed=110 + k, d=d)
        W3, U3, b3 = _weights(3, torch.float64, seed=120 + k, d=d)
        x, xs = _randn(N, d, seed=130 + k), _randn(N, T, d, seed=140 + k)
        h, c = _randn(N, H, seed=150 + k), _randn(N, H, seed=160 + k)
        dh, dc, dhs = _randn(N, H, seed=170 + k), _randn(N, H, seed=180 + k), _randn(N, T, H, seed=190 + k)
        calls = {
            "rnn_step_forward": (x, h, W1, U1, b1),
            "rnn_step_backward": (dh, x, h, W1, U1, b1),
            "rnn_forward": (xs, h, W1, U1, b1),
            "rnn_backward": (dhs, xs, h, W1, U1, b1),
            "lstm_step_forward": (x, h, c, W4, U4, b4),
            "lstm_step_backward": (dh, dc, x, h, c, W4, U4, b4),
            "lstm_forward": (xs, h, c, W4, U4, b4),
            "gru_step_forward": (x, h, W3, U3, b3, _randn(3 * H, seed=200 + k)),
        }
        if name in calls:
            sets.append(calls[name])
    if name in SATURATING:
        # the docstrings' promise: saturated units (biases ~1000 overflow exp() of a
        # pre-activation even in float64) come out right
        W, U, b = _weights(SATURATING[name], torch.float64, seed=220)
        x, h, c = _randn(N, D, seed=223), _randn(N, H, seed=224), _randn(N, H, seed=225)
        b, b_hh = b * 2000, _randn(SATURATING[name] * H, seed=226, scale=1000.0)
        sets.append({"rnn_step_forward": (x, h, W, U, b), "lstm_step_forward": (x, h, c, W, U, b), "gru_step_forward": (x, h, W, U, b, b_hh)}[name])
    if name == "clip_grad_norm":
        grads = [_randn(3, 4, seed=210), _randn(5, seed=211)]
        sets += [(grads, 1.0), (grads, 100.0), ([g * 1e-3 for g in grads], 1.0)]
    return sets


def _same(a, b) -> bool:
    if isinstance(a, (tuple, list)):
        return isinstance(b, (tuple, list)) and len(a) == len(b) and all(_same(u, v) for u, v in zip(a, b))
    return (
        isinstance(b, torch.Tensor)
        and a.shape == b.shape
        and a.dtype == b.dtype
        and torch.allclose(a, b, rtol=1e-7, atol=1e-9)
    )


def _differs(func, reference, inputs: list[tuple]) -> bool:
    for args in inputs:
        kept = [
            [t.clone() for t in a] if isinstance(a, list) else a.clone() if isinstance(a, torch.Tensor) else a
            for a in args
        ]
        try:
            got = func(*args)
        except Exception:
            return True
        if not all(torch.equal(u, v) for u, v in zip(_tensors(args), _tensors(kept))):
            return True  # an input was modified in place
        if not _same(got, reference(*kept)):
            return True
    return False


CH7_CASES = [c for c in CASES if c.exercise.startswith("ch7.")]


@pytest.mark.parametrize("case", CH7_CASES, ids=lambda c: c.slug)
def test_mutant_differs_and_variant_agrees(case):
    name = case.exercise.split(".", 1)[1]
    differs = _differs(_as_student(case), getattr(ref, name), _inputs(name))
    assert differs != case.correct
