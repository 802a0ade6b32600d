"""Checks for chapter 3: support vector machines.

Expected values come from PyTorch (autograd of `F.multi_margin_loss`), scikit-learn
(`sklearn.metrics.pairwise` kernels, a fitted `SVC`'s `decision_function`, `LinearSVC`'s
held-out accuracy) or the reference, in float64. Known mistakes are not written here:
each is student code registered in `solutions/mistakes/ch3_svm.py`, and `expect_close`
names the one a wrong answer matches. Subgradients at a kink (a margin of exactly 1, a term of exactly
0) are checked on small dyadic inputs, where float32 and float64 hit the kink exactly.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
from hypothesis import given
from hypothesis import strategies as st

from grader import diagnose
from grader.checks import exercise
from grader.compare import expect, expect_close, fail, partial_credit
from grader.precision import tolerance, truth
from grader.strategies import float_dtypes, generator, labels, seeds, sizes, tensors


def sklearn_truth(fn, *tensors_: torch.Tensor, **kwargs) -> torch.Tensor:
    """A scikit-learn function of float64 numpy copies, as a tensor of the first input's dtype."""
    out = fn(*[t.double().numpy() for t in tensors_], **kwargs)
    return torch.as_tensor(out, dtype=torch.float64).to(tensors_[0].dtype)


def sum_tolerance(magnitude: torch.Tensor, expected: torch.Tensor) -> dict:
    """Tolerance for a sum of many terms: its rounding error grows with the sum of |terms|
    (`magnitude`), not with the result, so a small score made of large terms gets an
    absolute tolerance of 50 machine epsilons of that magnitude."""
    rtol, atol = tolerance(expected.dtype)
    scale = max(1.0, float(expected.abs().max())) if expected.numel() else 1.0
    needed = 50 * torch.finfo(expected.dtype).eps * float(magnitude.max()) if magnitude.numel() else 0.0
    return dict(rtol=rtol, atol=max(atol, needed / scale))


def expect_tensor_like(value: object, name: str, shape: tuple, dtype: torch.dtype) -> None:
    """The structure part of expect_close, for outputs whose values are judged otherwise."""
    if not isinstance(value, torch.Tensor):
        fail("compare.not_tensor", name=name, got=diagnose.type_name(value))
    if tuple(value.shape) != shape:
        key, params = diagnose.shape_mistake(value, torch.empty(shape))
        fail(key, name=name, got=tuple(value.shape), expected=shape, **params)
    if value.dtype != dtype:
        fail("compare.dtype", name=name, got=str(value.dtype).replace("torch.", ""), expected=str(dtype).replace("torch.", ""))


def pm_one(draw, n: int, dtype: torch.dtype) -> torch.Tensor:
    return (draw(labels(n, 2)) * 2 - 1).to(dtype)


# --- binary hinge loss ---------------------------------------------------------------------


@st.composite
def hinge_case(draw, max_n: int = 6, max_d: int = 4):
    dtype = draw(float_dtypes())
    n, d = draw(sizes(1, max_n)), draw(sizes(1, max_d))
    X = draw(tensors((n, d), dtype, scale=1.5))
    w = draw(tensors((d,), dtype))
    b = draw(tensors((), dtype, scale=0.5))
    C = draw(st.sampled_from([0.1, 1.0, 2.5, 10.0]))
    return w, b, X, pm_one(draw, n, dtype), C


@st.composite
def boundary_hinge_case(draw):
    """Small dyadic inputs where some margins are exactly 1 in any dtype and any order
    of summation: X and b in halves, w in integers with w[0] = +-1, and the first
    feature of the chosen rows solved so that y_i (x_i . w + b) = 1."""
    dtype = draw(float_dtypes())
    n, d = draw(sizes(2, 6)), draw(sizes(1, 4))
    g = generator(draw(seeds()))
    X = torch.randint(-4, 5, (n, d), generator=g).double() / 2
    w = torch.randint(-2, 3, (d,), generator=g).double()
    w[0] = draw(st.sampled_from([1.0, -1.0]))
    b = torch.tensor(draw(st.integers(-4, 4)) / 2, dtype=torch.float64)
    y = (torch.randint(0, 2, (n,), generator=g) * 2 - 1).double()
    on_margin = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
    for i in on_margin:
        rest = float(X[i, 1:] @ w[1:]) if d > 1 else 0.0
        X[i, 0] = w[0] * (y[i] - b - rest)  # so that x_i . w + b = y_i
    C = draw(st.sampled_from([0.5, 1.0, 2.0]))
    return w.to(dtype), b.to(dtype), X.to(dtype), y.to(dtype), C


@exercise("ch3.hinge_loss_grad", points=2)
@given(case=hinge_case())
def check_hinge_loss_grad_matches_reference(student, ref, case):
    w, b, X, y, C = case
    expect_close(
        student.hinge_loss_grad(w, b, X, y, C),
        truth(ref.hinge_loss_grad, w, b, X, y, C),
        name=("loss", "dw", "db"),
        inputs=dict(w=w, b=b, X=X, y=y, C=C),
        batch=X.shape[0],
    )


@exercise("ch3.hinge_loss_grad", points=1)
@given(case=boundary_hinge_case())
def check_hinge_margin_of_exactly_one_gives_no_gradient(student, ref, case):
    w, b, X, y, C = case
    expect_close(
        student.hinge_loss_grad(w, b, X, y, C),
        truth(ref.hinge_loss_grad, w, b, X, y, C),
        name=("loss", "dw", "db"),
        inputs=dict(w=w, b=b, X=X, y=y, C=C),
        batch=X.shape[0],
    )


@exercise("ch3.hinge_loss_grad", points=1, hidden=True)
@given(case=hinge_case(max_n=40, max_d=12))
def check_hinge_loss_grad_larger_batches(student, ref, case):
    w, b, X, y, C = case
    expect_close(
        student.hinge_loss_grad(w, b, X, y, C),
        truth(ref.hinge_loss_grad, w, b, X, y, C),
        name=("loss", "dw", "db"),
        batch=X.shape[0],
    )


# --- multiclass SVM loss ----------------------------------------------------------------


@st.composite
def multiclass_case(draw, max_n: int = 6, max_d: int = 4, max_c: int = 5):
    dtype = draw(float_dtypes())
    n, d, c = draw(sizes(1, max_n)), draw(sizes(1, max_d)), draw(sizes(2, max_c))
    W = draw(tensors((d, c), dtype))
    X = draw(tensors((n, d), dtype))
    reg = draw(st.sampled_from([0.0, 0.1, 0.5]))
    return W, X, draw(labels(n, c)), reg


@st.composite
def tied_multiclass_case(draw):
    """Integer scores with a term of exactly 0 (s_j = s_y - 1) in the first row: an extra
    feature, non-zero only in that row, moves its scores onto the tie."""
    dtype = draw(float_dtypes())
    n, d, c = draw(sizes(1, 5)), draw(sizes(1, 3)), draw(sizes(2, 4))
    g = generator(draw(seeds()))
    X = torch.randint(-2, 3, (n, d), generator=g).double()
    W = torch.randint(-2, 3, (d, c), generator=g).double()
    y = torch.randint(0, c, (n,), generator=g)
    j = (int(y[0]) + draw(st.integers(1, c - 1))) % c
    scores = X[0] @ W
    extra = torch.zeros(1, c, dtype=torch.float64)
    extra[0, j] = scores[y[0]] - scores[j] - 1  # s_j + extra_j - s_y + 1 = 0
    X = torch.cat([X, (torch.arange(n) == 0).double()[:, None]], dim=1)
    W = torch.cat([W, extra], dim=0)
    reg = draw(st.sampled_from([0.0, 0.25]))
    return W.to(dtype), X.to(dtype), y, reg


@exercise("ch3.multiclass_svm_loss", points=3)
@given(case=multiclass_case())
def check_multiclass_svm_loss_matches_multi_margin_loss(student, ref, case):
    W, X, y, reg = case
    expect_close(
        student.multiclass_svm_loss(W, X, y, reg),
        truth(ref.multiclass_svm_by_multi_margin_loss, W, X, y, reg),
        name=("loss", "dW"),
        inputs=dict(W=W, X=X, y=y, reg=reg),
        batch=X.shape[0],
    )


@exercise("ch3.multiclass_svm_loss", points=1)
@given(case=tied_multiclass_case())
def check_multiclass_term_of_exactly_zero_gives_no_gradient(student, ref, case):
    W, X, y, reg = case
    expect_close(
        student.multiclass_svm_loss(W, X, y, reg),
        truth(ref.multiclass_svm_loss, W, X, y, reg),
        name=("loss", "dW"),
        inputs=dict(W=W, X=X, y=y, reg=reg),
        batch=X.shape[0],
    )


@exercise("ch3.multiclass_svm_loss", points=1, hidden=True)
@given(case=multiclass_case(max_n=50, max_d=10, max_c=10))
def check_multiclass_svm_loss_larger_problems(student, ref, case):
    W, X, y, reg = case
    expect_close(
        student.multiclass_svm_loss(W, X, y, reg),
        truth(ref.multiclass_svm_by_multi_margin_loss, W, X, y, reg),
        name=("loss", "dW"),
        batch=X.shape[0],
    )


# --- kernels --------------------------------------------------------------------------------


@st.composite
def kernel_pair(draw, square: bool = False, d_differs: bool = False, max_side: int = 6):
    """X (N, D) and Y (M, D); square: N = M = D (so a transposed product has the right
    shape); d_differs: D differs from N and M (so 1 / D is told apart from 1 / N)."""
    dtype = draw(float_dtypes())
    d = draw(sizes(1, max_side))
    if square:
        n = m = d
    elif d_differs:
        n, m = draw(sizes(1, max_side).filter(lambda v: v != d)), draw(sizes(1, max_side).filter(lambda v: v != d))
    else:
        n, m = draw(sizes(1, max_side)), draw(sizes(1, max_side))
    return draw(tensors((n, d), dtype)), draw(tensors((m, d), dtype))


def _sk_pairwise():
    from sklearn.metrics import pairwise

    return pairwise


@exercise("ch3.linear_kernel", points=1)
@given(pair=kernel_pair())
def check_linear_kernel_matches_sklearn(student, ref, pair):
    X, Y = pair
    expect_close(
        student.linear_kernel(X, Y),
        sklearn_truth(_sk_pairwise().linear_kernel, X, Y),
        name="K",
        inputs=dict(X=X, Y=Y),
    )


@exercise("ch3.linear_kernel", points=1)
@given(pair=kernel_pair(square=True))
def check_linear_kernel_pairs_rows_of_x_with_rows_of_y(student, ref, pair):
    X, Y = pair
    expect_close(
        student.linear_kernel(X, Y),
        sklearn_truth(_sk_pairwise().linear_kernel, X, Y),
        name="K",
        inputs=dict(X=X, Y=Y),
    )


@exercise("ch3.polynomial_kernel", points=1)
@given(
    pair=kernel_pair(),
    degree=st.sampled_from([1, 2, 3, 4]),
    gamma=st.sampled_from([0.1, 0.5, 2.0]),
    coef0=st.sampled_from([0.0, 1.0, -0.5, 2.0]),
)
def check_polynomial_kernel_matches_sklearn(student, ref, pair, degree, gamma, coef0):
    X, Y = pair
    expect_close(
        student.polynomial_kernel(X, Y, degree, gamma, coef0),
        sklearn_truth(_sk_pairwise().polynomial_kernel, X, Y, degree=degree, gamma=gamma, coef0=coef0),
        name="K",
        inputs=dict(X=X, Y=Y, degree=degree, gamma=gamma, coef0=coef0),
    )


@exercise("ch3.polynomial_kernel", points=1)
@given(pair=kernel_pair(d_differs=True))
def check_polynomial_kernel_defaults(student, ref, pair):
    X, Y = pair
    expect_close(student.polynomial_kernel(X, Y), sklearn_truth(_sk_pairwise().polynomial_kernel, X, Y), name="K", inputs=dict(X=X, Y=Y))


@exercise("ch3.polynomial_kernel", points=1, hidden=True)
@given(pair=kernel_pair(max_side=12), degree=st.sampled_from([2, 3, 5]), gamma=st.sampled_from([None, 0.05, 0.3]), coef0=st.sampled_from([0.0, 1.0, 3.0]))
def check_polynomial_kernel_larger_and_mixed_parameters(student, ref, pair, degree, gamma, coef0):
    X, Y = pair
    expect_close(
        student.polynomial_kernel(X, Y, degree=degree, gamma=gamma, coef0=coef0),
        sklearn_truth(_sk_pairwise().polynomial_kernel, X, Y, degree=degree, gamma=gamma, coef0=coef0),
        name="K",
    )


@exercise("ch3.rbf_kernel", points=2)
@given(pair=kernel_pair(), gamma=st.sampled_from([0.1, 0.5, 2.0]))
def check_rbf_kernel_matches_sklearn(student, ref, pair, gamma):
    X, Y = pair
    expect_close(
        student.rbf_kernel(X, Y, gamma),
        sklearn_truth(_sk_pairwise().rbf_kernel, X, Y, gamma=gamma),
        name="K",
        inputs=dict(X=X, Y=Y, gamma=gamma),
    )


@exercise("ch3.rbf_kernel", points=1)
@given(pair=kernel_pair(d_differs=True))
def check_rbf_kernel_default_gamma(student, ref, pair):
    X, Y = pair
    expect_close(student.rbf_kernel(X, Y), sklearn_truth(_sk_pairwise().rbf_kernel, X, Y), name="K", inputs=dict(X=X, Y=Y))


@st.composite
def far_from_origin(draw):
    """Points close together far from the origin: ||x||^2 + ||y||^2 - 2 x . y cancels
    badly there, and rounds to small negative numbers unless clamped."""
    dtype = draw(float_dtypes())
    n, d = draw(sizes(5, 20)), draw(sizes(1, 8))
    offset = draw(st.sampled_from([100.0, 1000.0])) * (1.0 + draw(tensors((d,), torch.float64, scale=0.1)))
    X = (offset + draw(tensors((n, d), torch.float64, scale=0.01))).to(dtype)
    return X, draw(st.sampled_from([1.0, 10.0]))


@exercise("ch3.rbf_kernel", points=1)
@given(case=far_from_origin())
def check_rbf_kernel_never_exceeds_one(student, ref, case):
    X, gamma = case
    K = student.rbf_kernel(X, X, gamma)
    expect_tensor_like(K, "K", (X.shape[0], X.shape[0]), X.dtype)
    reveal = {"inputs": diagnose.show(dict(X=X, Y=X, gamma=gamma)), "got": diagnose.show(K)}
    # far above 1 is an exponent of the wrong sign; just above 1, rounding left unclamped
    expect(not bool((K > 1.01).any()), "mistake.ch3.rbf_kernel.sign", reveal)
    expect(bool(torch.isfinite(K).all() and (K <= 1).all() and (K >= 0).all()), "mistake.ch3.rbf_kernel.exceeds_one", reveal)


# --- kernel SVM decision function -------------------------------------------------------------


def _blobs(n: int, d: int, seed: int, separation: float = 1.2, offset: float = 1.5, positive: float = 0.5):
    """Two Gaussian classes along a random direction, offset from the origin along it (so
    the bias matters); `positive` the fraction of +1 labels. float64 X, float64 y in {-1, +1}."""
    g = generator(seed)
    y = (torch.rand(n, generator=g, dtype=torch.float64) < positive).double() * 2 - 1
    direction = torch.randn(d, generator=g, dtype=torch.float64)
    direction = direction / direction.norm()
    X = torch.randn(n, d, generator=g, dtype=torch.float64) + (offset + separation * y[:, None]) * direction
    return X, y


# (kernel, gamma, degree, coef0): gamma None is scikit-learn's gamma="auto"
SVC_MODELS = [
    ("linear", None, 3, 1.0),
    ("poly", None, 3, 1.0),
    ("poly", 0.5, 2, 0.5),
    ("poly", None, 2, 0.0),
    ("rbf", None, 3, 1.0),
    ("rbf", 0.3, 3, 1.0),
]


@lru_cache(maxsize=None)
def _fitted_svc(model: tuple, seed: int, n: int = 40, d: int = 3):
    from sklearn.svm import SVC

    kernel, gamma, degree, coef0 = model
    X, y = _blobs(n, d, seed)
    return SVC(C=1.0, kernel=kernel, gamma="auto" if gamma is None else gamma, degree=degree, coef0=coef0).fit(X.numpy(), y.numpy())


def _call_decision(student, X, S, coef, intercept, model, explicit: bool):
    kernel, gamma, degree, coef0 = model
    kwargs = dict(gamma=gamma, degree=degree, coef0=coef0)
    if not explicit:  # leave the defaults to the student's signature
        kwargs = {k: v for k, v in kwargs.items() if v != {"gamma": None, "degree": 3, "coef0": 1.0}[k]}
    return student.svm_decision_function(X, S, coef, intercept, kernel, **kwargs), kwargs


def _decision_magnitude(ref, X, S, coef, intercept, model):
    return truth(ref.svm_decision_magnitude, X, S, coef, float(intercept), *model)


@exercise("ch3.svm_decision_function", points=3)
@given(
    dtype=float_dtypes(),
    model=st.sampled_from(SVC_MODELS),
    seed=st.integers(0, 2),
    points=tensors(st.tuples(sizes(1, 6), st.just(3)), scale=1.5),
    explicit=st.booleans(),
)
def check_svm_decision_function_matches_fitted_svc(student, ref, dtype, model, seed, points, explicit):
    svc = _fitted_svc(model, seed)
    X = (points + 1.0).to(dtype)
    S = torch.as_tensor(svc.support_vectors_).to(dtype)
    coef = torch.as_tensor(svc.dual_coef_[0]).to(dtype)
    intercept = torch.tensor(float(svc.intercept_[0]), dtype=dtype)
    got, kwargs = _call_decision(student, X, S, coef, intercept, model, explicit)
    if dtype == torch.float64:  # the inputs are scikit-learn's own: its scores are the truth
        expected = torch.as_tensor(svc.decision_function(X.numpy()), dtype=torch.float64)
    else:  # the same formula on the float32-rounded inputs, in float64
        expected = truth(ref.svm_decision_function, X, S, coef, intercept, model[0], model[1], model[2], model[3])
    expect_close(
        got,
        expected,
        name="scores",
        inputs=dict(X=X, support_vectors=S, dual_coef=coef, intercept=intercept, kernel=model[0]) | kwargs,
        **sum_tolerance(_decision_magnitude(ref, X, S, coef, intercept, model), expected),
    )


@st.composite
def decision_case(draw, max_s: int = 5, max_m: int = 5):
    dtype = draw(float_dtypes())
    s, m, d = draw(sizes(1, max_s)), draw(sizes(1, max_m)), draw(sizes(1, 4))
    S = draw(tensors((s, d), dtype))
    X = draw(tensors((m, d), dtype))
    coef = draw(tensors((s,), dtype))
    intercept = draw(st.sampled_from([0.0, -0.75, 1.5]))
    as_tensor = draw(st.booleans())
    model = (
        draw(st.sampled_from(["linear", "poly", "rbf"])),
        draw(st.sampled_from([None, 0.2, 1.0])),
        draw(st.sampled_from([1, 2, 3])),
        draw(st.sampled_from([0.0, 1.0, 2.0])),
    )
    return X, S, coef, torch.tensor(intercept, dtype=dtype) if as_tensor else intercept, model


@exercise("ch3.svm_decision_function", points=1)
@given(case=decision_case(), explicit=st.booleans())
def check_svm_decision_function_single_points_and_float_intercept(student, ref, case, explicit):
    X, S, coef, intercept, model = case
    got, kwargs = _call_decision(student, X, S, coef, intercept, model, explicit)
    expected = truth(ref.svm_decision_function, X, S, coef, intercept, *model)
    expect_close(
        got,
        expected,
        name="scores",
        inputs=dict(X=X, support_vectors=S, dual_coef=coef, intercept=intercept, kernel=model[0]) | kwargs,
        **sum_tolerance(_decision_magnitude(ref, X, S, coef, intercept, model), expected),
    )


@exercise("ch3.svm_decision_function", points=1, hidden=True)
@given(model=st.sampled_from(SVC_MODELS), points=tensors(st.tuples(sizes(20, 60), st.just(5)), scale=2.0))
def check_svm_decision_function_larger_fitted_svc(student, ref, model, points):
    svc = _fitted_svc(model, 7, n=200, d=5)
    X = points + 1.0
    S, coef = torch.as_tensor(svc.support_vectors_), torch.as_tensor(svc.dual_coef_[0])
    intercept = torch.tensor(float(svc.intercept_[0]), dtype=torch.float64)
    got, _ = _call_decision(student, X, S, coef, intercept, model, True)
    expected = torch.as_tensor(svc.decision_function(X.numpy()), dtype=torch.float64)
    expect_close(
        got,
        expected,
        name="scores",
        **sum_tolerance(_decision_magnitude(ref, X, S, coef, intercept, model), expected),
    )


# --- training a linear SVM (graded by held-out accuracy) -----------------------------------

# name -> (n_train, n_test, D, C, dtype, data options); the data are fixed (seeded) so
# every run grades the same problems; the held-out labels stay in the grader
DATA_SETS = {
    "separable": (200, 400, 4, 1.0, torch.float64, dict(separation=3.0, offset=4.0)),
    "overlapping": (300, 600, 6, 0.1, torch.float32, dict(separation=1.0, offset=3.0)),
    "imbalanced": (300, 600, 5, 1.0, torch.float64, dict(separation=1.5, offset=3.0, positive=0.15)),
    "scaled": (300, 600, 5, 1.0, torch.float64, dict(separation=1.5, offset=2.0)),
}
FEATURE_SCALES = torch.tensor([1.0, 10.0, 0.1, 100.0, 1.0], dtype=torch.float64)
TOLERATED_GAP = 0.02  # full marks within 2 accuracy points of LinearSVC


@lru_cache(maxsize=None)
def _data_set(name: str):
    n_train, n_test, d, C, dtype, options = DATA_SETS[name]
    X, y = _blobs(n_train + n_test, d, seed=31 + list(DATA_SETS).index(name), **options)
    if name == "scaled":
        X = X * FEATURE_SCALES
    X = X.to(dtype).double()  # the values the student sees, in float64
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:], C, dtype


@lru_cache(maxsize=None)
def _linear_svc_accuracy(name: str) -> float:
    from sklearn.svm import LinearSVC

    X_train, y_train, X_test, y_test, C, _ = _data_set(name)
    svc = LinearSVC(C=C, max_iter=100_000, random_state=0).fit(X_train.numpy(), y_train.numpy())
    return float(svc.score(X_test.numpy(), y_test.numpy()))


def _unpack(got: object, d: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(w, b) as float64 (D,) and 0-d tensors, failing with the usual messages otherwise."""
    if not isinstance(got, (tuple, list)):
        fail("compare.not_sequence", name="output", count=2, got=diagnose.type_name(got))
    if len(got) != 2:
        fail("compare.length", name="output", count=2, got=len(got))
    for name, value, shape in (("w", got[0], (d,)), ("b", got[1], ())):
        if not isinstance(value, torch.Tensor):
            fail("compare.not_tensor", name=name, got=diagnose.type_name(value))
        if value.numel() != max(1, math.prod(shape)):
            fail("compare.shape", name=name, got=tuple(value.shape), expected=shape)
    return got[0].double().reshape(d), got[1].double().reshape(())


def _grade_training(student, name: str, seed: int = 0) -> None:
    X_train, y_train, X_test, y_test, C, dtype = _data_set(name)
    w, b = _unpack(student.train_linear_svm(X_train.to(dtype), y_train.to(dtype), C, seed), X_train.shape[1])
    predictions = torch.sign(X_test @ w + b)
    accuracy = float((predictions == y_test).double().mean())
    target = _linear_svc_accuracy(name)
    if accuracy >= target - TOLERATED_GAP:
        return
    # the majority-class baseline earns nothing, LinearSVC's accuracy (less the gap) everything
    chance = max(float((y_test > 0).double().mean()), float((y_test < 0).double().mean()))
    fraction = (accuracy - chance) / (target - TOLERATED_GAP - chance)
    one_class = max(float((predictions > 0).double().mean()), float((predictions < 0).double().mean())) >= 0.97
    if one_class and chance < 0.9:
        key = "mistake.ch3.train_linear_svm.labels_zero_one"
    elif float(b) == 0.0:
        key = "mistake.ch3.train_linear_svm.no_bias"
    else:
        key = "mistake.ch3.train_linear_svm.low_accuracy"
    partial_credit(fraction, key, accuracy=accuracy, target=target)


@exercise("ch3.train_linear_svm", points=1)
def check_train_linear_svm_returns_w_and_b_deterministically(student, ref):
    X_train, y_train, _, _, C, _ = _data_set("separable")
    X, y = X_train[:100], y_train[:100]
    first = student.train_linear_svm(X, y, C, 5)
    w, b = _unpack(first, X.shape[1])
    expect_tensor_like(first[0], "w", (X.shape[1],), X.dtype)
    expect_tensor_like(first[1], "b", (), X.dtype)
    second = _unpack(student.train_linear_svm(X, y, C, 5), X.shape[1])
    expect(torch.equal(w, second[0]) and torch.equal(b, second[1]), "mistake.ch3.train_linear_svm.not_deterministic")


@exercise("ch3.train_linear_svm", points=2)
def check_train_linear_svm_on_separable_classes(student, ref):
    _grade_training(student, "separable")


@exercise("ch3.train_linear_svm", points=2)
def check_train_linear_svm_on_overlapping_classes(student, ref):
    _grade_training(student, "overlapping")


@exercise("ch3.train_linear_svm", points=2)
def check_train_linear_svm_on_imbalanced_classes(student, ref):
    _grade_training(student, "imbalanced")


@exercise("ch3.train_linear_svm", points=1, hidden=True)
def check_train_linear_svm_on_features_of_different_scales(student, ref):
    _grade_training(student, "scaled", seed=3)
