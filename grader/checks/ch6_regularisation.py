"""Checks for chapter 6: dropout, AdamW, label smoothing, early stopping, mixup, k-fold.

Expected values come from PyTorch (autograd of the masked forward, `torch.optim.AdamW`,
`F.cross_entropy(label_smoothing=)`), scikit-learn (`KFold`) or the contract's formula
in float64; known mistakes are recomputed here so feedback can name them. Early
stopping returns plain integers, which the generic comparison cannot diagnose, so its
known mistakes are matched here (`_expect_outcome`).
"""

from __future__ import annotations


import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from grader import diagnose
from grader.checks import exercise
from grader import optimizers
from grader.diagnose import nearest
from grader.compare import expect, expect_close, expect_stable, fail
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
        truth(ref.dropout_masked, x, p, u),
        name="out",
        inputs=dict(x=x, p=p, u=u, training=True),
        mistakes={
            "mistake.ch6.dropout_forward.no_rescale": truth(ref.dropout_masked, x, p, u, scale=False),
            "mistake.ch6.dropout_forward.keep_below_p": truth(ref.dropout_masked, x, p, u, keep="below_p"),
        },
    )


@exercise("ch6.dropout_forward", points=1)
@given(case=dropout_case(ps=(1.0, 0.0, 0.5, 0.9)), training=st.booleans())
def check_dropout_forward_p_one_and_eval_mode(student, ref, case, training):
    x, _, p, u = case
    p = 1.0 if training else p  # training: p = 1 drops everything; eval: x whatever p is
    got = student.dropout_forward(x, p, u, training)
    if training:
        expected = torch.zeros_like(x)
        mistakes = {"mistake.ch6.dropout_forward.p_one_nan": truth(lambda x, u: x * (u >= p).to(x.dtype) / (1 - p), x, u)}
    else:
        expected = x.clone()
        wrong_eval = [x * (1 - p), truth(ref.dropout_masked, x, p, u), truth(ref.dropout_masked, x, p, u, scale=False)]
        mistakes = {"mistake.ch6.dropout_forward.eval_changed": nearest(got, wrong_eval)}
    expect_close(got, expected, name="out", inputs=dict(x=x, p=p, u=u, training=training), mistakes=mistakes)


@exercise("ch6.dropout_forward", points=1, hidden=True)
@given(case=dropout_case(max_side=12))
def check_dropout_forward_larger_tensors(student, ref, case):
    x, _, p, u = case
    expect_close(
        student.dropout_forward(x, p, u),
        truth(ref.dropout_masked, x, p, u),
        name="out",
        mistakes={"mistake.ch6.dropout_forward.no_rescale": truth(ref.dropout_masked, x, p, u, scale=False)},
    )


@exercise("ch6.dropout_backward", points=2)
@given(case=dropout_case())
def check_dropout_backward_matches_autograd(student, ref, case):
    _, dout, p, u = case
    expect_close(
        student.dropout_backward(dout, p, u),
        truth(ref.dropout_backward_by_autograd, dout, p, u),
        name="dx",
        inputs=dict(dout=dout, p=p, u=u),
        mistakes={
            "mistake.ch6.dropout_backward.no_rescale": truth(ref.dropout_masked, dout, p, u, scale=False),
            "mistake.ch6.dropout_backward.keep_below_p": truth(ref.dropout_masked, dout, p, u, keep="below_p"),
        },
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
        mistakes={"mistake.ch6.dropout_backward.p_one_nan": truth(lambda d, u: d * (u >= p).to(d.dtype) / (1 - p), dout, u)} if p == 1 else None,
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
            mistakes=truth(ref.adamw_mistake_outputs, w, dw, m, v, t, lr, b1, b2, eps, wd),
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
def smoothing_case(draw, scale: float = 3.0, max_n: int = 6, max_c: int = 5):
    dtype = draw(float_dtypes())
    n, c = draw(sizes(1, max_n)), draw(sizes(2, max_c))
    logits = draw(tensors((n, c), dtype, scale=scale))
    smoothing = draw(st.sampled_from([0.0, 0.05, 0.1, 0.3, 0.5, 1.0]))
    return logits, draw(labels(n, c)), smoothing


def _smoothing_mistakes(ref, got, logits, y, smoothing) -> dict:
    out = truth(ref.label_smoothing_mistake_outputs, logits, y, smoothing)
    return {
        "mistake.ch6.label_smoothing_cross_entropy.smooth_over_other_classes": out["other"],
        "mistake.ch6.label_smoothing_cross_entropy.no_uniform_term": nearest(got, out["no_uniform"]),
        "mistake.ch6.label_smoothing_cross_entropy.not_mean": out["sum"],
    }


@exercise("ch6.label_smoothing_cross_entropy", points=3)
@given(case=smoothing_case())
def check_label_smoothing_matches_pytorch(student, ref, case):
    logits, y, smoothing = case
    got = student.label_smoothing_cross_entropy(logits, y, smoothing)
    expect_close(
        got,
        truth(ref.label_smoothing_ce_by_pytorch, logits, y, smoothing),
        name="loss",
        inputs=dict(logits=logits, y=y, smoothing=smoothing),
        batch=logits.shape[0],
        mistakes=_smoothing_mistakes(ref, got, logits, y, smoothing),
    )


@exercise("ch6.label_smoothing_cross_entropy", points=1)
@given(case=smoothing_case(scale=1.0), big=st.sampled_from([1e3, 1e4]))
def check_label_smoothing_finite_for_large_logits(student, ref, case, big):
    logits, y, smoothing = case
    # the one stability rule: finite and right in float64 and float32
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
    got = student.label_smoothing_cross_entropy(logits, y, smoothing)
    expect_close(got, truth(ref.label_smoothing_ce_by_pytorch, logits, y, smoothing), name="loss", batch=logits.shape[0], mistakes=_smoothing_mistakes(ref, got, logits, y, smoothing))


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


def _stopping_mistakes(ref, losses, patience, min_delta) -> dict[str, list[tuple]]:
    replay = ref.early_stopping_replay
    expected = replay(losses, patience, min_delta)
    first_min = min(range(len(losses)), key=lambda e: (losses[e], e))
    last_min = max(range(len(losses)), key=lambda e: (-losses[e], e))
    # most specific first: on a small curve several mistakes can give the same answer
    return {
        "mistake.ch6.early_stopping.best_not_updated": [replay(losses, patience, min_delta, best_moves=False)],
        "mistake.ch6.early_stopping.equal_counts_as_improvement": [replay(losses, patience, min_delta, strict=False)],
        "mistake.ch6.early_stopping.min_delta_ignored": [replay(losses, patience, 0.0)],
        "mistake.ch6.early_stopping.patience_off_by_one": [
            replay(losses, patience, min_delta, limit=patience + 1),
            replay(losses, patience, min_delta, limit=max(1, patience - 1)),
            (expected[0], expected[1] + 1) if expected[1] is not None else None,
            (expected[0], expected[1] - 1) if expected[1] is not None else None,
        ],
        # only a best epoch later than the stop epoch is this mistake
        "mistake.ch6.early_stopping.best_after_stop": [
            (best, expected[1])
            for best in (replay(losses, patience, min_delta, stop=False)[0], first_min, last_min)
            if expected[1] is not None and best > expected[1]
        ],
        "mistake.ch6.early_stopping.best_is_argmin": [(first_min, expected[1]), (last_min, expected[1])],
    }


# for each known mistake, a curve (losses, patience, min_delta) on which it alone goes
# wrong: when a failing curve fits several mistakes, these tell them apart
SIGNATURES = {
    "mistake.ch6.early_stopping.best_not_updated": ([1.0, 0.5, 0.75, 0.625, 0.875], 2, 0.0),
    "mistake.ch6.early_stopping.equal_counts_as_improvement": ([1.0, 1.0, 1.0], 1, 0.0),
    "mistake.ch6.early_stopping.min_delta_ignored": ([1.0, 0.9375, 0.875], 1, 0.125),
    "mistake.ch6.early_stopping.patience_off_by_one": ([1.0, 1.25, 1.5, 1.75, 2.0], 2, 0.0),
    "mistake.ch6.early_stopping.best_after_stop": ([1.0, 1.25, 1.5, 0.5], 2, 0.0),
    "mistake.ch6.early_stopping.best_is_argmin": ([1.0, 0.9375, 1.25, 1.5], 2, 0.125),
}


def _same_outcome(a, b) -> bool:
    return isinstance(a, (tuple, list)) and isinstance(b, tuple) and len(a) == len(b) and all(type(x) is type(y) and x == y for x, y in zip(a, b))


def _expect_outcome(ref, ask, got, expected: tuple, mistakes: dict[str, list[tuple]], inputs: dict | None) -> None:
    """Compare a plain (best_epoch, stop_epoch) answer; name a known mistake it matches.
    `ask(losses, patience, min_delta)` calls the student again, only to tell apart
    mistakes that all explain the failing answer."""
    # every `ref` call made up front, so a release (which answers `ref` from recorded
    # outputs) can tell the mistakes apart too
    signatures = {key: _stopping_mistakes(ref, *SIGNATURES[key])[key] for key in SIGNATURES}
    if not _same_outcome(got, expected):
        reveal = {"inputs": diagnose.show(inputs), "expected": repr(expected), "got": repr(got)} if inputs else None
        fits = [key for key, options in mistakes.items() if any(o is not None and o != expected and _same_outcome(got, o) for o in options)]
        if len(fits) > 1:
            for key in fits:
                losses, patience, min_delta = SIGNATURES[key]
                wrong = [o for o in signatures[key] if o is not None]
                if any(_same_outcome(ask(list(losses), patience, min_delta), o) for o in wrong):
                    fail(key, reveal)
        if fits:
            fail(fits[0], reveal)
    expect_close(got, expected, name=("best_epoch", "stop_epoch"), inputs=inputs)


@exercise("ch6.early_stopping", points=2)
@given(losses=loss_curves(), patience=st.integers(1, 4), min_delta=st.sampled_from([0.0, 0.0, 1 / 64, 2 / 64, 4 / 64]))
def check_early_stopping_on_random_curves(student, ref, losses, patience, min_delta):
    _expect_outcome(
        ref,
        student.early_stopping,
        student.early_stopping(losses, patience, min_delta),
        ref.early_stopping_replay(losses, patience, min_delta),
        _stopping_mistakes(ref, losses, patience, min_delta),
        dict(val_losses=losses, patience=patience, min_delta=min_delta),
    )


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
    losses, patience, min_delta = case
    _expect_outcome(
        ref,
        student.early_stopping,
        student.early_stopping(list(losses), patience, min_delta),
        ref.early_stopping_replay(losses, patience, min_delta),
        _stopping_mistakes(ref, losses, patience, min_delta),
        dict(val_losses=losses, patience=patience, min_delta=min_delta),
    )


@exercise("ch6.early_stopping", points=1, hidden=True)
@given(losses=loss_curves(max_len=80), patience=st.integers(1, 10), min_delta=st.sampled_from([0.0, 1 / 64, 4 / 64]))
def check_early_stopping_long_runs(student, ref, losses, patience, min_delta):
    _expect_outcome(ref, student.early_stopping, student.early_stopping(losses, patience, min_delta), ref.early_stopping_replay(losses, patience, min_delta), _stopping_mistakes(ref, losses, patience, min_delta), None)


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


def _mixup_mistakes(got, x, y, lam, perm) -> dict:
    def blend(a, b, weight):
        return truth(lambda a, b: weight * a + (1 - weight) * b, a, b)

    partners = [
        (blend(x, x.flip(0), lam), blend(y, y.flip(0), lam)),
        (blend(x, x.roll(1, 0), lam), blend(y, y.roll(1, 0), lam)),
        (blend(x, x.roll(-1, 0), lam), blend(y, y.roll(-1, 0), lam)),
        (blend(x, x[perm.argsort()], lam), blend(y, y[perm.argsort()], lam)),  # the inverse permutation
    ]
    x_got = got[0] if isinstance(got, (tuple, list)) and got else None
    x_partner = nearest(x_got, [p[0] for p in partners])
    y_partner = next(p[1] for p in partners if p[0] is x_partner)
    return {
        "mistake.ch6.mixup.labels_not_mixed": (None, y),
        "mistake.ch6.mixup.swapped_lam": (blend(x, x[perm], 1 - lam), blend(y, y[perm], 1 - lam)),
        "mistake.ch6.mixup.perm_ignored": (x_partner, y_partner),
    }


@exercise("ch6.mixup", points=1)
@given(case=mixup_case())
def check_mixup_blends_inputs_and_labels(student, ref, case):
    x, y, lam, perm = case
    got = student.mixup(x, y, lam, perm)
    expect_close(
        got,
        truth(ref.mixup, x, y, lam, perm),
        name=("x_mix", "y_mix"),
        inputs=dict(x=x, y_onehot=y, lam=lam, perm=perm),
        mistakes=_mixup_mistakes(got, x, y, lam, perm),
    )


@exercise("ch6.mixup", points=1)
@given(case=mixup_case(images=True))
def check_mixup_image_batches_and_lam_zero_or_one(student, ref, case):
    x, y, lam, perm = case
    got = student.mixup(x, y, lam, perm)
    expect_close(
        got,
        truth(ref.mixup, x, y, lam, perm),
        name=("x_mix", "y_mix"),
        inputs=dict(x=x, y_onehot=y, lam=lam, perm=perm),
        mistakes=_mixup_mistakes(got, x, y, lam, perm),
    )


# --- k-fold ------------------------------------------------------------------------------------


def _sklearn_kfold(n: int, k: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """scikit-learn's KFold(k, shuffle=False).split(range(n)) as int64 tensors."""
    import numpy as np
    from sklearn.model_selection import KFold

    return [(torch.from_numpy(tr.astype(np.int64)), torch.from_numpy(va.astype(np.int64))) for tr, va in KFold(k).split(np.arange(n))]


def _kfold_diagnosis(got: object, expected: list, inputs: dict | None) -> None:
    """Name the usual k-fold mistakes before the leaf-by-leaf comparison."""
    if not isinstance(got, (list, tuple)) or len(got) != len(expected):
        return
    if not all(isinstance(f, (list, tuple)) and len(f) == 2 and all(isinstance(t, torch.Tensor) and t.dim() == 1 for t in f) for f in got):
        return
    reveal = {"inputs": diagnose.show(inputs)} if inputs else None
    if any(t.dtype != torch.int64 for f in got for t in f):
        fail("mistake.ch6.kfold_indices.dtype", reveal)
    n, k = sum(len(v) for _, v in expected), len(expected)
    sizes_got = [len(v) for _, v in got]
    remainder_last = [n // k] * (k - 1) + [n - (k - 1) * (n // k)]
    if sizes_got != [len(v) for _, v in expected] and sizes_got == remainder_last:
        fail("mistake.ch6.kfold_indices.remainder_last", reveal)
    for train, val in got:
        if bool(torch.isin(train, val).any()):
            fail("mistake.ch6.kfold_indices.overlap", reveal)
    for (train, val), (etrain, eval_) in zip(got, expected):
        for t, e in ((train, etrain), (val, eval_)):
            if t.shape == e.shape and not torch.equal(t, e) and torch.equal(t.sort().values, e):
                fail("mistake.ch6.kfold_indices.order", reveal)


@st.composite
def kfold_case(draw, max_n: int = 40):
    n = draw(sizes(2, max_n))
    return n, draw(st.integers(2, n))


@exercise("ch6.kfold_indices", points=2)
@given(case=kfold_case())
def check_kfold_indices_consecutive_folds(student, ref, case):
    n, k = case
    expected = ref.kfold_by_tensor_split(n, k)
    got = student.kfold_indices(n, k)
    inputs = dict(n=n, k=k)
    _kfold_diagnosis(got, expected, inputs)
    expect_close(got, expected, name="folds", inputs=inputs)


@exercise("ch6.kfold_indices", points=1)
@given(case=st.sampled_from([(10, 3), (7, 2), (5, 5), (2, 2), (12, 4), (11, 10), (100, 7)]))
def check_kfold_indices_remainders_and_leave_one_out(student, ref, case):
    n, k = case
    expected = ref.kfold_by_tensor_split(n, k)
    got = student.kfold_indices(n, k)
    inputs = dict(n=n, k=k)
    _kfold_diagnosis(got, expected, inputs)
    expect_close(got, expected, name="folds", inputs=inputs)


@exercise("ch6.kfold_indices", points=1, hidden=True)
@given(case=kfold_case(max_n=500))
def check_kfold_indices_match_sklearn_kfold(student, ref, case):
    n, k = case
    expected = _sklearn_kfold(n, k)
    got = student.kfold_indices(n, k)
    _kfold_diagnosis(got, expected, None)
    expect_close(got, expected, name="folds")
