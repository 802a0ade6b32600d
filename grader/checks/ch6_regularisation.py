"""Checks for chapter 6: dropout, AdamW, label smoothing, early stopping, mixup, k-fold.

Expected values come from PyTorch (autograd of the masked forward, `torch.optim.AdamW`,
`F.cross_entropy(label_smoothing=)`), scikit-learn (`KFold`) or the reference in
float64. Known mistakes are not written here: each is student code registered in
`solutions/mistakes/ch6_regularisation.py`, and `expect_close` names the one a wrong
answer matches (early stopping's plain integers and k-fold's index lists included).
"""

from __future__ import annotations


import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from grader.checks import exercise
from grader.compare import expect_close, expect_stable
from grader.precision import truth
from grader.strategies import float_dtypes, labels, learning_rates, seeds, sizes, tensors

# drop probabilities exact in float32 and float64, so "u exactly p" is the same tie for
# every dtype and every way of writing the comparison; the others never meet a draw
EXACT_P = (0.0, 0.25, 0.5, 0.75)
INEXACT_P = (0.1, 0.3, 0.9)


# --- dropout ----------------------------------------------------------------------------


@st.composite
def dropout_case(draw, max_side: int = 5, ps: tuple[float, ...] = EXACT_P + INEXACT_P):
    dtype = draw(float_dtypes())
    shape = draw(st.lists(sizes(1, max_side), min_size=1, max_size=3).map(tuple))
    p = draw(st.sampled_from(ps))
    x = draw(tensors(shape, dtype, edges=(0.0,)))
    dout = draw(tensors(shape, dtype))
    if p in EXACT_P:
        u = draw(tensors(shape, torch.float64, low=0.0, high=1.0, edges=(p, p, p)))
    else:
        u = draw(tensors(shape, torch.float64, low=0.0, high=1.0))
        u = torch.where((u - p).abs() < 1e-5, u + 2e-5, u)  # no draw within rounding of p
    return x, dout, p, u.to(dtype)


@exercise("ch6.dropout_forward", points=2)
@given(case=dropout_case())
def check_dropout_forward_keeps_u_at_least_p_and_rescales(student, ref, case):
    x, _, p, u = case
    expect_close(
        student.dropout_forward(x, p, u, True),
        truth(ref.dropout_forward, x, p, u, True),
        name="out",
        inputs=dict(x=x, p=p, u=u, training=True),
    )


@exercise("ch6.dropout_forward", points=1)
@given(case=dropout_case(ps=(0.5, 0.9, 0.0, 1.0)), training=st.booleans())
def check_dropout_forward_p_one_and_eval_mode(student, ref, case, training):
    x, _, p, u = case
    # training: p = 1 drops everything; eval: x whatever p is. p = 1 comes last, so a failing
    # example shrinks to a p at which the eval-mode mistakes (x (1 - p), the training mask)
    # differ, not to p = 1 where both give zeros
    p = 1.0 if training else p
    expect_close(
        student.dropout_forward(x, p, u, training),
        torch.zeros_like(x) if training else x.clone(),
        name="out",
        inputs=dict(x=x, p=p, u=u, training=training),
    )


@exercise("ch6.dropout_forward", points=1, hidden=True)
@given(case=dropout_case(max_side=12))
def check_dropout_forward_larger_tensors(student, ref, case):
    x, _, p, u = case
    expect_close(student.dropout_forward(x, p, u), truth(ref.dropout_forward, x, p, u), name="out")


@exercise("ch6.dropout_backward", points=2)
@given(case=dropout_case())
def check_dropout_backward_matches_autograd(student, ref, case):
    _, dout, p, u = case
    expect_close(
        student.dropout_backward(dout, p, u),
        truth(ref.dropout_backward_by_autograd, dout, p, u),
        name="dx",
        inputs=dict(dout=dout, p=p, u=u),
    )


@exercise("ch6.dropout_backward", points=1)
@given(case=dropout_case(ps=(1.0, 0.0)))
def check_dropout_backward_p_zero_and_p_one(student, ref, case):
    _, dout, p, u = case
    expect_close(
        student.dropout_backward(dout, p, u),
        truth(ref.dropout_backward_by_autograd, dout, p, u),
        name="dx",
        inputs=dict(dout=dout, p=p, u=u),
    )


# --- AdamW ---------------------------------------------------------------------------------


@st.composite
def trajectory(draw, steps: int = 4):
    """A parameter and a few gradients (some entries exactly 0 or tiny, where eps matters)."""
    dtype = draw(float_dtypes())
    shape = draw(st.sampled_from([(3,), (2, 3), (1,)]))
    w = draw(tensors(shape, dtype))
    grads = [draw(tensors(shape, dtype, edges=(0.0, 1e-6))) for _ in range(steps)]
    return w, grads


@exercise("ch6.adamw_step", points=3)
@given(
    case=trajectory(),
    lr=learning_rates(),
    betas=st.sampled_from([(0.9, 0.999), (0.5, 0.9)]),
    eps=st.sampled_from([1e-8, 1e-2]),
    wd=st.sampled_from([0.0, 0.01, 0.1, 0.5]),
)
def check_adamw_matches_torch_optim(student, ref, case, lr, betas, eps, wd):
    w0, grads = case
    b1, b2 = betas
    expected = ref.adamw_trajectory(w0, grads, lr=lr, betas=betas, eps=eps, weight_decay=wd)
    w, m, v = w0, torch.zeros_like(w0), torch.zeros_like(w0)
    for t, (dw, exp) in enumerate(zip(grads, expected), start=1):
        expect_close(
            student.adamw_step(w, dw, m, v, t, lr, b1, b2, eps, wd),
            exp,
            name=(f"w after step {t}", f"m after step {t}", f"v after step {t}"),
            inputs=dict(w=w, dw=dw, m=m, v=v, t=t, lr=lr, beta1=b1, beta2=b2, eps=eps, weight_decay=wd),
        )
        w, m, v = exp  # continue from the expected state, so each step is judged on its own


@exercise("ch6.adamw_step", points=1, hidden=True)
@given(case=trajectory(steps=10), lr=learning_rates())
def check_adamw_ten_steps_with_default_decay(student, ref, case, lr):
    w0, grads = case
    expected = ref.adamw_trajectory(w0, grads, lr=lr)
    w, m, v = w0, torch.zeros_like(w0), torch.zeros_like(w0)
    for t, dw in enumerate(grads, start=1):
        w, m, v = student.adamw_step(w, dw, m, v, t, lr)
    expect_close((w, m, v), expected[-1], name=("w after 10 steps", "m after 10 steps", "v after 10 steps"))


# --- label smoothing ------------------------------------------------------------------------


@st.composite
def smoothing_case(draw, scale: float = 3.0, max_n: int = 6, max_c: int = 5, smoothings: tuple[float, ...] = (0.0, 0.05, 0.1, 0.3, 0.5, 1.0)):
    dtype = draw(float_dtypes())
    n, c = draw(sizes(1, max_n)), draw(sizes(2, max_c))
    logits = draw(tensors((n, c), dtype, scale=scale))
    smoothing = draw(st.sampled_from(smoothings))
    return logits, draw(labels(n, c)), smoothing


@exercise("ch6.label_smoothing_cross_entropy", points=3)
@given(case=smoothing_case())
def check_label_smoothing_matches_pytorch(student, ref, case):
    logits, y, smoothing = case
    expect_close(
        student.label_smoothing_cross_entropy(logits, y, smoothing),
        truth(ref.label_smoothing_ce_by_pytorch, logits, y, smoothing),
        name="loss",
        inputs=dict(logits=logits, y=y, smoothing=smoothing),
        batch=logits.shape[0],
    )


@exercise("ch6.label_smoothing_cross_entropy", points=1)
@given(case=smoothing_case(scale=1.0, smoothings=(0.1, 0.05, 0.3, 0.5, 0.0, 1.0)), big=st.sampled_from([1e3, 1e4]))
def check_label_smoothing_finite_for_large_logits(student, ref, case, big):
    logits, y, smoothing = case
    # the one stability rule: finite and right in float64 and float32. Smoothing 0 and 1
    # come last, so a failing example shrinks to a smoothing where the log of an underflowed
    # probability shows as inf (the docstring's mistake), not as 0 * inf = NaN, which reads
    # as an overflow
    expect_stable(
        student.label_smoothing_cross_entropy,
        lambda logits, y, smoothing: truth(ref.label_smoothing_ce_by_pytorch, logits, y, smoothing),
        dict(logits=logits * big, y=y, smoothing=smoothing),
        name="loss",
        batch=logits.shape[0],
    )


@exercise("ch6.label_smoothing_cross_entropy", points=1, hidden=True)
@given(case=smoothing_case(max_n=40, max_c=12), smoothing=st.floats(0.0, 1.0))
def check_label_smoothing_larger_batches(student, ref, case, smoothing):
    logits, y, _ = case
    expect_close(
        student.label_smoothing_cross_entropy(logits, y, smoothing),
        truth(ref.label_smoothing_ce_by_pytorch, logits, y, smoothing),
        name="loss",
        batch=logits.shape[0],
    )


# --- early stopping ----------------------------------------------------------------------------

# losses and min_delta are multiples of 1/64: every comparison loss < best - min_delta is
# exact, so ties (a plateau, an improvement of exactly min_delta) are decided by the
# contract and not by rounding


@st.composite
def loss_curves(draw, max_len: int = 12):
    n = draw(sizes(1, max_len))
    steps = draw(st.lists(st.sampled_from([-8, -4, -2, -1, 0, 0, 0, 1, 2, 4]), min_size=n - 1, max_size=n - 1))
    level = draw(st.integers(32, 96))
    curve = [level]
    for s in steps:
        curve.append(max(1, curve[-1] + s))
    return [v / 64 for v in curve]


def _check_early_stopping(student, ref, losses, patience, min_delta, reveal=True):
    expect_close(
        student.early_stopping(list(losses), patience, min_delta),
        ref.early_stopping(list(losses), patience, min_delta),
        name=("best_epoch", "stop_epoch"),
        inputs=dict(val_losses=losses, patience=patience, min_delta=min_delta) if reveal else None,
    )


@exercise("ch6.early_stopping", points=2)
@given(losses=loss_curves(), patience=st.integers(1, 4), min_delta=st.sampled_from([0.0, 0.0, 1 / 64, 2 / 64, 4 / 64]))
def check_early_stopping_on_random_curves(student, ref, losses, patience, min_delta):
    _check_early_stopping(student, ref, losses, patience, min_delta)


# hand-made curves: (losses, patience, min_delta)
CRAFTED = [
    ([1.0], 1, 0.0),  # a single epoch never stops
    ([1.0, 1.0, 1.0, 1.0], 2, 0.0),  # a plateau never improves
    ([1.0, 1.25, 1.5, 1.75, 2.0], 1, 0.0),  # never improving, patience 1
    ([1.0, 1.25, 1.5, 1.75, 2.0], 3, 0.0),
    ([2.0, 1.5, 1.0, 0.5, 0.25], 1, 0.0),  # always improving
    ([1.0, 0.75, 0.875, 0.5], 1, 0.0),  # patience 1 stops at the first setback
    ([1.0, 0.875, 0.75, 0.5], 2, 0.125),  # an improvement of exactly min_delta does not count
    ([1.0, 0.75, 0.75, 0.5, 0.5, 0.5], 2, 0.0),  # plateaus after improvements
    ([1.0, 0.5, 0.75, 0.625, 0.25], 3, 0.0),  # an improvement on the last allowed epoch
    ([1.0, 0.5, 0.75, 0.625, 0.25, 0.375], 10, 0.0),  # patience longer than the run
    ([1.0, 0.75, 0.625, 0.5625, 0.53125], 2, 0.0625),  # ever smaller improvements
]


@exercise("ch6.early_stopping", points=1)
@given(case=st.sampled_from(CRAFTED))
def check_early_stopping_on_crafted_curves(student, ref, case):
    _check_early_stopping(student, ref, *case)


@exercise("ch6.early_stopping", points=1, hidden=True)
@given(losses=loss_curves(max_len=80), patience=st.integers(1, 10), min_delta=st.sampled_from([0.0, 1 / 64, 4 / 64]))
def check_early_stopping_long_runs(student, ref, losses, patience, min_delta):
    _check_early_stopping(student, ref, losses, patience, min_delta, reveal=False)


# --- mixup -------------------------------------------------------------------------------------


@st.composite
def mixup_case(draw, images: bool = False):
    dtype = draw(float_dtypes())
    n, c = draw(sizes(2, 6)), draw(sizes(2, 4))
    shape = (n, draw(sizes(1, 3)), draw(sizes(1, 3)), draw(sizes(1, 3))) if images else (n, draw(sizes(1, 4)))
    x = draw(tensors(shape, dtype))
    y = F.one_hot(draw(labels(n, c)), c).to(dtype)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(draw(seeds())))
    lam = draw(st.sampled_from([0.0, 1.0, 0.3, 0.7]) if images else st.floats(0.05, 0.95).filter(lambda v: abs(v - 0.5) > 0.02))
    return x, y, lam, perm


@exercise("ch6.mixup", points=1)
@given(case=mixup_case())
def check_mixup_blends_inputs_and_labels(student, ref, case):
    x, y, lam, perm = case
    expect_close(
        student.mixup(x, y, lam, perm),
        truth(ref.mixup, x, y, lam, perm),
        name=("x_mix", "y_mix"),
        inputs=dict(x=x, y_onehot=y, lam=lam, perm=perm),
    )


@exercise("ch6.mixup", points=1)
@given(case=mixup_case(images=True))
def check_mixup_image_batches_and_lam_zero_or_one(student, ref, case):
    x, y, lam, perm = case
    expect_close(
        student.mixup(x, y, lam, perm),
        truth(ref.mixup, x, y, lam, perm),
        name=("x_mix", "y_mix"),
        inputs=dict(x=x, y_onehot=y, lam=lam, perm=perm),
    )


# --- k-fold ------------------------------------------------------------------------------------


def _sklearn_kfold(n: int, k: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """scikit-learn's KFold(k, shuffle=False).split(range(n)) as int64 tensors."""
    import numpy as np
    from sklearn.model_selection import KFold

    return [(torch.from_numpy(tr.astype(np.int64)), torch.from_numpy(va.astype(np.int64))) for tr, va in KFold(k).split(np.arange(n))]


@st.composite
def kfold_case(draw, max_n: int = 40):
    n = draw(sizes(2, max_n))
    return n, draw(st.integers(2, n))


@exercise("ch6.kfold_indices", points=2)
@given(case=kfold_case())
def check_kfold_indices_consecutive_folds(student, ref, case):
    n, k = case
    expect_close(student.kfold_indices(n, k), ref.kfold_by_tensor_split(n, k), name="folds", inputs=dict(n=n, k=k))


@exercise("ch6.kfold_indices", points=1)
@given(case=st.sampled_from([(10, 3), (7, 2), (5, 5), (2, 2), (12, 4), (11, 10), (100, 7)]))
def check_kfold_indices_remainders_and_leave_one_out(student, ref, case):
    n, k = case
    expect_close(student.kfold_indices(n, k), ref.kfold_by_tensor_split(n, k), name="folds", inputs=dict(n=n, k=k))


@exercise("ch6.kfold_indices", points=1, hidden=True)
@given(case=kfold_case(max_n=500))
def check_kfold_indices_match_sklearn_kfold(student, ref, case):
    n, k = case
    expect_close(student.kfold_indices(n, k), _sklearn_kfold(n, k), name="folds")
