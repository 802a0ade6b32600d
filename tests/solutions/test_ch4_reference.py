"""The chapter 4 reference (`solutions/ch4_backprop.py`) against PyTorch built-ins.

Forward functions are compared with `F.linear`, `F.cross_entropy`, `F.batch_norm` and
`F.layer_norm`; backward functions with autograd through those built-ins; optimiser
steps with `torch.optim.SGD`, `RMSprop` and `Adam` run for several steps. Also checked
here: the stubs in `exercises/` (same contract, every body raises), the chapter data,
its message catalogue, and that each registered mutant really differs from the
reference while each variant agrees with it.
"""

from __future__ import annotations

import inspect
import json
import re
import types
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import solutions.ch4_backprop as ref
import tests.mutants.ch4_mutants  # noqa: F401  (registers the chapter's cases)
from grader.curriculum.ch4 import CHAPTER
from tests.mutants import CASES

DTYPES = [torch.float32, torch.float64]
ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = json.loads((ROOT / "grader" / "locales" / "en" / "ch4.json").read_text(encoding="utf-8"))
CH4_CASES = [c for c in CASES if c.exercise.startswith("ch4.")]


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def randn(*shape: int, dtype: torch.dtype = torch.float64, g: torch.Generator) -> torch.Tensor:
    return torch.randn(*shape, generator=g, dtype=torch.float64).to(dtype)


def autograd_grads(forward, *inputs: torch.Tensor, dout: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Gradients of sum(forward(*inputs) * dout) with respect to every input."""
    leaves = [t.detach().clone().requires_grad_(True) for t in inputs]
    out = forward(*leaves)
    return torch.autograd.grad(out, leaves, grad_outputs=dout)


# --- layers and activations -----------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_forward_matches_F_linear(dtype):
    g = gen(1)
    x, W, b = randn(4, 3, dtype=dtype, g=g), randn(3, 5, dtype=dtype, g=g), randn(5, dtype=dtype, g=g)
    torch.testing.assert_close(ref.linear_forward(x, W, b), F.linear(x, W.T, b))
    x3 = randn(2, 4, 3, dtype=dtype, g=g)
    torch.testing.assert_close(ref.linear_forward(x3, W, b), F.linear(x3, W.T, b))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lead", [(4,), (2, 3)])
def test_linear_backward_matches_autograd(dtype, lead):
    g = gen(2)
    x, W, b = randn(*lead, 3, dtype=dtype, g=g), randn(3, 5, dtype=dtype, g=g), randn(5, dtype=dtype, g=g)
    dout = randn(*lead, 5, dtype=dtype, g=g)
    expected = autograd_grads(lambda x_, W_, b_: F.linear(x_, W_.T, b_), x, W, b, dout=dout)
    got = ref.linear_backward(dout, x, W)
    for e, a in zip(expected, got):
        torch.testing.assert_close(a, e)


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_backward_matches_autograd_including_zero(dtype):
    g = gen(3)
    x = torch.tensor([-2.0, -0.0, 0.0, 1e-30, 3.0], dtype=dtype)
    dout = randn(5, dtype=dtype, g=g)
    (expected,) = autograd_grads(torch.relu, x, dout=dout)
    got = ref.relu_backward(dout, x)
    torch.testing.assert_close(got, expected)
    assert got[1] == 0 and got[2] == 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_backward_matches_autograd_and_tails(dtype):
    g = gen(4)
    x = randn(3, 7, dtype=dtype, g=g) * 4
    dout = randn(3, 7, dtype=dtype, g=g)
    (expected,) = autograd_grads(torch.sigmoid, x, dout=dout)
    torch.testing.assert_close(ref.sigmoid_backward(dout, x), expected)
    # far tails: finite, and the slope exp(-|x|) / (1 + exp(-|x|))^2 to full relative precision
    tails = torch.tensor([-1000.0, -30.0, 30.0, 1000.0], dtype=dtype)
    got = ref.sigmoid_backward(torch.ones_like(tails), tails)
    assert torch.isfinite(got).all()
    e = torch.exp(-tails.abs())
    torch.testing.assert_close(got, e / (1 + e) ** 2, rtol=1e-5, atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_tanh_backward_matches_autograd(dtype):
    g = gen(5)
    x = randn(4, 6, dtype=dtype, g=g) * 3
    dout = randn(4, 6, dtype=dtype, g=g)
    (expected,) = autograd_grads(torch.tanh, x, dout=dout)
    torch.testing.assert_close(ref.tanh_backward(dout, x), expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", [1.0, 1e4])
def test_softmax_cross_entropy_matches_F_cross_entropy(dtype, scale):
    g = gen(6)
    logits = randn(6, 4, dtype=dtype, g=g) * scale
    y = torch.randint(0, 4, (6,), generator=g)
    leaf = logits.clone().requires_grad_(True)
    expected_loss = F.cross_entropy(leaf, y)
    (expected_grad,) = torch.autograd.grad(expected_loss, leaf)
    loss, dlogits = ref.softmax_cross_entropy(logits, y)
    assert loss.shape == () and torch.isfinite(loss) and torch.isfinite(dlogits).all()
    torch.testing.assert_close(loss, expected_loss.detach())
    torch.testing.assert_close(dlogits, expected_grad)


@pytest.mark.parametrize("dtype", DTYPES)
def test_mlp_loss_and_grads_matches_autograd(dtype):
    g = gen(7)
    params = {
        "W1": randn(3, 8, dtype=dtype, g=g),
        "b1": randn(8, dtype=dtype, g=g),
        "W2": randn(8, 4, dtype=dtype, g=g),
        "b2": randn(4, dtype=dtype, g=g),
    }
    X, y = randn(10, 3, dtype=dtype, g=g), torch.randint(0, 4, (10,), generator=g)
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    scores = torch.relu(X @ leaves["W1"] + leaves["b1"]) @ leaves["W2"] + leaves["b2"]
    expected_loss = F.cross_entropy(scores, y)
    expected = dict(zip(leaves, torch.autograd.grad(expected_loss, list(leaves.values()))))
    loss, grads = ref.mlp_loss_and_grads(params, X, y)
    torch.testing.assert_close(loss, expected_loss.detach())
    assert set(grads) == {"W1", "b1", "W2", "b2"}
    for key in grads:
        torch.testing.assert_close(grads[key], expected[key])


def test_numerical_gradient_matches_autograd_and_leaves_x_alone():
    g = gen(8)

    def f(t):
        return (torch.sin(t) * t**2).sum() + t[0, 0] * t[1, 2]

    x = randn(2, 3, g=g)
    before = x.clone()
    leaf = x.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(f(leaf), leaf)
    got = ref.numerical_gradient(f, x)
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(x, before, rtol=0, atol=0)
    # float32 with a larger step, on a non-contiguous input
    x32 = randn(3, 2, dtype=torch.float32, g=g).T
    leaf32 = x32.clone().requires_grad_(True)
    (expected32,) = torch.autograd.grad(f(leaf32), leaf32)
    got32 = ref.numerical_gradient(f, x32, h=1e-2)
    assert got32.dtype == torch.float32 and got32.shape == x32.shape
    torch.testing.assert_close(got32, expected32, rtol=1e-3, atol=1e-3)


# --- optimiser steps against torch.optim ----------------------------------------------


def run_torch_optimizer(make, w0: torch.Tensor, grads: list[torch.Tensor]):
    """Run a torch optimiser on a copy of w0; return the parameter and its state after each step."""
    p = torch.nn.Parameter(w0.clone())
    opt = make([p])
    history = []
    for dw in grads:
        p.grad = dw.clone()
        opt.step()
        history.append((p.detach().clone(), {k: v.clone() for k, v in opt.state[p].items() if torch.is_tensor(v)}))
    return history


@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_step_matches_torch_optim(dtype):
    g = gen(9)
    w, dw = randn(3, 4, dtype=dtype, g=g), randn(3, 4, dtype=dtype, g=g)
    w_before, dw_before = w.clone(), dw.clone()
    [(expected, _)] = run_torch_optimizer(lambda ps: torch.optim.SGD(ps, lr=0.3), w, [dw])
    torch.testing.assert_close(ref.sgd_step(w, dw, 0.3), expected)
    assert torch.equal(w, w_before) and torch.equal(dw, dw_before)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_step_matches_torch_optim(dtype, nesterov):
    g = gen(10)
    w = randn(5, dtype=dtype, g=g)
    grads = [randn(5, dtype=dtype, g=g) for _ in range(4)]
    history = run_torch_optimizer(lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=nesterov), w, grads)
    v = torch.zeros_like(w)
    for dw, (expected_w, state) in zip(grads, history):
        w, v = ref.sgd_momentum_step(w, dw, v, 0.1, 0.9, nesterov=nesterov)
        torch.testing.assert_close(w, expected_w)
        torch.testing.assert_close(v, state["momentum_buffer"])


@pytest.mark.parametrize("dtype", DTYPES)
def test_rmsprop_step_matches_torch_optim(dtype):
    g = gen(11)
    w = randn(5, dtype=dtype, g=g)
    # tiny gradients make the placement of eps visible
    grads = [randn(5, dtype=dtype, g=g) * scale for scale in (1.0, 1e-5, 1.0, 1e-6)]
    history = run_torch_optimizer(lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=1e-8), w, grads)
    s = torch.zeros_like(w)
    for dw, (expected_w, state) in zip(grads, history):
        w, s = ref.rmsprop_step(w, dw, s, 0.01, alpha=0.9, eps=1e-8)
        torch.testing.assert_close(w, expected_w)
        torch.testing.assert_close(s, state["square_avg"])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adam_step_matches_torch_optim(dtype, weight_decay):
    g = gen(12)
    w = randn(5, dtype=dtype, g=g)
    grads = [randn(5, dtype=dtype, g=g) * scale for scale in (1e-7, 1.0, 1e-3, 1.0, 0.5)]
    history = run_torch_optimizer(
        lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=weight_decay), w, grads
    )
    m, v = torch.zeros_like(w), torch.zeros_like(w)
    for t, (dw, (expected_w, state)) in enumerate(zip(grads, history), start=1):
        w, m, v = ref.adam_step(w, dw, m, v, t, 0.01, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=weight_decay)
        torch.testing.assert_close(w, expected_w)
        torch.testing.assert_close(m, state["exp_avg"])
        torch.testing.assert_close(v, state["exp_avg_sq"])


# --- normalisation --------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_forward_matches_F_batch_norm(dtype, training):
    g = gen(13)
    x = randn(8, 3, dtype=dtype, g=g) * 2 + 1
    gamma, beta = randn(3, dtype=dtype, g=g), randn(3, dtype=dtype, g=g)
    rm, rv = randn(3, dtype=dtype, g=g), randn(3, dtype=dtype, g=g).abs() + 0.5
    inputs = [x, gamma, beta, rm, rv]
    before = [t.clone() for t in inputs]
    expected_rm, expected_rv = rm.clone(), rv.clone()  # F.batch_norm updates these in place
    expected = F.batch_norm(x, expected_rm, expected_rv, gamma, beta, training=training, momentum=0.2, eps=1e-3)
    out, new_rm, new_rv = ref.batchnorm_forward(x, gamma, beta, rm, rv, momentum=0.2, eps=1e-3, training=training)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(new_rm, expected_rm)
    torch.testing.assert_close(new_rv, expected_rv)
    for a, b in zip(inputs, before):
        assert torch.equal(a, b), "batchnorm_forward changed an input"


@pytest.mark.parametrize("dtype", DTYPES)
def test_batchnorm_backward_matches_autograd(dtype):
    g = gen(14)
    x = randn(7, 4, dtype=dtype, g=g) * 3 - 1
    gamma, beta = randn(4, dtype=dtype, g=g), randn(4, dtype=dtype, g=g)
    dout = randn(7, 4, dtype=dtype, g=g)
    expected = autograd_grads(
        lambda x_, g_, b_: F.batch_norm(x_, None, None, g_, b_, training=True, eps=1e-3), x, gamma, beta, dout=dout
    )
    got = ref.batchnorm_backward(dout, x, gamma, eps=1e-3)
    for e, a in zip(expected, got):
        torch.testing.assert_close(a, e)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 6), (2, 3, 6)])
def test_layernorm_forward_matches_F_layer_norm(dtype, shape):
    g = gen(15)
    x = randn(*shape, dtype=dtype, g=g) * 2 + 3
    gamma, beta = randn(6, dtype=dtype, g=g), randn(6, dtype=dtype, g=g)
    expected = F.layer_norm(x, (6,), gamma, beta, eps=1e-5)
    torch.testing.assert_close(ref.layernorm_forward(x, gamma, beta), expected)
    # a row of tiny spread: eps matters, and it sits inside the square root
    small = randn(3, 6, dtype=dtype, g=g) * 1e-3
    torch.testing.assert_close(ref.layernorm_forward(small, gamma, beta), F.layer_norm(small, (6,), gamma, beta))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 6), (2, 3, 6)])
def test_layernorm_backward_matches_autograd(dtype, shape):
    g = gen(16)
    x = randn(*shape, dtype=dtype, g=g) * 2 + 3
    gamma, beta = randn(6, dtype=dtype, g=g), randn(6, dtype=dtype, g=g)
    dout = randn(*shape, dtype=dtype, g=g)
    expected = autograd_grads(lambda x_, g_, b_: F.layer_norm(x_, (6,), g_, b_, eps=1e-5), x, gamma, beta, dout=dout)
    got = ref.layernorm_backward(dout, x, gamma)
    for e, a in zip(expected, got):
        torch.testing.assert_close(a, e)


# --- sample inputs shared by the stub and mutant checks -------------------------------


def _sample_inputs() -> dict[str, list]:
    """A few float64 calls per exercise, as factories of (args, kwargs) (fresh tensors each time)."""
    g = gen(99)

    def r(*shape, scale=1.0):
        return randn(*shape, g=g) * scale

    def params():
        return {"W1": r(3, 5), "b1": r(5), "W2": r(5, 4), "b2": r(4)}

    def fixed(*args, **kwargs):
        frozen = (args, kwargs)
        return lambda: _clone(frozen)

    def cube(t):
        return (t**3).sum() + t.reshape(-1)[0] * t.reshape(-1)[-1]

    x_zeros = torch.tensor([-1.0, 0.0, 2.0, 0.0, 3.0, -2.0], dtype=torch.float64)
    y6 = torch.tensor([0, 3, 1, 2, 3, 0])
    return {
        "linear_forward": [fixed(r(4, 3), r(3, 5), r(5))],
        # leading dims: the contract's (..., D)
        "linear_backward": [fixed(r(4, 5), r(4, 3), r(3, 5)), fixed(r(2, 4, 5), r(2, 4, 3), r(3, 5))],
        "relu_backward": [fixed(r(6), x_zeros)],
        "sigmoid_backward": [fixed(r(2, 5), r(2, 5, scale=3))],
        "tanh_backward": [fixed(r(2, 5), r(2, 5, scale=2))],
        "softmax_cross_entropy": [fixed(r(6, 4), y6), fixed(r(6, 4, scale=1000), y6)],
        # scores near 1e3: exp overflows and softmax underflows, yet the loss is finite
        "mlp_loss_and_grads": [fixed(params(), r(6, 3), y6), fixed({k: v * 12 for k, v in params().items()}, r(6, 3, scale=12), y6)],
        "numerical_gradient": [fixed(cube, r(2, 3), h=1e-3)],
        "sgd_step": [fixed(r(4), r(4), 0.1)],
        "sgd_momentum_step": [
            fixed(r(4), r(4), r(4), 0.1, 0.9),
            fixed(r(4), r(4), r(4), 0.1, 0.9, nesterov=True),
        ],
        "rmsprop_step": [
            fixed(r(4), r(4, scale=1e-5), torch.zeros(4, dtype=torch.float64), 0.01),
            fixed(r(4), r(4), r(4).abs(), 0.01, alpha=0.9),
        ],
        "adam_step": [
            fixed(r(4), r(4, scale=1e-8), torch.zeros(4, dtype=torch.float64), torch.zeros(4, dtype=torch.float64), 1, 0.01),
            fixed(r(4), r(4), r(4), r(4).abs(), 3, 0.01, weight_decay=0.1),
        ],
        "batchnorm_forward": [
            fixed(r(6, 3), r(3), r(3), r(3), r(3).abs() + 0.5),
            fixed(r(6, 3), r(3), r(3), r(3), r(3).abs() + 0.5, momentum=0.3, training=False),
        ],
        "batchnorm_backward": [fixed(r(6, 4), r(6, 4, scale=2), r(4))],
        "layernorm_forward": [
            fixed(r(4, 5), r(5), r(5)),
            fixed(r(2, 3, 5, scale=1e-3), r(5), r(5)),
        ],
        "layernorm_backward": [fixed(r(4, 5), r(4, 5), r(5)), fixed(r(2, 3, 5), r(2, 3, 5), r(5))],
    }


def _clone(obj):
    if torch.is_tensor(obj):
        return obj.clone()
    if isinstance(obj, dict):
        return {k: _clone(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_clone(v) for v in obj)
    return obj


SAMPLES = _sample_inputs()


def _close(a, b) -> bool:
    if torch.is_tensor(a) or torch.is_tensor(b):
        if not (torch.is_tensor(a) and torch.is_tensor(b)) or a.shape != b.shape or a.dtype != b.dtype:
            return False
        return bool(torch.allclose(a, b, rtol=1e-7, atol=1e-10, equal_nan=False))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    return a == b


def _agrees(func, name: str) -> bool:
    """True when func returns what the reference returns on every sample and leaves its inputs alone."""
    for make in SAMPLES[name]:
        args, kwargs = make()
        expected = getattr(ref, name)(*_clone(args), **_clone(kwargs))
        pristine = _clone((args, kwargs))
        try:
            got = func(*args, **kwargs)
        except Exception:
            return False
        if not _close(got, expected) or not _close((args, kwargs), pristine):
            return False
    return True


# --- stubs, chapter data, catalogue ---------------------------------------------------


def test_chapter_lists_every_function_of_the_module():
    names = [e.name for e in CHAPTER.exercises]
    public = [n for n, f in inspect.getmembers(ref, inspect.isfunction) if f.__module__ == ref.__name__]
    assert sorted(names) == sorted(public) == sorted(SAMPLES)
    assert CHAPTER.modules == ("ch4_backprop",)
    for e in CHAPTER.exercises:
        assert 2 <= e.points <= 6
        for qualified in e.banned:
            target = torch
            for part in qualified.split(".")[1:]:
                target = getattr(target, part)  # every banned name resolves from torch


# --- mutants and variants -------------------------------------------------------------


def _as_submission(case) -> types.FunctionType:
    """The case's function as the grader sees it: appended to the reference module source."""
    source = Path(ref.__file__).read_text(encoding="utf-8") + "\n\n" + case.source()
    module = types.ModuleType(f"ch4_submission_{case.slug}")
    exec(compile(source, module.__name__, "exec"), module.__dict__)  # noqa: S102
    return getattr(module, case.exercise.split(".", 1)[1])


@pytest.mark.parametrize("case", CH4_CASES, ids=lambda c: c.slug)
def test_mutant_differs_and_variant_agrees(case):
    name = case.exercise.split(".", 1)[1]
    agrees = _agrees(_as_submission(case), name)
    if case.correct:
        assert agrees, f"variant {case.slug} disagrees with the reference"
    else:
        assert not agrees, f"mutant {case.slug} is indistinguishable from the reference on the samples"
        key = f"mistake.{case.exercise}.{case.slug.split('__', 1)[1]}"
        if key in CATALOGUE:
            assert re.search(case.expect, CATALOGUE[key], re.IGNORECASE), f"{key} does not match {case.expect!r}"
