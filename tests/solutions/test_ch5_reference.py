"""The chapter 5 reference (`solutions/ch5_cnn.py`) against PyTorch's own routines.

Convolution and pooling are compared with `F.conv2d`, `F.unfold` and `F.max_pool2d`,
their gradients with autograd through those built-ins, and the training exercise with
held-out accuracy on scikit-learn's digits. The stubs must raise NotImplementedError,
every mutant in `tests/mutants/ch5_mutants.py` must differ from the reference on some
input and every variant must agree with it.
"""

from __future__ import annotations

import inspect

import pytest
import torch
import torch.nn.functional as F

import solutions.ch5_cnn as ref
import tests.mutants.ch5_mutants  # noqa: F401  (registers the chapter's cases)
from tests.mutants import CASES, Case

DTYPES = [torch.float32, torch.float64]

# (N, C, H, W, F, kh, kw, stride, padding): square and not, stride that does not
# divide the input evenly, padding wider than one pixel, a 1x1 kernel
CONV_CONFIGS = [
    (2, 3, 5, 5, 4, 3, 3, 1, 0),
    (2, 3, 7, 6, 2, 3, 2, 2, 1),
    (1, 2, 8, 8, 3, 3, 3, 3, 2),
    (3, 1, 4, 5, 2, 1, 1, 1, 0),
    (2, 2, 6, 7, 3, 2, 3, 2, 0),
    (1, 2, 6, 8, 2, 3, 3, 2, 0),  # H - kh and W - kw odd: a leftover row and column
]

# (N, C, H, W, kernel, stride): non-overlapping, overlapping, leftover rows and columns
POOL_CONFIGS = [
    (2, 3, 4, 4, 2, 2),
    (2, 2, 5, 6, 3, 1),
    (1, 3, 7, 5, 3, 2),
    (2, 1, 6, 6, 2, 3),
]


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _randn(*shape: int, dtype: torch.dtype = torch.float64, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=_gen(seed), dtype=dtype)


def _tol(dtype: torch.dtype) -> dict[str, float]:
    return {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-10}


# ---------------------------------------------------------------- im2col and conv2d


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("config", CONV_CONFIGS)
def test_im2col_matches_unfold(config, dtype):
    n, c, h, w, _, kh, kw, stride, padding = config
    x = _randn(n, c, h, w, dtype=dtype)
    kernel = kh if kh == kw else (kh, kw)
    got = ref.im2col(x, kernel, stride, padding)
    torch.testing.assert_close(got, F.unfold(x, (kh, kw), padding=padding, stride=stride), rtol=0, atol=0)


def test_im2col_docstring_example():
    x = torch.arange(9.0).reshape(1, 1, 3, 3)
    expected = torch.tensor([[[0.0, 1, 3, 4], [1, 2, 4, 5], [3, 4, 6, 7], [4, 5, 7, 8]]])
    torch.testing.assert_close(ref.im2col(x, 2), expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("config", CONV_CONFIGS)
def test_conv2d_forward_matches_torch(config, dtype):
    n, c, h, w, f, kh, kw, stride, padding = config
    x = _randn(n, c, h, w, dtype=dtype, seed=1)
    weight = _randn(f, c, kh, kw, dtype=dtype, seed=2)
    bias = _randn(f, dtype=dtype, seed=3)
    got = ref.conv2d_forward(x, weight, bias, stride, padding)
    assert got.dtype == dtype
    torch.testing.assert_close(got, F.conv2d(x, weight, bias, stride=stride, padding=padding), **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("config", CONV_CONFIGS)
def test_conv2d_backward_matches_autograd(config, dtype):
    n, c, h, w, f, kh, kw, stride, padding = config
    x = _randn(n, c, h, w, dtype=dtype, seed=4)
    weight = _randn(f, c, kh, kw, dtype=dtype, seed=5)
    bias = _randn(f, dtype=dtype, seed=6)
    xg, wg, bg = (t.clone().requires_grad_() for t in (x, weight, bias))
    out = F.conv2d(xg, wg, bg, stride=stride, padding=padding)
    dout = _randn(*out.shape, dtype=dtype, seed=7)
    out.backward(dout)
    dx, dw, db = ref.conv2d_backward(dout, x, weight, stride, padding)
    for got, want in ((dx, xg.grad), (dw, wg.grad), (db, bg.grad)):
        assert got.shape == want.shape and got.dtype == dtype
        torch.testing.assert_close(got, want, **_tol(dtype))


# ---------------------------------------------------------------- max pooling


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("config", POOL_CONFIGS)
def test_maxpool2d_forward_matches_torch(config, dtype):
    n, c, h, w, k, s = config
    x = _randn(n, c, h, w, dtype=dtype, seed=8)
    got = ref.maxpool2d_forward(x, k, s)
    torch.testing.assert_close(got, F.max_pool2d(x, k, s), rtol=0, atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("config", POOL_CONFIGS)
def test_maxpool2d_backward_matches_autograd(config, dtype):
    # continuous random inputs have no ties, so the gradient is unambiguous
    n, c, h, w, k, s = config
    x = _randn(n, c, h, w, dtype=dtype, seed=9)
    xg = x.clone().requires_grad_()
    out = F.max_pool2d(xg, k, s)
    dout = _randn(*out.shape, dtype=dtype, seed=10)
    out.backward(dout)
    torch.testing.assert_close(ref.maxpool2d_backward(dout, x, k, s), xg.grad, **_tol(dtype))


def test_maxpool2d_backward_ties_go_to_first_maximum():
    x = torch.tensor([[[[1.0, 3.0], [3.0, 2.0]]]])
    dx = ref.maxpool2d_backward(torch.tensor([[[[10.0]]]]), x, 2, 2)
    torch.testing.assert_close(dx, torch.tensor([[[[0.0, 10.0], [0.0, 0.0]]]]))
    # a constant image: every window picks its own top-left pixel
    ones = torch.ones(1, 1, 3, 3, dtype=torch.float64)
    dx = ref.maxpool2d_backward(torch.ones(1, 1, 2, 2, dtype=torch.float64), ones, 2, 1)
    want = torch.tensor([[[[1.0, 1, 0], [1, 1, 0], [0, 0, 0]]]], dtype=torch.float64)
    torch.testing.assert_close(dx, want)


def test_maxpool2d_backward_overlapping_windows_add_up():
    # the centre pixel is the maximum of all four overlapping 2x2 windows
    x = torch.zeros(1, 1, 3, 3)
    x[0, 0, 1, 1] = 5.0
    dout = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    dx = ref.maxpool2d_backward(dout, x, 2, 1)
    assert dx[0, 0, 1, 1] == 10.0 and dx.sum() == 10.0


# ---------------------------------------------------------------- conventions


@pytest.mark.parametrize("dtype", DTYPES)
def test_inputs_unchanged_and_dtype_kept(dtype):
    x = _randn(2, 2, 6, 6, dtype=dtype, seed=11)
    weight = _randn(3, 2, 3, 3, dtype=dtype, seed=12)
    bias = _randn(3, dtype=dtype, seed=13)
    dout = _randn(2, 3, 3, 3, dtype=dtype, seed=14)
    pool_dout = _randn(2, 2, 3, 3, dtype=dtype, seed=15)
    saved = [t.clone() for t in (x, weight, bias, dout, pool_dout)]
    outs = [
        ref.im2col(x, 3, 2, 1),
        ref.conv2d_forward(x, weight, bias, 2, 1),
        *ref.conv2d_backward(dout, x, weight, 2, 1),
        ref.maxpool2d_forward(x, 2, 2),
        ref.maxpool2d_backward(pool_dout, x, 2, 2),
    ]
    for out in outs:
        assert out.dtype == dtype and out.device == x.device
    for before, after in zip(saved, (x, weight, bias, dout, pool_dout)):
        assert torch.equal(before, after)


# ---------------------------------------------------------------- digits (the train exercise)


def _digits(n_train: int | None = None, n_test: int | None = None):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    X = torch.tensor(data.images / 16.0, dtype=torch.float32).unsqueeze(1)  # (N, 1, 8, 8)
    y = torch.tensor(data.target, dtype=torch.int64)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    return X_tr[:n_train], y_tr[:n_train], X_te[:n_test], y_te[:n_test]


@pytest.fixture
def one_thread():
    """Train as the grader does: one intra-op thread (restored afterwards)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_digits_train_predict_accuracy_and_determinism(one_thread):
    from sklearn.neighbors import KNeighborsClassifier

    X_tr, y_tr, X_te, y_te = _digits()
    rng_before = torch.get_rng_state()
    pred = ref.digits_train_predict(X_tr, y_tr, X_te, seed=0)
    assert torch.equal(torch.get_rng_state(), rng_before), "the caller's random state changed"
    assert pred.dtype == torch.int64 and pred.shape == y_te.shape
    accuracy = (pred == y_te).double().mean().item()
    knn = KNeighborsClassifier(3).fit(X_tr.reshape(len(X_tr), -1), y_tr)
    baseline = knn.score(X_te.reshape(len(X_te), -1), y_te)
    assert accuracy >= 0.97 and accuracy >= baseline - 0.02, (accuracy, baseline)
    # on a subset, to keep the test short: same seed, same labels; the mutants of
    # tests/mutants/ch5_mutants.py fall clearly below the reference, the variants do not
    X_tr, y_tr, X_te, y_te = _digits(n_train=500, n_test=300)
    first = ref.digits_train_predict(X_tr, y_tr, X_te, seed=3)
    assert torch.equal(first, ref.digits_train_predict(X_tr, y_tr, X_te, seed=3))
    ref_accuracy = (first == y_te).double().mean().item()
    # a cheat that looks the images up in the public data wins here, on public data: only
    # the grader's private transformation exposes it (tests/grader/test_mutants.py)
    for case in (c for c in CASES if c.exercise == "ch5.digits_train_predict" and c.at_most is None):
        pred = _as_student(case)(X_tr, y_tr, X_te, 3)
        good = pred.dtype == torch.int64 and (pred == y_te).double().mean().item() >= ref_accuracy - 0.05
        assert good == case.correct, case.slug


# ---------------------------------------------------------------- the stubs


# ---------------------------------------------------------------- mutants and variants


def _as_student(case: Case):
    """The case's function inside a copy of the reference module, under the exercise's name."""
    source = inspect.getsource(ref) + "\n\n" + case.source()
    namespace: dict = {"__name__": f"ch5_cnn__{case.slug}"}
    exec(compile(source, f"<{case.slug}>", "exec"), namespace)
    return namespace[case.exercise.split(".", 1)[1]]


def _inputs(name: str) -> list[tuple]:
    """Inputs on which every mutant of `name` shows its mistake."""
    if name in ("im2col", "conv2d_forward", "conv2d_backward"):
        out = []
        for i, (n, c, h, w, f, kh, kw, s, p) in enumerate(CONV_CONFIGS):
            x = _randn(n, c, h, w, seed=20 + i)
            weight = _randn(f, c, kh, kw, seed=30 + i)
            if name == "im2col":
                out.append((x, (kh, kw), s, p))
            elif name == "conv2d_forward":
                out.append((x, weight, _randn(f, seed=40 + i), s, p))
            else:
                ho, wo = (h + 2 * p - kh) // s + 1, (w + 2 * p - kw) // s + 1
                out.append((_randn(n, f, ho, wo, seed=50 + i), x, weight, s, p))
        return out
    out = []
    for i, (n, c, h, w, k, s) in enumerate(POOL_CONFIGS):
        # rounded values: ties inside windows are common
        x = torch.round(_randn(n, c, h, w, seed=60 + i))
        if name == "maxpool2d_forward":
            out.append((x, k, s))
        else:
            ho, wo = (h - k) // s + 1, (w - k) // s + 1
            out.append((_randn(n, c, ho, wo, seed=70 + i), x, k, s))
    return out


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
        kept = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
        try:
            got = func(*args)
        except Exception:
            return True
        if any(isinstance(a, torch.Tensor) and not torch.equal(a, k) for a, k in zip(args, kept)):
            return True
        if not _same(got, reference(*kept)):
            return True
    return False


CH5_CASES = [c for c in CASES if c.exercise.startswith("ch5.")]
TENSOR_CASES = [c for c in CH5_CASES if c.exercise != "ch5.digits_train_predict"]


@pytest.mark.parametrize("case", TENSOR_CASES, ids=lambda c: c.slug)
def test_mutant_differs_and_variant_agrees(case):
    name = case.exercise.split(".", 1)[1]
    differs = _differs(_as_student(case), getattr(ref, name), _inputs(name))
    assert differs != case.correct
