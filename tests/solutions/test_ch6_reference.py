"""The chapter 6 reference (`solutions/ch6_regularisation.py`) against PyTorch
(`F.dropout` and its autograd, `torch.optim.AdamW`, `F.cross_entropy`) and
scikit-learn (`KFold`); the stubs; and the chapter's mutants (each differs from the
reference) and variants (each agrees with it)."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.model_selection import KFold

import solutions.ch6_regularisation as ref
import tests.mutants.ch6_mutants  # noqa: F401  (registers the chapter's cases)
from tests.mutants import CASES, Case

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: dict(rtol=1e-5, atol=1e-6), torch.float64: dict(rtol=1e-10, atol=1e-12)}
REFERENCE_SOURCE = Path(ref.__file__).read_text()


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def draws_behind(kept: torch.Tensor, p: float, g: torch.Generator) -> torch.Tensor:
    """Uniform draws u in [0, 1) with u >= p exactly where `kept` is True."""
    r = torch.rand(kept.shape, generator=g, dtype=torch.float64)
    return torch.where(kept, p + (1 - p) * r, p * r)


# ----------------------------------------------------------------------------- dropout


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 0.9])
def test_dropout_forward_and_backward_match_f_dropout(p, dtype):
    g = gen(0)
    x = torch.randn(6, 7, generator=g, dtype=dtype).requires_grad_()
    torch.manual_seed(1)
    expected = F.dropout(x, p, training=True)
    dout = torch.randn(6, 7, generator=g, dtype=dtype)
    expected.backward(dout)
    u = draws_behind(expected.detach() != 0, p, g).to(dtype)
    with mock.patch.object(F, "dropout", side_effect=AssertionError("banned")), \
            mock.patch.object(torch, "dropout", side_effect=AssertionError("banned")):
        out = ref.dropout_forward(x.detach(), p, u)
        dx = ref.dropout_backward(dout, p, u)
    assert out.dtype == dx.dtype == dtype
    torch.testing.assert_close(out, expected.detach(), **TOL[dtype])
    torch.testing.assert_close(dx, x.grad, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_p_one_gives_zeros_and_eval_is_identity(dtype):
    g = gen(2)
    x = torch.randn(4, 5, generator=g, dtype=dtype)
    u = torch.rand(4, 5, generator=g, dtype=dtype)
    x_before, u_before = x.clone(), u.clone()
    torch.testing.assert_close(ref.dropout_forward(x, 1.0, u), F.dropout(x, 1.0, training=True))
    assert torch.equal(ref.dropout_forward(x, 1.0, u), torch.zeros_like(x))
    assert torch.equal(ref.dropout_backward(x, 1.0, u), torch.zeros_like(x))
    assert torch.equal(ref.dropout_forward(x, 0.4, u, training=False), F.dropout(x, 0.4, training=False))
    assert torch.equal(x, x_before) and torch.equal(u, u_before)


def test_dropout_backward_is_autograd_of_the_forward():
    g = gen(3)
    x = torch.randn(5, 3, generator=g, dtype=torch.float64, requires_grad=True)
    u = torch.rand(5, 3, generator=g, dtype=torch.float64)
    dout = torch.randn(5, 3, generator=g, dtype=torch.float64)
    ref.dropout_forward(x, 0.25, u).backward(dout)
    torch.testing.assert_close(ref.dropout_backward(dout, 0.25, u), x.grad)


# --------------------------------------------------------------------------- adamw_step


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "hyper",
    [dict(lr=1e-2), dict(lr=0.1, weight_decay=0.3), dict(lr=3e-3, beta1=0.5, beta2=0.9, eps=1e-3, weight_decay=0.0)],
)
def test_adamw_step_matches_torch_optim_adamw(hyper, dtype):
    g = gen(4)
    w0 = torch.randn(3, 4, generator=g, dtype=dtype)
    grads = [torch.randn(3, 4, generator=g, dtype=dtype) for _ in range(5)]
    param = torch.nn.Parameter(w0.clone())
    kwargs = dict(hyper)
    betas = (kwargs.pop("beta1", 0.9), kwargs.pop("beta2", 0.999))
    optimizer = torch.optim.AdamW([param], betas=betas, foreach=False, **kwargs)
    ours = dict(hyper)
    w, m, v = w0.clone(), torch.zeros_like(w0), torch.zeros_like(w0)
    for t, grad in enumerate(grads, start=1):
        param.grad = grad.clone()
        optimizer.step()
        grad_before = grad.clone()
        w, m, v = ref.adamw_step(w, grad, m, v, t, **ours)
        assert torch.equal(grad, grad_before)
        state = optimizer.state[param]
        torch.testing.assert_close(w, param.detach(), **TOL[dtype])
        torch.testing.assert_close(m, state["exp_avg"], **TOL[dtype])
        torch.testing.assert_close(v, state["exp_avg_sq"], **TOL[dtype])
    assert w.dtype == m.dtype == v.dtype == dtype


def test_adamw_step_default_weight_decay_is_decoupled():
    w = torch.tensor([1.0], dtype=torch.float64)
    dw = torch.tensor([0.5], dtype=torch.float64)
    zero = torch.zeros(1, dtype=torch.float64)
    new_w, m, v = ref.adamw_step(w, dw, zero, zero, 1, lr=0.1, weight_decay=0.1)
    torch.testing.assert_close(new_w, torch.tensor([0.89], dtype=torch.float64))
    torch.testing.assert_close(m, torch.tensor([0.05], dtype=torch.float64))
    torch.testing.assert_close(v, torch.tensor([0.00025], dtype=torch.float64))


# ---------------------------------------------------------- label_smoothing_cross_entropy


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.5, 1.0])
@pytest.mark.parametrize("scale", [1.0, 1e4])
def test_label_smoothing_cross_entropy_matches_f_cross_entropy(smoothing, scale, dtype):
    g = gen(5)
    logits = scale * torch.randn(8, 5, generator=g, dtype=dtype)
    y = torch.randint(0, 5, (8,), generator=g)
    expected = F.cross_entropy(logits, y, label_smoothing=smoothing)
    with mock.patch.object(F, "cross_entropy", side_effect=AssertionError("banned")), \
            mock.patch.object(F, "nll_loss", side_effect=AssertionError("banned")):
        loss = ref.label_smoothing_cross_entropy(logits, y, smoothing)
    assert loss.shape == () and loss.dtype == dtype and torch.isfinite(loss)
    tol = TOL[dtype] if scale == 1.0 else dict(rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(loss, expected, **tol)


def test_label_smoothing_cross_entropy_worked_example():
    loss = ref.label_smoothing_cross_entropy(torch.zeros(1, 2), torch.tensor([0]), 0.1)
    torch.testing.assert_close(loss, torch.tensor(np.log(2.0), dtype=torch.float32))


# ------------------------------------------------------------------------ early_stopping


@pytest.mark.parametrize(
    "losses, patience, min_delta, expected",
    [
        ([1.0, 0.8, 0.85, 0.9, 0.7], 2, 0.0, (1, 3)),
        ([1.0, 0.8, 0.85, 0.9, 0.7], 3, 0.0, (4, None)),
        ([1.0, 0.9, 0.8, 0.7], 1, 0.0, (3, None)),
        ([1.0, 1.0, 0.5], 1, 0.0, (0, 1)),  # an equal loss does not improve
        ([1.0, 0.95, 0.9, 0.5], 2, 0.1, (0, 2)),  # improvements smaller than min_delta
        ([1.0, 0.85, 0.8, 0.7, 0.69, 0.68], 2, 0.1, (3, 5)),  # best 0.85, then 0.7 < 0.75
        ([2.0], 1, 0.0, (0, None)),
        ([3.0, 2.0, 2.5, 1.0, 1.5, 1.6, 1.7], 3, 0.0, (3, 6)),
    ],
)
def test_early_stopping_worked_cases(losses, patience, min_delta, expected):
    before = list(losses)
    assert ref.early_stopping(losses, patience, min_delta) == expected
    assert losses == before


def test_early_stopping_agrees_with_a_keras_style_simulation():
    # the loop of Keras' EarlyStopping(mode="min", min_delta, patience): wait resets
    # on an improvement of more than min_delta over the best, stops when wait >= patience
    rng = np.random.default_rng(6)
    for _ in range(200):
        losses = list(np.round(rng.random(rng.integers(1, 12)), 1))
        patience, min_delta = int(rng.integers(1, 4)), float(rng.choice([0.0, 0.05, 0.2]))
        best, best_epoch, wait, stop = np.inf, None, 0, None
        for epoch, loss in enumerate(losses):
            if epoch == 0 or loss < best - min_delta:
                best, best_epoch, wait = loss, epoch, 0
            else:
                wait += 1
                if wait >= patience:
                    stop = epoch
                    break
        assert ref.early_stopping(losses, patience, min_delta) == (best_epoch, stop)


# --------------------------------------------------------------------------------- mixup


@pytest.mark.parametrize("dtype", DTYPES)
def test_mixup_matches_numpy(dtype):
    g = gen(7)
    x = torch.randn(6, 2, 3, generator=g, dtype=dtype)
    y = F.one_hot(torch.randint(0, 4, (6,), generator=g), 4).to(dtype)
    perm = torch.randperm(6, generator=g)
    x_mix, y_mix = ref.mixup(x, y, 0.3, perm)
    xn, yn, pn = x.numpy(), y.numpy(), perm.numpy()
    assert x_mix.dtype == y_mix.dtype == dtype
    torch.testing.assert_close(x_mix, torch.tensor(0.3 * xn + 0.7 * xn[pn], dtype=dtype), **TOL[dtype])
    torch.testing.assert_close(y_mix, torch.tensor(0.3 * yn + 0.7 * yn[pn], dtype=dtype), **TOL[dtype])
    torch.testing.assert_close(y_mix.sum(1), torch.ones(6, dtype=dtype), **TOL[dtype])


# ------------------------------------------------------------------------- kfold_indices


def test_kfold_indices_matches_sklearn():
    for n in range(2, 23, 3):
        for k in range(2, n + 1, 2):
            folds = ref.kfold_indices(n, k)
            expected = list(KFold(k, shuffle=False).split(np.arange(n)))
            assert len(folds) == k
            for (train, val), (train_sk, val_sk) in zip(folds, expected):
                assert train.dtype == val.dtype == torch.int64
                assert train.device.type == val.device.type == "cpu"
                assert train.tolist() == train_sk.tolist() and val.tolist() == val_sk.tolist()
    with pytest.raises(ValueError):
        ref.kfold_indices(3, 4)
    with pytest.raises(ValueError):
        ref.kfold_indices(5, 1)


# ------------------------------------------------------------------------------- stubs


# --------------------------------------------------------------- mutants and variants


def build(case: Case):
    """The case as the grader sees it: the reference module with the case appended."""
    namespace = {"__name__": f"ch6_case_{case.slug}"}
    exec(compile(REFERENCE_SOURCE + "\n\n" + case.source(), namespace["__name__"], "exec"), namespace)
    return namespace[case.exercise.split(".", 1)[1]]


def inputs(exercise: str) -> list[tuple]:
    """Inputs on which every mutant of `exercise` differs from the reference."""
    g = gen(8)
    f64 = torch.float64
    if exercise in ("dropout_forward", "dropout_backward"):
        x = torch.randn(5, 4, generator=g, dtype=f64)
        u = torch.rand(5, 4, generator=g, dtype=f64)
        if exercise == "dropout_backward":
            return [(x, 0.3, u), (x, 1.0, u)]
        return [(x, 0.3, u, True), (x, 1.0, u, True), (x, 0.3, u, False)]
    if exercise == "adamw_step":
        w, dw = torch.randn(6, generator=g, dtype=f64), torch.randn(6, generator=g, dtype=f64)
        m, v = 0.1 * torch.randn(6, generator=g, dtype=f64), torch.rand(6, generator=g, dtype=f64)
        tiny = torch.full((6,), 1e-9, dtype=f64)
        zero = torch.zeros(6, dtype=f64)
        return [(w, dw, m, v, 3, 0.1, 0.9, 0.999, 1e-8, 0.2), (w, tiny, zero, zero, 1, 0.1, 0.9, 0.999, 1e-8, 0.2)]
    if exercise == "label_smoothing_cross_entropy":
        logits = torch.randn(6, 4, generator=g, dtype=f64)
        y = torch.randint(0, 4, (6,), generator=g)
        return [(logits, y, 0.2), (1000.0 * logits, y, 0.2)]
    if exercise == "early_stopping":
        return [
            ([1.0, 0.8, 0.85, 0.9, 0.7], 2, 0.0),
            ([1.0, 0.95, 0.9, 0.5], 2, 0.1),
            ([1.0, 1.0, 1.0, 1.0], 2, 0.0),
            ([3.0, 2.0, 1.0, 2.0, 2.0, 0.5], 2, 0.0),
        ]
    if exercise == "mixup":
        x = torch.randn(5, 3, generator=g, dtype=f64)
        y = F.one_hot(torch.tensor([0, 1, 2, 1, 0]), 3).to(f64)
        return [(x, y, 0.7, torch.tensor([2, 0, 4, 1, 3]))]
    if exercise == "kfold_indices":
        return [(10, 3), (7, 2), (6, 3)]
    raise KeyError(exercise)


def same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return (isinstance(b, torch.Tensor) and a.shape == b.shape and a.dtype == b.dtype
                and torch.allclose(a.double(), b.double(), rtol=1e-6, atol=1e-9))
    if isinstance(a, (tuple, list)):
        return isinstance(b, (tuple, list)) and len(a) == len(b) and all(same(x, z) for x, z in zip(a, b))
    return a == b


CH6_CASES = [c for c in CASES if c.exercise.startswith("ch6.")]


@pytest.mark.parametrize("case", CH6_CASES, ids=lambda c: c.slug)
def test_mutant_differs_and_variant_agrees(case):
    name = case.exercise.split(".", 1)[1]
    func, reference = build(case), getattr(ref, name)
    results = []
    for args in inputs(name):
        try:
            results.append(same(func(*args), reference(*args)))
        except Exception:  # a crash is a difference too
            results.append(False)
    if case.correct:
        assert all(results), case.slug
    else:
        assert not all(results), case.slug
