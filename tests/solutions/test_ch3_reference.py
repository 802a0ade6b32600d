"""The chapter 3 reference (`solutions/ch3_svm.py`) against PyTorch autograd,
`nn.MultiMarginLoss` and scikit-learn (`pairwise` kernels, `SVC`, `LinearSVC`); the
stubs; and the chapter's mutants (each differs from the reference) and variants (each
agrees with it)."""

from __future__ import annotations

import time
from pathlib import Path
from unittest import mock

import pytest
import torch
from sklearn.metrics import hinge_loss as sk_hinge_loss
from sklearn.metrics.pairwise import linear_kernel as sk_linear_kernel
from sklearn.metrics.pairwise import polynomial_kernel as sk_polynomial_kernel
from sklearn.metrics.pairwise import rbf_kernel as sk_rbf_kernel
from sklearn.svm import SVC, LinearSVC

import solutions.ch3_svm as ref
import tests.mutants.ch3_mutants  # noqa: F401  (registers the chapter's cases)
from tests.mutants import CASES, Case

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: dict(rtol=1e-4, atol=1e-5), torch.float64: dict(rtol=1e-9, atol=1e-11)}
REFERENCE_SOURCE = Path(ref.__file__).read_text()


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def pm_one(n: int, g: torch.Generator, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return (torch.randint(0, 2, (n,), generator=g) * 2 - 1).to(dtype)


@pytest.fixture
def one_thread():
    """Train exercises are graded on one thread; restore the setting afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def blobs(n: int, d: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two Gaussian classes separated along a random direction and offset from the
    origin along it (so the bias matters); labels -1 / +1 (int64)."""
    g = gen(seed)
    y = torch.randint(0, 2, (n,), generator=g) * 2 - 1
    direction = torch.randn(d, generator=g, dtype=torch.float64)
    direction = direction / direction.norm()
    X = torch.randn(n, d, generator=g, dtype=torch.float64) + (4.0 + 1.2 * y[:, None]) * direction
    return X, y


# ------------------------------------------------------------------ hinge_loss_grad


@pytest.mark.parametrize("dtype", DTYPES)
def test_hinge_loss_grad_matches_sklearn_and_autograd(dtype):
    g = gen(0)
    X = torch.randn(40, 5, generator=g, dtype=dtype)
    y = pm_one(40, g, dtype)
    w = torch.randn(5, generator=g, dtype=dtype)
    b = torch.tensor(0.3, dtype=dtype)
    C = 2.5
    loss, dw, db = ref.hinge_loss_grad(w, b, X, y, C)
    decision = (X @ w + b).double().numpy()
    expected = 0.5 * float((w.double() ** 2).sum()) + C * sk_hinge_loss(y.numpy(), decision)
    assert loss.shape == () and db.shape == () and dw.shape == (5,)
    assert loss.dtype == dw.dtype == db.dtype == dtype
    torch.testing.assert_close(loss, torch.tensor(expected, dtype=dtype), **TOL[dtype])
    # no margin is exactly 1 here, so autograd's gradient is the subgradient
    wa, ba = w.clone().requires_grad_(), b.clone().requires_grad_()
    ref.hinge_loss_grad(wa, ba, X, y, C)[0].backward()
    torch.testing.assert_close(dw, wa.grad, **TOL[dtype])
    torch.testing.assert_close(db, ba.grad, **TOL[dtype])


def test_hinge_loss_grad_margin_of_exactly_one_gives_no_gradient():
    w = torch.tensor([1.0, 0.0], dtype=torch.float64)
    b = torch.tensor(0.0, dtype=torch.float64)
    X = torch.tensor([[1.0, 5.0], [-1.0, 2.0], [0.5, 1.0]], dtype=torch.float64)
    y = torch.tensor([1.0, -1.0, 1.0], dtype=torch.float64)  # margins 1, 1, 0.5
    loss, dw, db = ref.hinge_loss_grad(w, b, X, y, 3.0)
    torch.testing.assert_close(loss, torch.tensor(0.5 + 3.0 * 0.5 / 3, dtype=torch.float64))
    torch.testing.assert_close(dw, w - 3.0 * X[2] / 3)
    torch.testing.assert_close(db, torch.tensor(-1.0, dtype=torch.float64))


def test_hinge_loss_grad_accepts_int_labels_and_leaves_inputs_alone():
    g = gen(1)
    X = torch.randn(10, 3, generator=g)
    y = torch.randint(0, 2, (10,), generator=g) * 2 - 1
    w, b = torch.randn(3, generator=g), torch.tensor(0.1)
    copies = [t.clone() for t in (w, b, X, y)]
    float_labels = ref.hinge_loss_grad(w, b, X, y.float(), 1.0)
    for got, want in zip(ref.hinge_loss_grad(w, b, X, y, 1.0), float_labels):
        torch.testing.assert_close(got, want)
    for before, after in zip(copies, (w, b, X, y)):
        assert torch.equal(before, after)


# -------------------------------------------------------------- multiclass_svm_loss


@pytest.mark.parametrize("dtype", DTYPES)
def test_multiclass_svm_loss_matches_multimarginloss_and_autograd(dtype):
    g = gen(2)
    X = torch.randn(30, 6, generator=g, dtype=dtype)
    W = torch.randn(6, 4, generator=g, dtype=dtype)
    y = torch.randint(0, 4, (30,), generator=g)
    reg = 0.05
    loss, dW = ref.multiclass_svm_loss(W, X, y, reg)
    # MultiMarginLoss divides each sample's sum by the number of classes
    Wa = W.clone().requires_grad_()
    expected = torch.nn.MultiMarginLoss(p=1, margin=1.0)(X @ Wa, y) * 4 + reg * (Wa**2).sum()
    expected.backward()
    assert loss.shape == () and dW.shape == W.shape and dW.dtype == dtype
    torch.testing.assert_close(loss, expected.detach(), **TOL[dtype])
    torch.testing.assert_close(dW, Wa.grad, **TOL[dtype])


def test_multiclass_svm_loss_term_of_exactly_zero_gives_no_gradient():
    X = torch.tensor([[1.0]], dtype=torch.float64)
    W = torch.tensor([[2.0, 1.0, 2.5]], dtype=torch.float64)  # terms: -, 0, 1.5
    loss, dW = ref.multiclass_svm_loss(W, X, torch.tensor([0]), 0.0)
    torch.testing.assert_close(loss, torch.tensor(1.5, dtype=torch.float64))
    torch.testing.assert_close(dW, torch.tensor([[-1.0, 0.0, 1.0]], dtype=torch.float64))


# ------------------------------------------------------------------------ kernels


@pytest.mark.parametrize("dtype", DTYPES)
def test_kernels_match_sklearn(dtype):
    g = gen(3)
    X = torch.randn(7, 4, generator=g, dtype=dtype)
    Y = torch.randn(5, 4, generator=g, dtype=dtype)
    Xn, Yn = X.double().numpy(), Y.double().numpy()
    cases = [
        (ref.linear_kernel(X, Y), sk_linear_kernel(Xn, Yn)),
        (ref.polynomial_kernel(X, Y), sk_polynomial_kernel(Xn, Yn)),
        (ref.polynomial_kernel(X, Y, degree=2, gamma=0.7, coef0=-0.5),
         sk_polynomial_kernel(Xn, Yn, degree=2, gamma=0.7, coef0=-0.5)),
        (ref.rbf_kernel(X, Y), sk_rbf_kernel(Xn, Yn)),
        (ref.rbf_kernel(X, Y, gamma=0.3), sk_rbf_kernel(Xn, Yn, gamma=0.3)),
    ]
    for got, want in cases:
        assert got.shape == (7, 5) and got.dtype == dtype
        torch.testing.assert_close(got, torch.tensor(want, dtype=dtype), **TOL[dtype])


def test_rbf_kernel_never_exceeds_one_and_avoids_cdist():
    g = gen(4)
    X = 1000.0 + 0.01 * torch.randn(20, 8, generator=g)  # float32, heavy cancellation
    with mock.patch.object(torch, "cdist", side_effect=AssertionError("torch.cdist is banned")):
        K = ref.rbf_kernel(X, X, gamma=10.0)
    assert K.max() <= 1.0
    torch.testing.assert_close(K, torch.tensor(sk_rbf_kernel(X.double().numpy(), gamma=10.0),
                                               dtype=torch.float32), rtol=1e-3, atol=1e-3)


# ---------------------------------------------------------------- svm_decision_function


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "kernel, params",
    [("linear", {}), ("poly", {"degree": 2, "coef0": 0.5}), ("rbf", {}), ("rbf", {"gamma": 0.2})],
)
def test_svm_decision_function_matches_svc(kernel, params, dtype):
    X, y = blobs(80, 3, seed=5)
    svc = SVC(C=1.0, kernel=kernel, gamma=params.get("gamma", "auto"),
              degree=params.get("degree", 3), coef0=params.get("coef0", 0.0))
    svc.fit(X.numpy(), y.numpy())
    X_test = torch.randn(15, 3, generator=gen(6), dtype=torch.float64) + 4.0
    got = ref.svm_decision_function(
        X_test.to(dtype),
        torch.tensor(svc.support_vectors_, dtype=dtype),
        torch.tensor(svc.dual_coef_[0], dtype=dtype),
        torch.tensor(svc.intercept_[0], dtype=dtype),
        kernel,
        gamma=params.get("gamma"),
        degree=params.get("degree", 3),
        coef0=params.get("coef0", 0.0),
    )
    assert got.shape == (15,) and got.dtype == dtype
    want = torch.tensor(svc.decision_function(X_test.numpy()), dtype=dtype)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == torch.float32 else dict(rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(got, want, **tol)


def test_svm_decision_function_rejects_unknown_kernel():
    X = torch.zeros(2, 2)
    with pytest.raises(ValueError):
        ref.svm_decision_function(X, X, torch.zeros(2), 0.0, "sigmoid")


# ---------------------------------------------------------------- train_linear_svm


def test_train_linear_svm_matches_linearsvc_accuracy_and_is_deterministic(one_thread):
    for dtype, C, seed in [(torch.float32, 1.0, 0), (torch.float64, 0.05, 1), (torch.float32, 50.0, 2)]:
        X, y = blobs(600, 8, seed)
        X = X.to(dtype)
        X_train, y_train, X_val, y_val = X[:300], y[:300], X[300:], y[300:]
        start = time.perf_counter()
        w, b = ref.train_linear_svm(X_train, y_train, C, seed)
        assert time.perf_counter() - start < 2.0
        assert w.shape == (8,) and b.shape == () and w.dtype == b.dtype == dtype
        assert not w.requires_grad and not b.requires_grad
        accuracy = (torch.sign(X_val @ w + b) == y_val).double().mean().item()
        svc = LinearSVC(C=C, max_iter=100_000).fit(X_train.double().numpy(), y_train.numpy())
        assert accuracy >= svc.score(X_val.double().numpy(), y_val.numpy()) - 0.02
        w2, b2 = ref.train_linear_svm(X_train, y_train, C, seed)
        assert torch.equal(w, w2) and torch.equal(b, b2)
        # the grader may call it under no_grad
        with torch.no_grad():
            w3, _ = ref.train_linear_svm(X_train, y_train, C, seed)
        assert torch.equal(w, w3)


# ---------------------------------------------------------------------------- stubs


# ------------------------------------------------------------- mutants and variants


def build(case: Case):
    """The case as the grader sees it: the reference module with the case appended."""
    namespace = {"__name__": f"ch3_case_{case.slug}"}
    exec(compile(REFERENCE_SOURCE + "\n\n" + case.source(), namespace["__name__"], "exec"), namespace)
    return namespace[case.exercise.split(".", 1)[1]]


def inputs(exercise: str) -> list[tuple]:
    """Inputs on which every mutant of `exercise` differs from the reference."""
    g = gen(7)
    f64 = torch.float64
    if exercise == "hinge_loss_grad":
        X = torch.randn(12, 3, generator=g, dtype=f64)
        y = pm_one(12, g)
        w, b = torch.randn(3, generator=g, dtype=f64), torch.tensor(0.2, dtype=f64)
        edge = (torch.tensor([1.0, 0.0], dtype=f64), torch.tensor(0.0, dtype=f64),
                torch.tensor([[1.0, 2.0], [0.2, 1.0]], dtype=f64), torch.tensor([1.0, 1.0], dtype=f64))
        return [(w, b, X, y, 2.0), (*edge, 1.0)]
    if exercise == "multiclass_svm_loss":
        X = torch.randn(9, 4, generator=g, dtype=f64)
        W = torch.randn(4, 3, generator=g, dtype=f64)
        y = torch.randint(0, 3, (9,), generator=g)
        tie = (torch.tensor([[2.0, 1.0, 2.5]], dtype=f64), torch.tensor([[1.0]], dtype=f64), torch.tensor([0]))
        return [(W, X, y, 0.1), (*tie, 0.0)]
    if exercise == "linear_kernel":
        return [(torch.randn(4, 3, generator=g, dtype=f64), torch.randn(4, 3, generator=g, dtype=f64))]
    if exercise in ("polynomial_kernel", "rbf_kernel"):
        X, Y = torch.randn(5, 3, generator=g, dtype=f64), torch.randn(4, 3, generator=g, dtype=f64)
        big = 1000.0 + 0.01 * torch.randn(20, 8, generator=g)
        return [(X, Y), (big, big.clone(), 10.0)] if exercise == "rbf_kernel" else [(X, Y)]
    if exercise == "svm_decision_function":
        sv = torch.randn(6, 3, generator=g, dtype=f64)
        coef = torch.randn(6, generator=g, dtype=f64)
        X = torch.randn(5, 3, generator=g, dtype=f64)
        b = torch.tensor(0.4, dtype=f64)
        return [(X, sv, coef, b, kernel) for kernel in ("linear", "poly", "rbf")]
    raise KeyError(exercise)


def same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return (isinstance(b, torch.Tensor) and a.shape == b.shape
                and torch.allclose(a.double(), b.double(), rtol=1e-5, atol=1e-7))
    return len(a) == len(b) and all(same(x, z) for x, z in zip(a, b))


CH3_CASES = [c for c in CASES if c.exercise.startswith("ch3.")]


@pytest.mark.parametrize("case", [c for c in CH3_CASES if c.exercise != "ch3.train_linear_svm"],
                         ids=lambda c: c.slug)
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


def test_train_mutants_lose_accuracy_and_variant_keeps_it(one_thread):
    X, y = blobs(400, 6, seed=8)
    X_train, y_train, X_val, y_val = X[:200], y[:200], X[200:], y[200:]

    def accuracy(func) -> float:
        w, b = func(X_train, y_train, 1.0, 0)
        return (torch.sign(X_val @ w + b) == y_val).double().mean().item()

    target = accuracy(ref.train_linear_svm)
    assert target > 0.8
    for case in [c for c in CH3_CASES if c.exercise == "ch3.train_linear_svm"]:
        got = accuracy(build(case))
        if case.correct:
            assert got >= target - 0.02, case.slug
        else:
            assert got < target - 0.1, case.slug
