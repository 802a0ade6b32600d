"""The chapter 2 reference (`solutions/ch2_linear_models.py`) against PyTorch (functional
losses, autograd, torch.optim) and scikit-learn, the stubs in `exercises/`, and a sanity
check of the chapter's mutants and variants (each mutant differs from the reference
somewhere, each variant agrees)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from sklearn.linear_model import LinearRegression, Ridge

import solutions.ch2_linear_models as ref
import tests.mutants.ch2_mutants  # noqa: F401  (registers the chapter's cases)
from tests.mutants import CASES

ROOT = Path(__file__).resolve().parents[2]
DTYPES = [torch.float32, torch.float64]


def tol(dtype: torch.dtype) -> dict:
    return {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-12}


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def regression_data(dtype: torch.dtype, n: int = 40, d: int = 3, seed: int = 0):
    g = gen(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64) + torch.linspace(-1.0, 2.0, d, dtype=torch.float64)
    w = torch.randn(d, generator=g, dtype=torch.float64)
    y = X @ w + 1.5 + 0.1 * torch.randn(n, generator=g, dtype=torch.float64)
    return X.to(dtype), y.to(dtype)


# ---------------------------------------------------------------- linear_regression_fit


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("l2", [0.0, 0.5, 20.0])
def test_linear_regression_fit_matches_sklearn(dtype, l2):
    X, y = regression_data(dtype)
    before = (X.clone(), y.clone())
    w, b = ref.linear_regression_fit(X, y, l2)
    model = LinearRegression() if l2 == 0.0 else Ridge(alpha=l2, solver="cholesky")
    model.fit(X.double().numpy(), y.double().numpy())
    t = {"rtol": 1e-4, "atol": 1e-4} if dtype == torch.float32 else {"rtol": 1e-9, "atol": 1e-10}
    torch.testing.assert_close(w, torch.from_numpy(model.coef_).to(dtype), **t)
    torch.testing.assert_close(b, torch.tensor(model.intercept_, dtype=dtype), **t)
    assert w.shape == (3,) and b.shape == () and w.dtype == b.dtype == dtype
    assert torch.equal(X, before[0]) and torch.equal(y, before[1])


# ---------------------------------------------------------------- mse_loss


@pytest.mark.parametrize("dtype", DTYPES)
def test_mse_loss_matches_torch(dtype):
    pred = torch.randn(7, 3, generator=gen(1), dtype=dtype)
    target = torch.randn(7, 3, generator=gen(2), dtype=dtype)
    out = ref.mse_loss(pred, target)
    torch.testing.assert_close(out, F.mse_loss(pred, target), **tol(dtype))
    assert out.shape == () and out.dtype == dtype


# ---------------------------------------------------------------- linear_regression_gd


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_regression_gd_matches_torch_optim_sgd(dtype):
    X, y = regression_data(dtype, seed=3)
    lr, steps = 0.05, 25
    before = (X.clone(), y.clone())
    w, b = ref.linear_regression_gd(X, y, lr, steps)
    # the same descent with autograd and torch.optim.SGD on a zero-initialised nn.Linear
    layer = torch.nn.Linear(3, 1, dtype=dtype)
    torch.nn.init.zeros_(layer.weight)
    torch.nn.init.zeros_(layer.bias)
    opt = torch.optim.SGD(layer.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        F.mse_loss(layer(X)[:, 0], y).backward()
        opt.step()
    t = {"rtol": 1e-4, "atol": 1e-5} if dtype == torch.float32 else tol(dtype)
    torch.testing.assert_close(w, layer.weight.detach()[0], **t)
    torch.testing.assert_close(b, layer.bias.detach()[0], **t)
    assert w.shape == (3,) and b.shape == () and w.dtype == b.dtype == dtype
    assert torch.equal(X, before[0]) and torch.equal(y, before[1])


def test_linear_regression_gd_converges_to_least_squares():
    X, y = regression_data(torch.float64, seed=4)
    w, b = ref.linear_regression_gd(X, y, lr=0.1, steps=2000)
    ols = LinearRegression().fit(X.numpy(), y.numpy())
    torch.testing.assert_close(w, torch.from_numpy(ols.coef_), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(b, torch.tensor(ols.intercept_, dtype=torch.float64), rtol=1e-6, atol=1e-6)
    w0, b0 = ref.linear_regression_gd(X, y, lr=0.1, steps=0)
    assert torch.equal(w0, torch.zeros(3, dtype=torch.float64)) and b0.item() == 0.0


# ---------------------------------------------------------------- sigmoid


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_matches_torch_including_tails(dtype):
    x = torch.cat([
        torch.linspace(-30.0, 30.0, 121, dtype=dtype),
        torch.tensor([-1000.0, -700.0, -100.0, -87.0, -40.0, 40.0, 100.0, 1000.0], dtype=dtype),
    ])
    before = x.clone()
    out = ref.sigmoid(x)
    assert torch.isfinite(out).all() and out.dtype == dtype and torch.equal(x, before)
    # relative accuracy everywhere, also where the value is tiny (no absolute slack); the
    # float32 expectation is computed in float64, because torch.sigmoid in float32 flushes
    # the subnormal tail (x < about -87) to 0 where the true value is still representable
    expected = torch.sigmoid(x.double()).to(dtype)
    torch.testing.assert_close(out, expected, rtol=4 * torch.finfo(dtype).eps, atol=0.0)
    assert out[x == -100.0].item() > 0.0


# ---------------------------------------------------------------- bce_with_logits


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_with_logits_matches_torch_soft_targets_and_large_logits(dtype):
    logits = torch.cat([
        torch.randn(20, generator=gen(5), dtype=dtype) * 4,
        torch.tensor([1000.0, -1000.0, 50.0, -50.0, 0.0], dtype=dtype),
    ])
    targets = torch.cat([
        torch.rand(20, generator=gen(6), dtype=dtype),
        torch.tensor([0.0, 1.0, 0.3, 1.0, 0.5], dtype=dtype),
    ])
    before = (logits.clone(), targets.clone())
    out = ref.bce_with_logits(logits, targets)
    torch.testing.assert_close(out, F.binary_cross_entropy_with_logits(logits, targets), **tol(dtype))
    assert out.shape == () and out.dtype == dtype
    assert torch.equal(logits, before[0]) and torch.equal(targets, before[1])
    # any shape: (N, 1) logits
    torch.testing.assert_close(
        ref.bce_with_logits(logits[:, None], targets[:, None]),
        F.binary_cross_entropy_with_logits(logits[:, None], targets[:, None]),
        **tol(dtype),
    )


# ---------------------------------------------------------------- logistic_regression_grad


@pytest.mark.parametrize("dtype", DTYPES)
def test_logistic_regression_grad_matches_autograd(dtype):
    g = gen(7)
    X = torch.randn(12, 4, generator=g, dtype=dtype)
    y = torch.randint(0, 2, (12,), generator=g).to(dtype)
    w = torch.randn(4, generator=g, dtype=dtype)
    b = torch.tensor(0.7, dtype=dtype)
    before = [t.clone() for t in (X, y, w, b)]
    loss, dw, db = ref.logistic_regression_grad(X, y, w, b)
    wa, ba = w.clone().requires_grad_(), b.clone().requires_grad_()
    expected = F.binary_cross_entropy_with_logits(X @ wa + ba, y)
    expected.backward()
    torch.testing.assert_close(loss, expected.detach(), **tol(dtype))
    torch.testing.assert_close(dw, wa.grad, **tol(dtype))
    torch.testing.assert_close(db, ba.grad, **tol(dtype))
    assert dw.shape == (4,) and db.shape == () and loss.shape == ()
    assert all(torch.equal(a, c) for a, c in zip((X, y, w, b), before))


# ---------------------------------------------------------------- softmax_regression_grad


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", [1.0, 500.0])
def test_softmax_regression_grad_matches_autograd(dtype, scale):
    g = gen(8)
    X = torch.randn(10, 4, generator=g, dtype=dtype)
    y = torch.randint(0, 3, (10,), generator=g)
    W = torch.randn(4, 3, generator=g, dtype=dtype) * scale
    b = torch.randn(3, generator=g, dtype=dtype)
    before = [t.clone() for t in (X, y, W, b)]
    loss, dW, db = ref.softmax_regression_grad(X, y, W, b)
    Wa, ba = W.clone().requires_grad_(), b.clone().requires_grad_()
    expected = F.cross_entropy(X @ Wa + ba, y)
    expected.backward()
    t = tol(dtype) if scale == 1.0 else {"rtol": 1e-4, "atol": 1e-4}
    assert torch.isfinite(loss) and torch.isfinite(dW).all()
    torch.testing.assert_close(loss, expected.detach(), **t)
    torch.testing.assert_close(dW, Wa.grad, **t)
    torch.testing.assert_close(db, ba.grad, **t)
    assert dW.shape == (4, 3) and db.shape == (3,) and loss.shape == ()
    assert all(torch.equal(a, c) for a, c in zip((X, y, W, b), before))


# ---------------------------------------------------------------- stubs, catalogue, curriculum


def functions(module) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(inspect.getsource(module))
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}


# ---------------------------------------------------------------- mutants and variants


def close(a, b, rtol: float, atol: float) -> bool:
    """Same structure, shapes and dtypes, and values within tolerance (nan equals nan)."""
    if isinstance(a, (tuple, list)):
        return (
            isinstance(b, (tuple, list))
            and len(a) == len(b)
            and all(close(x, y, rtol, atol) for x, y in zip(a, b))
        )
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
        return False
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if not a.is_floating_point():
        return torch.equal(a, b)
    return torch.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)


def inputs(exercise: str) -> list[tuple]:
    """Argument tuples for one exercise: ordinary values plus the edge cases of the contract."""
    g = gen(11)
    d64 = torch.float64
    if exercise == "ch2.linear_regression_fit":
        X, y = regression_data(d64, n=25, seed=12)
        return [(X, y, 0.0), (X, y, 3.0), (X[:, :2], y, 0.7), (X, y)]  # (X, y): l2 left to its default
    if exercise == "ch2.mse_loss":
        p = torch.randn(6, 2, generator=g, dtype=d64)
        return [(p, torch.randn(6, 2, generator=g, dtype=d64)), (p[:, 0], p[:, 1] + 0.5)]
    if exercise == "ch2.linear_regression_gd":
        X, y = regression_data(d64, n=15, seed=13)
        return [(X, y, 0.05, 10), (X, y, 0.01, 3)]
    if exercise == "ch2.sigmoid":
        x = torch.tensor([-800.0, -700.0, -100.0, -40.0, -20.0, -1.5, 0.0, 0.3, 20.0, 40.0, 800.0], dtype=d64)
        return [(x,), (x.to(torch.float32),), (torch.randn(3, 4, generator=g, dtype=d64) * 5,)]
    if exercise == "ch2.bce_with_logits":
        z = torch.randn(10, generator=g, dtype=d64) * 3
        t = torch.rand(10, generator=g, dtype=d64)
        big = torch.tensor([1000.0, -1000.0, 40.0], dtype=d64)
        return [(z, t), (z, (t > 0.5).to(d64)), (big, torch.tensor([0.0, 1.0, 0.0], dtype=d64))]
    if exercise == "ch2.logistic_regression_grad":
        X = torch.randn(10, 3, generator=g, dtype=d64)
        y = torch.randint(0, 2, (10,), generator=g).to(d64)
        w = torch.randn(3, generator=g, dtype=d64)
        # scores of magnitude ~1e3: sigmoid rounds to 0 or 1 and exp overflows, the loss stays finite
        return [(X, y, w, torch.tensor(0.7, dtype=d64)), (X * 3, y, w, torch.tensor(-1.2, dtype=d64)),
                (X * 400, y, w, torch.tensor(0.0, dtype=d64))]
    if exercise == "ch2.softmax_regression_grad":
        X = torch.randn(8, 4, generator=g, dtype=d64)
        y = torch.randint(0, 3, (8,), generator=g)
        W = torch.randn(4, 3, generator=g, dtype=d64)
        b = torch.randn(3, generator=g, dtype=d64)
        return [(X, y, W, b), (X, y, W * 1000.0, b)]
    raise KeyError(exercise)


def compile_case(case) -> callable:
    """The reference module with the case appended under the exercise's name, as the grader does."""
    source = inspect.getsource(ref) + "\n\n" + case.source()
    namespace: dict = {"__name__": f"ch2_case_{case.slug}"}
    exec(compile(source, f"<{case.slug}>", "exec"), namespace)
    return namespace[case.exercise.split(".", 1)[1]]


CH2_CASES = [c for c in CASES if c.exercise.startswith("ch2.")]


@pytest.mark.parametrize("case", CH2_CASES, ids=lambda c: c.slug)
def test_mutant_differs_and_variant_agrees(case):
    func = compile_case(case)
    reference = getattr(ref, case.exercise.split(".", 1)[1])
    # sigmoid is judged relatively (its tail values are tiny), the rest with a small atol
    atol = 0.0 if case.exercise == "ch2.sigmoid" else 1e-9
    agree = []
    for args in inputs(case.exercise):
        expected = reference(*args)
        try:
            got = func(*args)
        except Exception:  # a mutant may crash on an edge case: that differs too
            got = None
        agree.append(got is not None and close(got, expected, rtol=1e-6, atol=atol))
    if case.correct:
        assert all(agree), f"variant {case.slug} disagrees with the reference: {agree}"
    else:
        assert not all(agree), f"mutant {case.slug} agrees with the reference on every input"
