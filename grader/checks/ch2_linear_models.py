"""Checks for chapter 2: linear regression (closed form and gradient descent), the mean
squared error, a stable sigmoid and binary cross-entropy, and the loss and gradients of
logistic and softmax regression.

Expected values come from PyTorch (F.mse_loss, torch.sigmoid,
F.binary_cross_entropy_with_logits, autograd through F.cross_entropy), from scikit-learn
(Ridge and LinearRegression, in a hidden check only, so `dlcourse check` does not pay
for importing it) or the reference, computed in float64. Known mistakes are not written
here: each is student code registered in `solutions/mistakes/ch2_linear_models.py`, and
`expect_close` names the one a wrong answer matches; the checks add only the forms whose
message names a parameter (a factor, a condition number). Where the maths itself is ill-conditioned (a linear
system with a large condition number, scores of magnitude 100 rounded in float32) the
tolerance grows with the condition, and the check says so. The default l2=0.0 is a promise
too: linear_regression_fit(X, y) must give the answer of linear_regression_fit(X, y, 0.0).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from grader import diagnose
from grader.checks import exercise
from grader.compare import CheckFailure, expect_close, expect_default_kept, expect_stable, fail
from grader.precision import tolerance, truth
from grader.strategies import float_dtypes, generator, labels, seeds, shapes, sizes, tensors

EPS = {torch.float32: torch.finfo(torch.float32).eps, torch.float64: torch.finfo(torch.float64).eps}


def _condition_tolerance(dtype: torch.dtype, condition: float) -> dict:
    """rtol = atol for an answer whose rounding error grows like eps * condition."""
    rtol = max(tolerance(dtype)[0], 20 * EPS[dtype] * condition)
    return {"rtol": rtol, "atol": rtol} if rtol > tolerance(dtype)[0] else {}


# --- linear regression in closed form -----------------------------------------------------------


def _ridge_condition(X, l2) -> float:
    """Condition number of the normal matrices of both usual routes (centred data, or a
    column of ones with an unpenalised bias), in float64."""
    X = X.double()
    n, d = X.shape
    Xc = X - X.mean(dim=0)
    centred = Xc.T @ Xc + l2 * torch.eye(d, dtype=X.dtype)
    Xa = torch.cat([X, torch.ones(n, 1, dtype=X.dtype)], dim=1)
    augmented = Xa.T @ Xa + torch.diag(torch.cat([torch.full((d,), float(l2), dtype=X.dtype), torch.zeros(1, dtype=X.dtype)]))
    return max(float(torch.linalg.cond(centred)), float(torch.linalg.cond(augmented)))


def _ridge_mistakes(ref, X, y, l2):
    """The forms the registered mistakes cannot give: b = 0 whatever the route to w, and
    l2 scaled by a factor the message names."""
    n = X.shape[0]
    named = [("mistake.ch2.linear_regression_fit.no_intercept", (None, torch.zeros((), dtype=X.dtype)), {})]
    if l2 > 0:
        for factor, label in ((n, f"N = {n}"), (2.0, "2"), (0.5, "1/2"), (1 / n, f"1/N = 1/{n}")):
            named.append(("mistake.ch2.linear_regression_fit.l2_scale", truth(ref.ridge_least_squares, X, y, l2 * factor), {"factor": label}))
    return named


@st.composite
def regression_case(draw, max_n: int = 8, max_d: int = 4, l2s=(0.0, 0.1, 1.0, 10.0)):
    """(X, y, l2): with l2 = 0 enough rows for a unique least-squares fit; with l2 > 0 any
    number of rows, a single one included."""
    dtype = draw(float_dtypes())
    d = draw(sizes(1, max_d))
    l2 = draw(st.sampled_from(l2s))
    n = draw(sizes(d + 2, max_n + d)) if l2 == 0 else draw(sizes(1, max_n))
    X = draw(tensors((n, d), torch.float64)) + draw(tensors((d,), torch.float64, scale=0.5))
    w = draw(tensors((d,), torch.float64, scale=2.0))
    y = X @ w + draw(tensors((), torch.float64, scale=2.0)) + draw(tensors((n,), torch.float64, scale=0.5))
    return X.to(dtype), y.to(dtype), l2


def _expect_ridge(ref, got, X, y, l2, public=True, **tol):
    expect_close(
        got,
        truth(ref.ridge_least_squares, X, y, l2),
        name=("w", "b"),
        inputs=dict(X=X, y=y, l2=l2) if public else None,
        named=_ridge_mistakes(ref, X, y, l2),
        **tol,
    )


@exercise("ch2.linear_regression_fit", points=2)
@given(case=regression_case())
def check_linear_regression_fit_matches_ridge(student, ref, case):
    X, y, l2 = case
    # solving the normal equations loses about eps * cond(X^T X) of relative accuracy
    tol = _condition_tolerance(X.dtype, _ridge_condition(X, l2))
    _expect_ridge(ref, student.linear_regression_fit(X, y, l2), X, y, l2, **tol)
    if l2 == 0:  # the signature's default, l2=0.0: the same answer without it
        expected = truth(ref.ridge_least_squares, X, y, 0.0)
        expect_default_kept(lambda: student.linear_regression_fit(X, y), expected, function="linear_regression_fit", argument="l2", default=0.0, name=("w", "b"), inputs=dict(X=X, y=y), **tol)


@exercise("ch2.linear_regression_fit", points=1)
@given(case=regression_case(l2s=(0.5, 5.0, 50.0)), shift=st.sampled_from([20.0, -100.0, 500.0]))
def check_linear_regression_fit_does_not_penalise_the_bias(student, ref, case, shift):
    X, y, l2 = case
    # an unpenalised bias absorbs any shift of y: w stays, b moves by the shift
    y = (y.double() + shift).to(y.dtype)
    _expect_ridge(ref, student.linear_regression_fit(X, y, l2), X, y, l2, **_condition_tolerance(X.dtype, _ridge_condition(X, l2) * (1 + abs(shift))))


@exercise("ch2.linear_regression_fit", points=1)
@given(case=regression_case(max_d=3, l2s=(0.0, 1e-3, 0.1)), delta=st.sampled_from([1e-2, 1e-3]), seed=seeds())
def check_linear_regression_fit_nearly_collinear_features(student, ref, case, delta, seed):
    X, y, l2 = case
    X, y = X.double(), y.double()  # float64: nearly collinear columns need its precision
    n = X.shape[0]
    twin = X[:, :1] + delta * torch.randn(n, 1, generator=generator(seed), dtype=X.dtype)
    X = torch.cat([X, twin], dim=1)  # the last column almost repeats the first
    if l2 == 0:
        X, y = torch.cat([X, X[:2] + 0.5]), torch.cat([y, y[:2]])  # enough rows for D + 1
    condition = _ridge_condition(X, l2)
    got = student.linear_regression_fit(X, y, l2)
    jitter = [("mistake.ch2.linear_regression_fit.ill_conditioned", truth(ref.ridge_least_squares, X, y, l2 + j), {"condition": f"{condition:.2g}"}) for j in (1e-4, 1e-6, 1e-8)]
    try:
        # the answer is only defined to about eps * cond of the normal equations
        expect_close(
            got,
            truth(ref.ridge_least_squares, X, y, l2),
            name=("w", "b"),
            inputs=dict(X=X, y=y, l2=l2),
            named=_ridge_mistakes(ref, X, y, l2) + jitter,  # "stabilising" jitter added to l2
            **_condition_tolerance(X.dtype, condition),
        )
    except CheckFailure as exc:
        w, b = truth(ref.ridge_least_squares, X, y, l2)
        fitted = isinstance(got, (tuple, list)) and len(got) == 2 and all(isinstance(t, torch.Tensor) for t in got)
        # weights off while the predictions X w + b are right: the rounding of an unstable
        # route (an explicit inverse, a float32 step, added jitter), not a wrong formula
        if fitted and got[0].shape == w.shape and got[1].shape == b.shape and exc.key.startswith(("compare.mismatch", "mistake.factor")):
            predictions = X @ got[0].double() + got[1].double()
            if torch.allclose(predictions, X @ w + b, rtol=1e-3, atol=1e-3 * float(y.abs().max())):
                raise CheckFailure("mistake.ch2.linear_regression_fit.ill_conditioned", {**exc.params, "condition": f"{condition:.2g}"}, exc.reveal) from None
        raise


@exercise("ch2.linear_regression_fit", points=1, hidden=True)
@given(case=regression_case(max_n=30, max_d=6, l2s=(0.0, 0.3, 3.0, 30.0)))
def check_linear_regression_fit_matches_scikit_learn(student, ref, case):
    from sklearn.linear_model import LinearRegression, Ridge

    X, y, l2 = case
    model = LinearRegression() if l2 == 0 else Ridge(alpha=l2)
    model.fit(X.double().numpy(), y.double().numpy())
    expected = (torch.from_numpy(model.coef_).to(X.dtype), torch.tensor(float(model.intercept_), dtype=X.dtype))
    expect_close(
        student.linear_regression_fit(X, y, l2),
        expected,
        name=("w", "b"),
        named=_ridge_mistakes(ref, X, y, l2),
        **_condition_tolerance(X.dtype, _ridge_condition(X, l2)),
    )


# --- mean squared error ----------------------------------------------------------------------------


@st.composite
def pairs(draw, max_side: int = 5, ndims=(0, 1, 2, 3), min_side: int = 1):
    dtype = draw(float_dtypes())
    shape = draw(shapes(draw(st.sampled_from(ndims)), min_side, max_side))
    pred = draw(tensors(shape, dtype, scale=2.0, edges=(0.0,)))
    target = draw(tensors(shape, dtype, scale=2.0, edges=(0.0,)))
    if draw(st.booleans()):
        target = torch.where(torch.rand(shape, generator=generator(pred.numel())) < 0.3, pred, target)  # some exact hits
    return pred, target


def _expect_mse(got, pred, target, public=True):
    if isinstance(got, torch.Tensor) and got.shape == pred.shape and pred.numel() > 1:
        fail("mistake.ch2.mse_loss.shape", {"inputs": diagnose.show(dict(pred=pred, target=target))} if public else None)
    expected = truth(F.mse_loss, pred, target)
    # the factor's forms (the message names the factor); the other mistakes are registered
    # (with 2 entries the sum is twice the mean: that one is the registered sum)
    named = [("mistake.ch2.mse_loss.factor", expected * f, {"factor": label}) for f, label in ((0.5, "1/2"), (2.0, "2")) if f != pred.numel()]
    expect_close(got, expected, name="loss", inputs=dict(pred=pred, target=target) if public else None, named=named)


@exercise("ch2.mse_loss", points=1)
@given(case=pairs(ndims=(1, 2, 3), min_side=2))
def check_mse_loss_matches_pytorch(student, ref, case):
    pred, target = case
    _expect_mse(student.mse_loss(pred, target), pred, target)


@exercise("ch2.mse_loss", points=1, hidden=True)
@given(case=pairs(max_side=12), scale=st.sampled_from([1e-3, 1.0, 1e3]))
def check_mse_loss_larger_tensors_and_scales(student, ref, case, scale):
    pred, target = (t * scale for t in case)
    _expect_mse(student.mse_loss(pred, target), pred, target, public=False)


# --- linear regression by gradient descent ---------------------------------------------------------


def _gd_mistakes(ref, X, y, lr, steps):
    """The forms the registered mistakes cannot give: one step too many or too few, and
    the gradient scaled by a factor the message names (the same as lr scaled by it)."""
    gd = ref.linear_regression_gd
    named = [("mistake.ch2.linear_regression_gd.steps", truth(gd, X, y, lr, k), {}) for k in (steps + 1, steps - 1) if k >= 0]
    for scale, label in ((0.5, "1/2"), (2.0, "2")):
        if scale != X.shape[0]:  # with N = 2 the gradient times 2 is the registered sum_gradient
            named.append(("mistake.ch2.linear_regression_gd.factor", truth(gd, X, y, lr * scale, steps), {"factor": label}))
    return named


@st.composite
def gd_case(draw, max_n: int = 6, max_d: int = 4):
    dtype = draw(float_dtypes())
    n, d = draw(sizes(1, max_n)), draw(sizes(1, max_d))
    X = draw(tensors((n, d), dtype))
    y = draw(tensors((n,), dtype, scale=2.0)) + 1.0
    return X, y, draw(st.sampled_from([0.01, 0.05, 0.1, 0.2]))


@exercise("ch2.linear_regression_gd", points=2)
@given(case=gd_case(), steps=st.integers(1, 4))
def check_linear_regression_gd_trajectory(student, ref, case, steps):
    X, y, lr = case
    for k in range(1, steps + 1):  # the trajectory, one step count at a time
        expect_close(
            student.linear_regression_gd(X, y, lr, k),
            truth(ref.linear_regression_gd, X, y, lr, k),
            name=(f"w after {k} steps", f"b after {k} steps"),
            inputs=dict(X=X, y=y, lr=lr, steps=k),
            named=_gd_mistakes(ref, X, y, lr, k),
        )


@exercise("ch2.linear_regression_gd", points=1)
@given(case=gd_case(), steps=st.integers(0, 1))
def check_linear_regression_gd_first_step_in_closed_form(student, ref, case, steps):
    X, y, lr = case
    # from w = 0, b = 0 the residuals are -y: one step has a closed form (the reference side's)
    expected = truth(ref.mse_gd_first_step, X, y, lr, steps)
    expect_close(
        student.linear_regression_gd(X, y, lr, steps),
        expected,
        name=("w", "b"),
        inputs=dict(X=X, y=y, lr=lr, steps=steps),
        named=_gd_mistakes(ref, X, y, lr, steps),
    )


@exercise("ch2.linear_regression_gd", points=1, hidden=True)
@given(case=gd_case(max_n=30, max_d=6), steps=st.sampled_from([20, 60]))
def check_linear_regression_gd_long_run(student, ref, case, steps):
    X, y, _ = case
    Xa = torch.cat([X.double(), torch.ones(X.shape[0], 1, dtype=torch.float64)], dim=1)
    lr = 0.9 / float(torch.linalg.eigvalsh(2 / X.shape[0] * Xa.T @ Xa).max())  # a stable step
    expect_close(
        student.linear_regression_gd(X, y, lr, steps),
        truth(ref.linear_regression_gd, X, y, lr, steps),
        name=(f"w after {steps} steps", f"b after {steps} steps"),
        named=_gd_mistakes(ref, X, y, lr, steps),
    )


# --- sigmoid and binary cross-entropy ----------------------------------------------------------------


def _expect_sigmoid(ref, got, x, public=True, tails=False):
    # in the tails: relative accuracy even where sigmoid(x) is tiny, down to a few units
    # of the smallest subnormal number (float32 sigmoid(-100) = 3.8e-44 is representable)
    tol = {"rtol": 32 * EPS[x.dtype], "atol": 4 * torch.finfo(x.dtype).tiny * EPS[x.dtype]} if tails else {}
    expect_close(
        got,
        truth(ref.sigmoid_with_subnormal_tail, x),  # torch.sigmoid flushes float64 sigmoid(-740) to 0
        name="out",
        inputs=dict(x=x) if public else None,
        **tol,
    )


@exercise("ch2.sigmoid", points=1)
@given(x=tensors(st.sampled_from([(5,), (2, 3), (2, 2, 2)]), float_dtypes(), scale=3.0, edges=(0.0, -0.0, 1.0, -1.0)))
def check_sigmoid_matches_pytorch(student, ref, x):
    _expect_sigmoid(ref, student.sigmoid(x), x)


@exercise("ch2.sigmoid", points=1)
@given(dtype=float_dtypes(), magnitudes=st.lists(st.sampled_from([5.0, 17.0, 30.0, 50.0, 80.0, 100.0, 700.0, 740.0, 1e4]), min_size=1, max_size=4))
def check_sigmoid_exact_in_both_tails(student, ref, dtype, magnitudes):
    x = torch.tensor(sorted({s * m for m in magnitudes for s in (-1.0, 1.0)}), dtype=dtype)
    _expect_sigmoid(ref, student.sigmoid(x), x, tails=True)


@exercise("ch2.sigmoid", points=1, hidden=True)
@given(x=tensors(shapes(2, 1, 12), float_dtypes(), scale=40.0, edges=(0.0, 100.0, -100.0, -745.0)))
def check_sigmoid_relative_accuracy_on_larger_tensors(student, ref, x):
    _expect_sigmoid(ref, student.sigmoid(x), x, public=False, tails=True)


@st.composite
def bce_case(draw, max_side: int = 5, scale: float = 3.0):
    """Logits and targets of the same shape; targets soft (any value in [0, 1]) or hard."""
    dtype = draw(float_dtypes())
    shape = draw(shapes(draw(st.integers(1, 3)), 1, max_side))
    logits = draw(tensors(shape, dtype, scale=scale, edges=(0.0,)))
    targets = draw(tensors(shape, dtype, low=0.0, high=1.0, edges=(0.0, 1.0, 0.5)))
    if draw(st.booleans()):
        targets = targets.round()
    return logits, targets


@exercise("ch2.bce_with_logits", points=2)
@given(case=bce_case())
def check_bce_with_logits_matches_pytorch(student, ref, case):
    z, t = case
    expect_close(
        student.bce_with_logits(z, t),
        truth(F.binary_cross_entropy_with_logits, z, t),
        name="loss",
        inputs=dict(logits=z, targets=t),
    )


@exercise("ch2.bce_with_logits", points=1)
@given(case=bce_case(scale=1.0), big=st.sampled_from([40.0, 100.0, 1000.0]))
def check_bce_with_logits_stable_for_large_logits(student, ref, case, big):
    z, t = case
    z = torch.where(z >= 0, z + 1, z - 1) * big  # every |logit| above `big`
    # the one stability rule: finite and right in float64 and float32
    expect_stable(
        student.bce_with_logits,
        lambda logits, targets: truth(F.binary_cross_entropy_with_logits, logits, targets),
        dict(logits=z, targets=t),
        name="loss",
    )


@exercise("ch2.bce_with_logits", points=1, hidden=True)
@given(case=bce_case(max_side=10, scale=30.0))
def check_bce_with_logits_larger_tensors(student, ref, case):
    z, t = case
    expect_close(student.bce_with_logits(z, t), truth(F.binary_cross_entropy_with_logits, z, t), name="loss")


# --- logistic and softmax regression ---------------------------------------------------------------


def _autograd_loss(loss_fn, X, y, w, b):
    """(loss, dL/dw, dL/db) by autograd, in float64, cast back to X's dtype."""

    def run(X, y, w, b):
        w, b = w.clone().requires_grad_(True), b.clone().requires_grad_(True)
        with torch.enable_grad():
            loss = loss_fn(X @ w + b, y)
            dw, db = torch.autograd.grad(loss, (w, b))
        return loss.detach(), dw, db

    return truth(run, X, y, w, b)


def _score_tolerance(X, w, b):
    # scores rounded in the input's dtype carry an error of about eps * sum_i |x_i w_i|,
    # which the probabilities, and times |x| the gradients, inherit: the tolerance grows
    # with it (float32 scores of magnitude 1000 are only known to about 1e-4)
    bound = float((X.double().abs() @ w.double().abs().reshape(X.shape[1], -1)).max() + b.double().abs().max())
    rtol = max(tolerance(X.dtype)[0], 4 * EPS[X.dtype] * bound * max(1.0, float(X.double().abs().max())))
    return {"rtol": rtol, "atol": rtol} if rtol > tolerance(X.dtype)[0] else {}


@st.composite
def logistic_case(draw, max_n: int = 6, max_d: int = 4, scale: float = 1.0):
    dtype = draw(float_dtypes())
    n, d = draw(sizes(1, max_n)), draw(sizes(1, max_d))
    X = draw(tensors((n, d), dtype))
    y = draw(labels(n, 2)).to(dtype)
    w = draw(tensors((d,), dtype, scale=scale))
    b = draw(tensors((), dtype, scale=scale))
    return X, y, w, b


def _logistic_causes(X, y, w, b) -> dict:
    """(loss, dw, db) through probabilities, in the input's dtype: p = sigmoid(z) rounded
    to 0 or 1 then log(p) (NaN from 0 * log(0)), or p = e^z / (1 + e^z) overflowing."""
    z = X @ w + b

    def through(p):
        dz = (p - y) / X.shape[0]
        return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean(), X.T @ dz, dz.sum()

    e = torch.exp(z)
    return {"mistake.stability.log_of_underflow": through(torch.sigmoid(z)), "mistake.stability.no_max_shift": through(e / (1 + e))}


def _expect_logistic(student, X, y, w, b, public=True):
    expect_close(
        student.logistic_regression_grad(X, y, w, b),
        _autograd_loss(F.binary_cross_entropy_with_logits, X, y, w, b),
        name=("loss", "dw", "db"),
        inputs=dict(X=X, y=y, w=w, b=b) if public else None,
        batch=X.shape[0],
    )


@exercise("ch2.logistic_regression_grad", points=3)
@given(case=logistic_case())
def check_logistic_regression_grad_matches_autograd(student, ref, case):
    _expect_logistic(student, *case)


@exercise("ch2.logistic_regression_grad", points=1)
@given(case=logistic_case(scale=1.0), big=st.sampled_from([50.0, 300.0]))
def check_logistic_regression_grad_large_scores(student, ref, case, big):
    X, y, w, b = case
    w, b = w * big, b * big  # scores of magnitude ~big: sigmoid saturates, log(p) would be log(0)
    # the one stability rule: finite and right in float64 and float32
    expect_stable(
        student.logistic_regression_grad,
        lambda X, y, w, b: _autograd_loss(F.binary_cross_entropy_with_logits, X, y, w, b),
        dict(X=X, y=y, w=w, b=b),
        name=("loss", "dw", "db"),
        batch=X.shape[0],
        per_dtype=lambda X, y, w, b: dict(causes=_logistic_causes(X, y, w, b), **_score_tolerance(X, w, b)),
    )


@exercise("ch2.logistic_regression_grad", points=1, hidden=True)
@given(case=logistic_case(max_n=40, max_d=10, scale=2.0))
def check_logistic_regression_grad_larger_batches(student, ref, case):
    _expect_logistic(student, *case, public=False)


@st.composite
def softmax_case(draw, max_n: int = 6, max_d: int = 4, max_c: int = 5, scale: float = 1.0):
    dtype = draw(float_dtypes())
    n, d, c = draw(sizes(1, max_n)), draw(sizes(1, max_d)), draw(sizes(2, max_c))
    X = draw(tensors((n, d), dtype))
    y = draw(labels(n, c))
    W = draw(tensors((d, c), dtype, scale=scale))
    b = draw(tensors((c,), dtype, scale=scale))
    return X, y, W, b


def _expect_softmax(student, X, y, W, b, public=True):
    expect_close(
        student.softmax_regression_grad(X, y, W, b),
        _autograd_loss(F.cross_entropy, X, y, W, b),
        name=("loss", "dW", "db"),
        inputs=dict(X=X, y=y, W=W, b=b) if public else None,
        batch=X.shape[0],
    )


@exercise("ch2.softmax_regression_grad", points=4)
@given(case=softmax_case())
def check_softmax_regression_grad_matches_autograd(student, ref, case):
    _expect_softmax(student, *case)


@exercise("ch2.softmax_regression_grad", points=1)
@given(case=softmax_case(), big=st.sampled_from([100.0, 1000.0]))
def check_softmax_regression_grad_large_scores(student, ref, case, big):
    X, y, W, b = case
    W, b = W * big, b * big  # exp() of scores this large overflows
    # the one stability rule: finite and right in float64 and float32
    expect_stable(
        student.softmax_regression_grad,
        lambda X, y, W, b: _autograd_loss(F.cross_entropy, X, y, W, b),
        dict(X=X, y=y, W=W, b=b),
        name=("loss", "dW", "db"),
        batch=X.shape[0],
        per_dtype=lambda X, y, W, b: _score_tolerance(X, W, b),
    )


@exercise("ch2.softmax_regression_grad", points=1, hidden=True)
@given(case=softmax_case(max_n=40, max_d=8, max_c=10, scale=2.0))
def check_softmax_regression_grad_larger_batches(student, ref, case):
    _expect_softmax(student, *case, public=False)
