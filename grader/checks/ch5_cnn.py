"""Checks for chapter 5: convolution, im2col, max pooling, and the digits training exercise.

Expected values come from PyTorch itself (`F.conv2d`, `F.unfold`, `F.max_pool2d` and
autograd through them) computed in float64, or from the reference where the contract
decides what PyTorch leaves open (the first maximum of a tied pooling window). Known
mistakes that show in the values are not written here: each is student code registered
in `solutions/mistakes/ch5_cnn.py`, and `expect_close` names the one a wrong answer
matches (`grader.known`). Mistakes that show as a wrong shape (padding or stride
ignored, or applied on one side only) are named here from the shape, which the check's
own stride and padding decide; mistakes that spoil only some pixels (overlapping
windows, tied maxima) are named from where the answer is wrong, unless the answer is a
registered mistake, named more precisely.

The digits exercise is an outcome check: the grader splits scikit-learn's digits with a
fixed seed, redraws every image for the run (turned, jittered and noisy, from a secret
drawn per run, so that no test image can be looked up in the public data), sends the
training images, their labels and the test images (never the test labels) and scores
held-out accuracy.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from typing import NamedTuple

import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from grader import diagnose
from grader.checks import exercise
from grader.compare import expect, expect_close, fail, partial_credit
from grader.known import recognise
from grader.precision import autograd, close, tolerance, truth
from grader.strategies import float_dtypes, generator, seeds, sizes, tensors
from grader.student import TimedOut

# --- helpers shared by the checks of this chapter -------------------------------------------


def _reveal(inputs: dict | None, expected: torch.Tensor | None = None, got: object = None) -> dict:
    """What a public check may show: the inputs, and the expected and returned values."""
    out = {"inputs": diagnose.show(inputs)} if inputs else {}
    if expected is not None:
        out |= {"expected": diagnose.show(expected), "got": diagnose.show(got)}
    return out


def _expect_shape(got: object, expected: torch.Tensor, name: str, inputs: dict | None, known: list[tuple[str, object]], fallback: str | None = None) -> None:
    """Name a wrong shape after the mistake that produces it.

    known: (catalogue key, the output that mistake gives, or only its shape); a mistake
    whose output matches `got` in shape and values wins, then the first whose shape
    matches. fallback: the chapter's own shape message for any other wrong shape (None:
    leave it to expect_close).
    """
    if not isinstance(got, torch.Tensor) or got.shape == expected.shape:
        return
    params = dict(name=name, got=tuple(got.shape), expected=tuple(expected.shape))
    shape_of = lambda c: tuple(c.shape) if isinstance(c, torch.Tensor) else tuple(c)  # noqa: E731
    same_shape = [(key, c) for key, c in known if shape_of(c) == tuple(got.shape)]
    for key, c in same_shape:
        if isinstance(c, torch.Tensor) and got.dtype == c.dtype and _matches(got, c):
            fail(key, _reveal(inputs), **params)
    for key, _ in same_shape:
        fail(key, _reveal(inputs), **params)
    if fallback is not None and diagnose.shape_mistake(got, expected)[0] == "compare.shape":
        fail(fallback, _reveal(inputs), **params)


def _same_kind(got: object, expected: torch.Tensor) -> bool:
    return isinstance(got, torch.Tensor) and got.shape == expected.shape and got.dtype == expected.dtype


def _matches(got: torch.Tensor, candidate: torch.Tensor) -> bool:
    return bool(close(got, candidate.to(got.dtype), *tolerance(got.dtype)).all())


def _expect_right_outside(got: object, expected: torch.Tensor, mask: torch.Tensor, key: str, name: str, inputs: dict | None, answer: object = None) -> None:
    """Fail with `key` when `got` is wrong only where `mask` is True (the pixels a
    particular rule decides: overlapping windows, tied maxima), unless the student's
    whole answer (`answer`, by default `got`) is a registered mistake, which expect_close
    names more precisely."""
    if not _same_kind(got, expected) or not mask.any():
        return
    bad = ~close(got, expected, *tolerance(expected.dtype))
    if bad.any() and not (bad & ~mask).any() and recognise(got if answer is None else answer) is None:
        fail(key, _reveal(inputs, expected, got), name=name)


def _out_size(size: int, k: int, stride: int, padding: int = 0) -> int:
    return (size + 2 * padding - k) // stride + 1


# --- inputs ----------------------------------------------------------------------------------


class ConvCase(NamedTuple):
    x: torch.Tensor
    w: torch.Tensor
    b: torch.Tensor
    stride: int
    padding: int
    dout: torch.Tensor


@st.composite
def conv_case(draw, max_n=2, max_c=3, max_f=3, max_side=6, max_k=3, max_stride=3, max_pad=2, kernel_wider=False):
    """A convolution problem. kernel_wider: the kernel is larger than the unpadded image
    along at least one axis (the padding makes it fit)."""
    dtype = draw(float_dtypes())
    n, c, f = draw(sizes(1, max_n)), draw(sizes(1, max_c)), draw(sizes(1, max_f))
    stride = draw(sizes(1, max_stride))
    if kernel_wider:
        padding = draw(sizes(1, max_pad))
        kh = draw(sizes(2, max_k))
        kw = draw(st.sampled_from([1, kh, draw(sizes(1, max_k))]))
        h = draw(sizes(max(1, kh - 2 * padding), kh - 1))  # kh > h
        w = draw(sizes(max(1, kw - 2 * padding), max_side))
    else:
        padding = draw(st.integers(0, max_pad))
        kh, kw = draw(sizes(1, max_k)), draw(sizes(1, max_k))
        h, w = draw(sizes(kh, max(kh, max_side))), draw(sizes(kw, max(kw, max_side)))
    x = draw(tensors((n, c, h, w), dtype))
    weight = draw(tensors((f, c, kh, kw), dtype))
    b = draw(tensors((f,), dtype))
    dout = draw(tensors((n, f, _out_size(h, kh, stride, padding), _out_size(w, kw, stride, padding)), dtype))
    return ConvCase(x, weight, b, stride, padding, dout)


def _kernel_arg(draw_tuple: bool, kh: int, kw: int):
    """kernel_size as the student may receive it: an int for a square kernel, or a pair."""
    return (kh, kw) if draw_tuple or kh != kw else kh


# --- im2col --------------------------------------------------------------------------------------


def _im2col_padding_shapes(x, kh, kw, stride, padding):
    """Shapes of an im2col that pads wrongly: not at all, one side only, one axis only."""
    n, c, h, w = x.shape
    rows = c * kh * kw
    shapes = []
    for ph, pw in ((0, 0), (padding, padding), (0, 2 * padding), (2 * padding, 0)):
        # (ph, pw): total rows/columns of zeros added along each axis
        if h + ph >= kh and w + pw >= kw:
            shapes.append(("mistake.ch5.im2col.padding", (n, rows, ((h + ph - kh) // stride + 1) * ((w + pw - kw) // stride + 1))))
    return [s for s in shapes if padding > 0]


def _check_im2col(student, case, as_tuple):
    x, w, _, stride, padding, _ = case
    kh, kw = w.shape[2:]
    kernel = _kernel_arg(as_tuple, kh, kw)
    inputs = dict(x=x, kernel_size=kernel, stride=stride, padding=padding)
    expected = truth(F.unfold, x, (kh, kw), padding=padding, stride=stride)
    got = student.im2col(x, kernel, stride, padding)
    _expect_shape(got, expected, "cols", inputs, _im2col_padding_shapes(x, kh, kw, stride, padding), "mistake.ch5.im2col.shape")
    expect_close(got, expected, name="cols", inputs=inputs)


@exercise("ch5.im2col", points=2)
@given(case=conv_case(), as_tuple=st.booleans())
def check_im2col_matches_unfold(student, ref, case, as_tuple):
    _check_im2col(student, case, as_tuple)


@exercise("ch5.im2col", points=1)
@given(case=conv_case(kernel_wider=True), as_tuple=st.booleans())
def check_im2col_kernel_wider_than_the_image(student, ref, case, as_tuple):
    _check_im2col(student, case, as_tuple)


@exercise("ch5.im2col", points=1, hidden=True)
@given(case=conv_case(max_n=3, max_c=4, max_side=10, max_k=4), as_tuple=st.booleans())
def check_im2col_larger_images(student, ref, case, as_tuple):
    _check_im2col(student, case, as_tuple)


# --- conv2d forward -------------------------------------------------------------------------------


def _conv_shape_mistakes(case, key_stride, key_padding):
    """Outputs of a convolution whose stride or padding is ignored (whole or in part),
    as (catalogue key, output); a padding that cannot fit the kernel gives only a shape."""
    x, w, b, s, p, _ = case
    (h, wd), (kh, kw) = x.shape[2:], w.shape[2:]
    full = truth(F.conv2d, x, w, b, stride=1, padding=p)
    out = [(key_stride, full), (key_stride, full[:, :, ::s, :]), (key_stride, full[:, :, :, ::s])]
    if p > 0:
        for pads in ((0, 0, 0, 0), (p, p, 0, 0), (0, 0, p, p), (0, p, 0, p), (p, 0, p, 0)):
            # F.pad order: (left, right, top, bottom)
            ph, pw = pads[2] + pads[3], pads[0] + pads[1]
            if h + ph >= kh and wd + pw >= kw:
                out.append((key_padding, truth(lambda x, w, b: F.conv2d(F.pad(x, pads), w, b, stride=s), x, w, b)))
    return out


def _check_conv2d_forward(student, case, reveal=True):
    x, w, b, s, p, _ = case
    inputs = dict(x=x, w=w, b=b, stride=s, padding=p) if reveal else None
    expected = truth(F.conv2d, x, w, b, stride=s, padding=p)
    got = student.conv2d_forward(x, w, b, s, p)
    shapes = _conv_shape_mistakes(case, "mistake.ch5.conv2d_forward.stride", "mistake.ch5.conv2d_forward.padding")
    _expect_shape(got, expected, "out", inputs, shapes, "mistake.ch5.conv2d_forward.shape")
    expect_close(got, expected, name="out", inputs=inputs)


@exercise("ch5.conv2d_forward", points=3)
@given(case=conv_case())
def check_conv2d_forward_matches_pytorch(student, ref, case):
    _check_conv2d_forward(student, case)


@exercise("ch5.conv2d_forward", points=1)
@given(case=conv_case(kernel_wider=True))
def check_conv2d_forward_kernel_wider_than_the_image(student, ref, case):
    _check_conv2d_forward(student, case)


@exercise("ch5.conv2d_forward", points=1, hidden=True)
@given(case=conv_case(max_n=3, max_c=4, max_f=4, max_side=9, max_k=4))
def check_conv2d_forward_larger_layers(student, ref, case):
    _check_conv2d_forward(student, case, reveal=False)


# --- conv2d backward -------------------------------------------------------------------------------


def _conv_autograd(case):
    """(dx, dw, db) of <F.conv2d(x, w, b), dout> by autograd through PyTorch's kernel, in
    float64, cast to the inputs' dtype."""
    x, w, b, s, p, dout = case
    return autograd(lambda x, w, b: F.conv2d(x, w, b, stride=s, padding=p), x, w, b, dout=dout)


def _overlap_mask(x, kh, kw, s, p):
    """Pixels of x that lie in two or more windows (their gradients must add up)."""
    n, c, h, wd = x.shape
    ho, wo = _out_size(h, kh, s, p), _out_size(wd, kw, s, p)
    count = torch.zeros((h + 2 * p, wd + 2 * p))  # windows covering each padded pixel
    for i in range(kh):
        for j in range(kw):
            count[i : i + s * ho : s, j : j + s * wo : s] += 1
    return (count[p : p + h, p : p + wd] >= 2).expand(n, c, h, wd)


def _leftover_shapes(x, kh, kw, s, p):
    """Shapes of a dx accumulated over the extent the windows cover, (Ho - 1) s + k rows
    and columns, instead of the padded image, then cropped as x_padded would be (from p
    to p + H, or p from each end): the rows and columns no window reaches go missing."""
    n, c, h, wd = x.shape
    reach_h, reach_w = (_out_size(h, kh, s, p) - 1) * s + kh, (_out_size(wd, kw, s, p) - 1) * s + kw
    if (reach_h, reach_w) == (h + 2 * p, wd + 2 * p):
        return []
    cropped = {(max(0, min(h, reach_h - p)), max(0, min(wd, reach_w - p))), (max(0, reach_h - 2 * p), max(0, reach_w - 2 * p))}
    return [("mistake.ch5.conv2d_backward.leftover", (n, c, hh, ww)) for hh, ww in sorted(cropped) if (hh, ww) != (h, wd)]


def _check_conv2d_backward(student, case, reveal=True):
    x, w, b, s, p, dout = case
    kh, kw = w.shape[2:]
    inputs = dict(dout=dout, x=x, w=w, stride=s, padding=p) if reveal else None
    expected = _conv_autograd(case)
    got = student.conv2d_backward(dout, x, w, s, p)
    if isinstance(got, (tuple, list)) and len(got) == 3:
        n, c, h, wd = x.shape
        # the docstring's promise: pixels that no window reaches are part of dx, with zero
        shapes = [("mistake.ch5.conv2d_backward.padding", (n, c, h + 2 * p, wd + 2 * p))] + _leftover_shapes(x, kh, kw, s, p)
        _expect_shape(got[0], expected[0], "dx", inputs, shapes)
        # right where one window covers a pixel, wrong where several do: not added up
        mask = _overlap_mask(x, kh, kw, s, p)
        _expect_right_outside(got[0], expected[0], mask, "mistake.ch5.conv2d_backward.dx_overlap", "dx", inputs, answer=got)
    expect_close(got, expected, name=("dx", "dw", "db"), inputs=inputs, batch=x.shape[0])


@exercise("ch5.conv2d_backward", points=4)
@given(case=conv_case())
def check_conv2d_backward_matches_autograd(student, ref, case):
    _check_conv2d_backward(student, case)


@exercise("ch5.conv2d_backward", points=1)
@given(case=conv_case(kernel_wider=True))
def check_conv2d_backward_kernel_wider_than_the_image(student, ref, case):
    _check_conv2d_backward(student, case)


@exercise("ch5.conv2d_backward", points=1, hidden=True)
@given(case=conv_case(max_n=3, max_c=4, max_f=4, max_side=9, max_k=4))
def check_conv2d_backward_larger_layers(student, ref, case):
    _check_conv2d_backward(student, case, reveal=False)


# --- max pooling -----------------------------------------------------------------------------------


class PoolCase(NamedTuple):
    x: torch.Tensor
    kernel_size: int
    stride: int
    dout: torch.Tensor


@st.composite
def pool_case(draw, max_n=2, max_c=3, max_side=7, max_k=3, max_stride=3, ties=False):
    """A pooling problem; windows overlap when stride < kernel_size, leave pixels out when
    stride > kernel_size. ties: small integer pixel values, so windows have tied maxima.
    Otherwise continuous values, sometimes all negative (a maximum started at 0 fails)."""
    dtype = draw(float_dtypes())
    n, c = draw(sizes(1, max_n)), draw(sizes(1, max_c))
    k, s = draw(sizes(1, max_k)), draw(sizes(1, max_stride))
    h, w = draw(sizes(k, max(k, max_side))), draw(sizes(k, max(k, max_side)))
    if ties:
        x = torch.randint(-1, 2, (n, c, h, w), generator=generator(draw(seeds()))).to(dtype)
    else:
        x = draw(tensors((n, c, h, w), dtype)) + draw(st.sampled_from([0.0, 0.0, -4.0]))
    dout = draw(tensors((n, c, _out_size(h, k, s), _out_size(w, k, s)), dtype))
    return PoolCase(x, k, s, dout)


def _pool_shape_mistakes(x, k, s):
    """Outputs of a pooling that ignores the stride or keeps partial windows (ceil mode);
    the ceil-mode shape comes first, PyTorch's ceil mode drops a window that would start
    beyond the image, a hand-written one often does not."""
    n, c, h, w = x.shape
    ceil = lambda size: -(-(size - k) // s) + 1  # noqa: E731
    return [
        ("mistake.ch5.maxpool2d_forward.shape", (n, c, ceil(h), ceil(w))),
        ("mistake.ch5.maxpool2d_forward.shape", truth(F.max_pool2d, x, k, s, ceil_mode=True)),
        ("mistake.ch5.maxpool2d_forward.stride", truth(F.max_pool2d, x, k, k)),
        ("mistake.ch5.maxpool2d_forward.stride", truth(F.max_pool2d, x, k, 1)),
    ]


def _check_maxpool2d_forward(student, case, reveal=True):
    x, k, s, _ = case
    inputs = dict(x=x, kernel_size=k, stride=s) if reveal else None
    expected = truth(F.max_pool2d, x, k, s)
    got = student.maxpool2d_forward(x, k, s)
    _expect_shape(got, expected, "out", inputs, _pool_shape_mistakes(x, k, s), "mistake.ch5.maxpool2d_forward.shape")
    # a running maximum started at 0: not registered, as it is right on any input with no
    # all-negative window (see solutions/mistakes/ch5_cnn.py)
    expect_close(got, expected, name="out", inputs=inputs, mistakes={"mistake.ch5.maxpool2d_forward.zero_init": expected.clamp(min=0)})


@exercise("ch5.maxpool2d_forward", points=2)
@given(case=pool_case())
def check_maxpool2d_forward_matches_pytorch(student, ref, case):
    _check_maxpool2d_forward(student, case)


@exercise("ch5.maxpool2d_forward", points=1, hidden=True)
@given(case=pool_case(max_n=3, max_c=4, max_side=12, max_k=4, max_stride=4))
def check_maxpool2d_forward_larger_images(student, ref, case):
    _check_maxpool2d_forward(student, case, reveal=False)


def _check_maxpool2d_backward(student, ref, case, reveal=True, use_autograd=True):
    x, k, s, dout = case
    inputs = dict(dout=dout, x=x, kernel_size=k, stride=s) if reveal else None
    if use_autograd:  # no ties: PyTorch's gradient is the contract's
        expected = autograd(lambda x: F.max_pool2d(x, k, s), x, dout=dout)[0]
    else:  # ties: the first maximum in row-major order, as the contract says
        expected = truth(ref.maxpool2d_backward, dout, x, k, s)
    got = student.maxpool2d_backward(dout, x, k, s)
    _expect_right_outside(got, expected, ref.maxpool_tie_mask(x, k, s), "mistake.ch5.maxpool2d_backward.ties", "dx", inputs)
    _expect_right_outside(got, expected, ref.maxpool_shared_max_mask(x, k, s), "mistake.ch5.maxpool2d_backward.overlap", "dx", inputs)
    expect_close(got, expected, name="dx", inputs=inputs)


@exercise("ch5.maxpool2d_backward", points=2)
@given(case=pool_case())
def check_maxpool2d_backward_matches_autograd(student, ref, case):
    _check_maxpool2d_backward(student, ref, case)


@exercise("ch5.maxpool2d_backward", points=2)
@given(case=pool_case(ties=True))
def check_maxpool2d_backward_ties_go_to_the_first_maximum(student, ref, case):
    _check_maxpool2d_backward(student, ref, case, use_autograd=False)


@exercise("ch5.maxpool2d_backward", points=1, hidden=True)
@given(case=pool_case(max_n=3, max_c=4, max_side=12, max_k=4, max_stride=4, ties=True))
def check_maxpool2d_backward_larger_images_with_ties(student, ref, case):
    _check_maxpool2d_backward(student, ref, case, reveal=False, use_autograd=False)


# --- digits: the training exercise -------------------------------------------------------------------

SPLIT_SEED = 0  # the grader's split of scikit-learn's digits: 70% to train, 30% held out
FULL_MARKS_ACCURACY = 0.90
"""Full marks at this held-out accuracy on the run's redrawn digits (the reference CNN
reaches about 0.975, a plain two-layer MLP about 0.95: see benchmarks/bench_outcomes.py)."""
NO_MARKS_ACCURACY = 0.50
"""No marks at or below this accuracy: any trained model clears it by far, while looking
the images up in the public, unturned digits lands well under it."""
JITTER = dict(degrees=6.0, pixels=0.3, zoom=0.05, gain=0.25, noise=0.03)
"""Per-image draws: rotation (degrees), shift (pixels), zoom, intensity gain (each
uniform in +-value) and Gaussian pixel noise (standard deviation)."""


@lru_cache(maxsize=1)
def _run_salt() -> int:
    """A secret drawn once per grading process. The run's seed is printed (and a student
    can read this file), so data derived from the seed alone could be recomputed; this
    salt never leaves the grader, whose student code runs in another process."""
    return secrets.randbits(63)


def _redraw(images: torch.Tensor, orientation: int, g: torch.Generator) -> torch.Tensor:
    """The run's version of some digits: turned by one of the seven non-identity symmetries
    of the square (the same for every image of the run, so a lookup in the public digits
    misses), then each image moved by its own small rotation, shift, zoom and intensity
    change, plus noise (so no image equals a public one). A model trained on the run's
    training images learns the run's digits as well as the originals; no pixel is
    permuted. (N, 1, 8, 8) float64 -> float32 in [0, 1]."""
    x = torch.rot90(images, orientation % 4, dims=(2, 3))
    x = x.flip(3) if orientation >= 4 else x
    n = x.shape[0]
    jitter = lambda bound: (torch.rand(n, generator=g, dtype=torch.float64) * 2 - 1) * bound  # noqa: E731
    angle, zoom = torch.deg2rad(jitter(JITTER["degrees"])), 1 + jitter(JITTER["zoom"])
    shift = torch.stack([jitter(JITTER["pixels"]), jitter(JITTER["pixels"])], dim=1) * 2 / 8  # grid units
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)  # (N, 2, 3)
    x = F.grid_sample(x, F.affine_grid(theta, list(x.shape), align_corners=False), align_corners=False)
    x = x * (1 + jitter(JITTER["gain"])).view(n, 1, 1, 1) + JITTER["noise"] * torch.randn(x.shape, generator=g, dtype=torch.float64)
    return x.clamp(0, 1).to(torch.float32)


def _digits_split() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(X_train, y_train, X_test, y_test): the run's digits, images (N, 1, 8, 8) float32 in
    [0, 1]. The split is fixed; the images are redrawn for every grading run from the
    secret salt (`_redraw`). The trade-off: a rerun with the same seed gets statistically
    equal, not bit-equal, images, so an accuracy may move by a few test images."""
    return digits_data(_run_salt())


@lru_cache(maxsize=2)
def digits_data(salt: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The digits one salt draws (benchmarks/bench_outcomes.py draws many)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    X = torch.tensor(data.images / 16.0, dtype=torch.float64).unsqueeze(1)
    y = torch.tensor(data.target, dtype=torch.int64)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=SPLIT_SEED, stratify=data.target)
    g = generator(salt)
    orientation = 1 + int(torch.randint(0, 7, (), generator=g))
    return _redraw(X_tr, orientation, g), y_tr, _redraw(X_te, orientation, g), y_te


def _expect_labels(pred: object, count: int) -> None:
    expect(isinstance(pred, torch.Tensor) and pred.dim() == 1 and pred.shape[0] == count, "mistake.ch5.digits_train_predict.shape", count=count, got=diagnose.type_name(pred))
    expect(pred.dtype == torch.int64, "mistake.ch5.digits_train_predict.dtype", got=str(pred.dtype).replace("torch.", ""))


@exercise("ch5.digits_train_predict", points=9)
def check_digits_held_out_accuracy(student, ref):
    X_train, y_train, X_test, y_test = _digits_split()
    try:
        pred = student.digits_train_predict(X_train, y_train, X_test, 0)  # the test labels stay here
    except TimedOut as exc:
        fail("mistake.ch5.digits_train_predict.time", seconds=exc.params.get("seconds", 0))
    _expect_labels(pred, X_test.shape[0])
    accuracy = float((pred.cpu() == y_test).double().mean())
    if accuracy < FULL_MARKS_ACCURACY:
        fraction = (accuracy - NO_MARKS_ACCURACY) / (FULL_MARKS_ACCURACY - NO_MARKS_ACCURACY)
        partial_credit(fraction, "mistake.ch5.digits_train_predict.accuracy", accuracy=accuracy, target=FULL_MARKS_ACCURACY, baseline=NO_MARKS_ACCURACY)


@exercise("ch5.digits_train_predict", points=1)
def check_digits_same_seed_same_predictions(student, ref):
    X_train, y_train, X_test, _ = _digits_split()
    # a smaller problem, trained twice with the same seed
    args = (X_train[:300], y_train[:300], X_test[:100], 7)
    first = student.digits_train_predict(*args)
    second = student.digits_train_predict(*args)
    _expect_labels(first, 100)
    _expect_labels(second, 100)
    expect(torch.equal(first, second), "mistake.ch5.digits_train_predict.seed")
