"""Checks for chapter 4: backpropagation, optimiser steps, normalisation.

Expected values come from PyTorch itself (autograd, torch.optim's update kernels, F.batch_norm,
F.layer_norm) or from the reference. Known mistakes are not written here: each is student
code registered in `solutions/mistakes/ch4_backprop.py`, and `expect_close` names the one
a wrong answer matches.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from grader.checks import exercise
from grader.compare import CheckFailure, PartialCredit, expect_close, expect_stable
from grader import optimizers
from grader.precision import autograd, truth
from grader.probes import FUNCTIONS
from grader.strategies import float_dtypes, labels, learning_rates, positive_tensors, sizes, tensors
from grader.wire import Probe

ZEROS = (0.0, -0.0)


# --- linear layer -----------------------------------------------------------------------


@st.composite
def linear_case(draw, max_side: int = 5):
    dtype = draw(float_dtypes())
    n, d, m = draw(sizes(1, max_side)), draw(sizes(1, max_side)), draw(sizes(1, max_side))
    x = draw(tensors((n, d), dtype))
    W = draw(tensors((d, m), dtype))
    b = draw(tensors((m,), dtype))
    dout = draw(tensors((n, m), dtype))
    return x, W, b, dout


@exercise("ch4.linear_forward", points=2)
@given(case=linear_case())
def check_linear_forward_matches_reference(student, ref, case):
    x, W, b, _ = case
    expect_close(
        student.linear_forward(x, W, b),
        truth(ref.linear_forward, x, W, b),
        name="out",
        inputs=dict(x=x, W=W, b=b),
    )


@exercise("ch4.linear_backward", points=3)
@given(case=linear_case())
def check_linear_backward_matches_autograd(student, ref, case):
    x, W, b, dout = case
    expected = autograd(lambda x, W, b: x @ W + b, x, W, b, dout=dout)
    expect_close(
        student.linear_backward(dout, x, W),
        expected,
        name=("dx", "dW", "db"),
        inputs=dict(dout=dout, x=x, W=W),
        batch=x.shape[0],
    )


@exercise("ch4.linear_backward", points=1, hidden=True)
@given(case=linear_case(max_side=12))
def check_linear_backward_larger_layers(student, ref, case):
    x, W, b, dout = case
    expect_close(student.linear_backward(dout, x, W), truth(ref.linear_backward, dout, x, W), name=("dx", "dW", "db"), batch=x.shape[0])


@st.composite
def leading_dims_case(draw):
    """x of shape (B, T, D) or (B, T, S, D): the docstrings promise any leading dims."""
    dtype = draw(float_dtypes())
    lead = draw(st.sampled_from([(2, 3), (3, 1), (2, 2, 3)]))
    d, m = draw(sizes(1, 4)), draw(sizes(1, 4))
    x, W, b = draw(tensors(lead + (d,), dtype)), draw(tensors((d, m), dtype)), draw(tensors((m,), dtype))
    return x, W, b, draw(tensors(lead + (m,), dtype))


@exercise("ch4.linear_forward", points=1)
@given(case=leading_dims_case())
def check_linear_forward_any_leading_dims(student, ref, case):
    x, W, b, _ = case
    with leading_dims(x):
        expect_close(student.linear_forward(x, W, b), truth(lambda x, W, b: x @ W + b, x, W, b), name="out", inputs=dict(x=x, W=W, b=b))


@exercise("ch4.linear_backward", points=1)
@given(case=leading_dims_case())
def check_linear_backward_any_leading_dims(student, ref, case):
    x, W, b, dout = case
    with leading_dims(x):
        expect_close(
            student.linear_backward(dout, x, W),
            autograd(lambda x, W, b: x @ W + b, x, W, b, dout=dout),
            name=("dx", "dW", "db"),
            inputs=dict(dout=dout, x=x, W=W),
        )


@contextmanager
def leading_dims(x: torch.Tensor):
    """Name a failure on an input with several leading dims after them (a crash keeps its
    own message): the same code passed the (N, D) checks, so the leading dims are the cause."""
    try:
        yield
    except CheckFailure as failure:
        if type(failure) not in (CheckFailure, PartialCredit) or failure.key.split(".")[:2] == ["mistake", "ch4"]:  # already named
            raise
        params = {"name": failure.params.get("name", "output"), "shape": tuple(x.shape)}
        if isinstance(failure, PartialCredit):  # some outputs right: they keep their points
            raise PartialCredit(failure.fraction, "mistake.ch4.leading_dims", params, failure.reveal) from None
        raise CheckFailure("mistake.ch4.leading_dims", params, failure.reveal) from None


# --- activations ------------------------------------------------------------------------


@st.composite
def activation_case(draw, scale=2.0, edges=ZEROS):
    dtype = draw(float_dtypes())
    shape = draw(st.sampled_from([(5,), (3, 4), (2, 3, 2)]))
    return draw(tensors(shape, dtype)), draw(tensors(shape, dtype, scale=scale, edges=edges))


@exercise("ch4.relu_backward", points=2)
@given(case=activation_case(edges=()))
def check_relu_backward_matches_autograd(student, ref, case):
    dout, x = case
    (expected,) = autograd(torch.relu, x, dout=dout)
    expect_close(
        student.relu_backward(dout, x),
        expected,
        name="dx",
        inputs=dict(dout=dout, x=x),
    )


@exercise("ch4.relu_backward", points=1)
@given(case=activation_case(edges=(0.0, 0.0, -0.0)))
def check_relu_backward_is_zero_at_zero(student, ref, case):
    dout, x = case
    x = torch.cat([x.flatten(), torch.zeros(2, dtype=x.dtype)])
    dout = torch.cat([dout.flatten(), torch.ones(2, dtype=x.dtype)])
    expect_close(
        student.relu_backward(dout, x),
        truth(ref.relu_backward, dout, x),
        name="dx",
        inputs=dict(dout=dout, x=x),
    )


@exercise("ch4.sigmoid_backward", points=2)
@given(case=activation_case())
def check_sigmoid_backward_matches_autograd(student, ref, case):
    dout, x = case
    (expected,) = autograd(torch.sigmoid, x, dout=dout)
    expect_close(student.sigmoid_backward(dout, x), expected, name="dx", inputs=dict(dout=dout, x=x))


@exercise("ch4.sigmoid_backward", points=1)
@given(dtype=float_dtypes(), big=st.sampled_from([30.0, 100.0, 500.0]))
def check_sigmoid_backward_finite_in_the_tails(student, ref, dtype, big):
    x = torch.tensor([-big, -big / 2, 0.0, big / 2, big], dtype=dtype)
    dout = torch.ones_like(x)
    (expected,) = autograd(torch.sigmoid, x, dout=dout)
    expect_close(student.sigmoid_backward(dout, x), expected, name="dx", inputs=dict(dout=dout, x=x))


@exercise("ch4.tanh_backward", points=2)
@given(case=activation_case())
def check_tanh_backward_matches_autograd(student, ref, case):
    dout, x = case
    (expected,) = autograd(torch.tanh, x, dout=dout)
    expect_close(student.tanh_backward(dout, x), expected, name="dx", inputs=dict(dout=dout, x=x))


@exercise("ch4.tanh_backward", points=1)
@given(dtype=float_dtypes(), big=st.sampled_from([20.0, 100.0, 1000.0]))
def check_tanh_backward_finite_for_large_inputs(student, ref, dtype, big):
    x = torch.tensor([-big, -1.0, 0.0, 1.0, big], dtype=dtype)
    dout = torch.full_like(x, 2.0)
    (expected,) = autograd(torch.tanh, x, dout=dout)
    expect_close(student.tanh_backward(dout, x), expected, name="dx", inputs=dict(dout=dout, x=x))


# --- softmax cross-entropy and the two-layer network --------------------------------------


@st.composite
def classification_case(draw, scale=3.0, max_n=6, max_c=5):
    dtype = draw(float_dtypes())
    n, c = draw(sizes(1, max_n)), draw(sizes(2, max_c))
    return draw(tensors((n, c), dtype, scale=scale)), draw(labels(n, c))


def _ce_autograd(logits, y):
    def run(logits):
        leaf = logits.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            loss = F.cross_entropy(leaf, y)
            (grad,) = torch.autograd.grad(loss, leaf)
        return loss.detach(), grad

    return truth(run, logits)


@exercise("ch4.softmax_cross_entropy", points=3)
@given(case=classification_case())
def check_softmax_cross_entropy_matches_pytorch(student, ref, case):
    logits, y = case
    expect_close(
        student.softmax_cross_entropy(logits, y),
        _ce_autograd(logits, y),
        name=("loss", "dlogits"),
        inputs=dict(logits=logits, y=y),
        batch=logits.shape[0],
    )


@exercise("ch4.softmax_cross_entropy", points=1)
@given(case=classification_case(scale=1.0), big=st.sampled_from([1e3, 1e4]))
def check_softmax_cross_entropy_stable_for_large_logits(student, ref, case, big):
    logits, y = case
    expect_stable(student.softmax_cross_entropy, _ce_autograd, dict(logits=logits * big, y=y), name=("loss", "dlogits"))


@exercise("ch4.softmax_cross_entropy", points=1, hidden=True)
@given(case=classification_case(max_n=40, max_c=12))
def check_softmax_cross_entropy_larger_batches(student, ref, case):
    logits, y = case
    expect_close(student.softmax_cross_entropy(logits, y), _ce_autograd(logits, y), name=("loss", "dlogits"), batch=logits.shape[0])


@st.composite
def mlp_case(draw):
    dtype = draw(float_dtypes())
    n, d, h, c = draw(sizes(1, 6)), draw(sizes(1, 5)), draw(sizes(1, 6)), draw(sizes(2, 4))
    params = {
        "W1": draw(tensors((d, h), dtype)),
        "b1": draw(tensors((h,), dtype, scale=0.5)),
        "W2": draw(tensors((h, c), dtype)),
        "b2": draw(tensors((c,), dtype, scale=0.5)),
    }
    return params, draw(tensors((n, d), dtype)), draw(labels(n, c))


@exercise("ch4.mlp_loss_and_grads", points=4)
@given(case=mlp_case())
def check_mlp_loss_and_grads_match_autograd(student, ref, case):
    params, X, y = case
    expect_close(
        student.mlp_loss_and_grads(params, X, y),
        truth(ref.mlp_loss_and_grads_by_autograd, params, X, y),
        name=("loss", "grads"),
        inputs=dict(params=params, X=X, y=y),
        batch=X.shape[0],
    )


@exercise("ch4.mlp_loss_and_grads", points=1)
@given(case=mlp_case(), big=st.sampled_from([1e2, 1e3]))
def check_mlp_loss_and_grads_stable_for_large_scores(student, ref, case, big):
    params, X, y = case
    params = dict(params, W2=params["W2"] * big, b2=params["b2"] * big)  # scores of size ~big
    expect_stable(student.mlp_loss_and_grads, lambda params, X, y: truth(ref.mlp_loss_and_grads_by_autograd, params, X, y), dict(params=params, X=X, y=y), name=("loss", "grads"), batch=X.shape[0], rtol=1e-3)


@exercise("ch4.mlp_loss_and_grads", points=1, hidden=True)
@given(case=mlp_case(), shift=st.sampled_from([-3.0, 3.0]))
def check_mlp_with_dead_and_live_units(student, ref, case, shift):
    params, X, y = case
    params = dict(params, b1=params["b1"] + shift)  # most hidden units all dead, or all live
    expect_close(
        student.mlp_loss_and_grads(params, X, y),
        truth(ref.mlp_loss_and_grads_by_autograd, params, X, y),
        name=("loss", "grads"),
        batch=X.shape[0],
    )


# --- numerical gradient -----------------------------------------------------------------------


@exercise("ch4.numerical_gradient", points=3)
@given(
    probe=st.sampled_from(sorted(FUNCTIONS)),
    x=tensors(st.sampled_from([(3,), (2, 3)]), torch.float64),
    h=st.sampled_from([1e-2, 1e-3, 1e-4]),
)
def check_numerical_gradient_matches_central_differences(student, ref, probe, x, h):
    f = FUNCTIONS[probe]
    expect_close(
        student.numerical_gradient(Probe(probe), x, h),
        truth(ref.numerical_gradient, f, x, h),
        name="grad",
        inputs=dict(f=probe, x=x, h=h),
        rtol=1e-6,
        atol=1e-7,
    )


@exercise("ch4.numerical_gradient", points=1)
@given(x=tensors((2, 2), torch.float64))
def check_numerical_gradient_default_step_close_to_analytic(student, ref, x):
    expected = 2 * x  # gradient of sum of squares
    expect_close(student.numerical_gradient(Probe("sum_of_squares"), x), expected, name="grad", inputs=dict(f="sum_of_squares", x=x), rtol=1e-6, atol=1e-6)


# --- optimiser steps --------------------------------------------------------------------------


@st.composite
def trajectory(draw, steps=4):
    """A parameter and a few gradients: (w0, [dw_1, ..., dw_k])."""
    dtype = draw(float_dtypes())
    shape = draw(st.sampled_from([(3,), (2, 3)]))
    w = draw(tensors(shape, dtype))
    grads = [draw(tensors(shape, dtype, edges=(0.0, 1e-6))) for _ in range(steps)]
    return w, grads


@exercise("ch4.sgd_step", points=2)
@given(case=trajectory(steps=1), lr=learning_rates())
def check_sgd_step_matches_torch_optim(student, ref, case, lr):
    w, (dw,) = case
    [(expected, _)] = optimizers.trajectory("sgd", w, [dw], lr=lr)
    expect_close(student.sgd_step(w, dw, lr), expected, name="w", inputs=dict(w=w, dw=dw, lr=lr))


@exercise("ch4.sgd_momentum_step", points=3)
@given(case=trajectory(), lr=learning_rates(), momentum=st.sampled_from([0.0, 0.5, 0.9]), nesterov=st.booleans())
def check_sgd_momentum_matches_torch_optim(student, ref, case, lr, momentum, nesterov):
    w0, grads = case
    nesterov = nesterov and momentum > 0
    expected = optimizers.trajectory("sgd", w0, grads, lr=lr, momentum=momentum, nesterov=nesterov)
    w, v = w0, torch.zeros_like(w0)
    for t, (dw, exp) in enumerate(zip(grads, expected), start=1):
        expect_close(
            student.sgd_momentum_step(w, dw, v, lr, momentum, nesterov),
            exp,
            name=(f"w after step {t}", f"v after step {t}"),
            inputs=dict(w=w, dw=dw, v=v, lr=lr, momentum=momentum, nesterov=nesterov),
        )
        w, v = exp  # continue from the expected state, so each step is judged on its own


@exercise("ch4.sgd_momentum_step", points=1, hidden=True)
@given(case=trajectory(steps=8), lr=learning_rates())
def check_sgd_nesterov_long_run(student, ref, case, lr):
    w0, grads = case
    expected = optimizers.trajectory("sgd", w0, grads, lr=lr, momentum=0.9, nesterov=True)
    w, v = w0, torch.zeros_like(w0)
    for dw in grads:
        w, v = student.sgd_momentum_step(w, dw, v, lr, 0.9, True)
    expect_close((w, v), expected[-1], name=("w after 8 steps", "v after 8 steps"))


@exercise("ch4.rmsprop_step", points=3)
@given(case=trajectory(), lr=learning_rates(), alpha=st.sampled_from([0.9, 0.99]), eps=st.sampled_from([1e-8, 1e-3]))
def check_rmsprop_matches_torch_optim(student, ref, case, lr, alpha, eps):
    w0, grads = case
    expected = optimizers.trajectory("rmsprop", w0, grads, lr=lr, alpha=alpha, eps=eps)
    w, s = w0, torch.zeros_like(w0)
    for t, (dw, exp) in enumerate(zip(grads, expected), start=1):
        expect_close(
            student.rmsprop_step(w, dw, s, lr, alpha, eps),
            exp,
            name=(f"w after step {t}", f"s after step {t}"),
            inputs=dict(w=w, dw=dw, s=s, lr=lr, alpha=alpha, eps=eps),
        )
        w, s = exp


@exercise("ch4.rmsprop_step", points=1, hidden=True)
@given(case=trajectory(steps=6))
def check_rmsprop_default_hyperparameters(student, ref, case):
    w0, grads = case
    expected = optimizers.trajectory("rmsprop", w0, grads, lr=0.01)
    w, s = w0, torch.zeros_like(w0)
    for dw in grads:
        w, s = student.rmsprop_step(w, dw, s, 0.01)
    expect_close((w, s), expected[-1], name=("w after 6 steps", "s after 6 steps"))


@exercise("ch4.adam_step", points=4)
@given(
    case=trajectory(),
    lr=learning_rates(),
    betas=st.sampled_from([(0.9, 0.999), (0.5, 0.9)]),
    eps=st.sampled_from([1e-8, 1e-2]),
    wd=st.sampled_from([0.0, 0.1]),
)
def check_adam_matches_torch_optim(student, ref, case, lr, betas, eps, wd):
    w0, grads = case
    b1, b2 = betas
    expected = optimizers.trajectory("adam", w0, grads, lr=lr, betas=betas, eps=eps, weight_decay=wd)
    w, m, v = w0, torch.zeros_like(w0), torch.zeros_like(w0)
    for t, (dw, exp) in enumerate(zip(grads, expected), start=1):
        expect_close(
            student.adam_step(w, dw, m, v, t, lr, b1, b2, eps, wd),
            exp,
            name=(f"w after step {t}", f"m after step {t}", f"v after step {t}"),
            inputs=dict(w=w, dw=dw, m=m, v=v, t=t, lr=lr, beta1=b1, beta2=b2, eps=eps, weight_decay=wd),
        )
        w, m, v = exp


@exercise("ch4.adam_step", points=1, hidden=True)
@given(case=trajectory(steps=10), lr=learning_rates())
def check_adam_ten_steps_with_defaults(student, ref, case, lr):
    w0, grads = case
    expected = optimizers.trajectory("adam", w0, grads, lr=lr)
    w, m, v = w0, torch.zeros_like(w0), torch.zeros_like(w0)
    for t, dw in enumerate(grads, start=1):
        w, m, v = student.adam_step(w, dw, m, v, t, lr)
    expect_close((w, m, v), expected[-1], name=("w after 10 steps", "m after 10 steps", "v after 10 steps"))


# --- normalisation ------------------------------------------------------------------------------


# normalisation divides by a standard deviation that may be small: float32 answers carry
# rounding error amplified by 1 / sigma, so they get a looser (still tight) tolerance
NORM_TOLERANCE = {torch.float64: {}, torch.float32: {"rtol": 1e-3, "atol": 2e-4}}


@st.composite
def norm_case(draw, min_n=2, max_n=6, offset=0.0):
    dtype = draw(float_dtypes())
    n, d = draw(sizes(min_n, max_n)), draw(sizes(1, 5))
    x = draw(tensors((n, d), dtype, scale=2.0)) + offset
    gamma = draw(tensors((d,), dtype))
    beta = draw(tensors((d,), dtype))
    return x, gamma, beta


@st.composite
def batchnorm_case(draw):
    x, gamma, beta = draw(norm_case())
    d = x.shape[1]
    running_mean = draw(tensors((d,), x.dtype))
    running_var = draw(positive_tensors((d,), x.dtype))
    momentum = draw(st.sampled_from([0.1, 0.5]))
    return x, gamma, beta, running_mean, running_var, momentum


@exercise("ch4.batchnorm_forward", points=3)
@given(case=batchnorm_case(), eps=st.sampled_from([1e-5, 1e-2]))
def check_batchnorm_training_matches_pytorch(student, ref, case, eps):
    x, gamma, beta, rm, rv, momentum = case
    expect_close(
        student.batchnorm_forward(x, gamma, beta, rm, rv, momentum, eps, True),
        truth(ref.batch_norm_by_pytorch, x, gamma, beta, rm, rv, momentum, eps, True),
        name=("out", "running_mean", "running_var"),
        inputs=dict(x=x, gamma=gamma, beta=beta, running_mean=rm, running_var=rv, momentum=momentum, eps=eps),
    )


@exercise("ch4.batchnorm_forward", points=2)
@given(case=batchnorm_case())
def check_batchnorm_eval_uses_running_statistics(student, ref, case):
    x, gamma, beta, rm, rv, momentum = case
    expect_close(
        student.batchnorm_forward(x, gamma, beta, rm, rv, momentum, 1e-5, False),
        truth(ref.batch_norm_by_pytorch, x, gamma, beta, rm, rv, momentum, 1e-5, False),
        name=("out", "running_mean", "running_var"),
        inputs=dict(x=x, gamma=gamma, beta=beta, running_mean=rm, running_var=rv, training=False),
    )


@exercise("ch4.batchnorm_backward", points=4)
@given(case=norm_case(), eps=st.sampled_from([1e-5, 1e-1]))
def check_batchnorm_backward_matches_autograd(student, ref, case, eps):
    x, gamma, _ = case
    dout = torch.randn(x.shape, generator=torch.Generator().manual_seed(x.numel()), dtype=torch.float64).to(x.dtype)
    expect_close(
        student.batchnorm_backward(dout, x, gamma, eps),
        truth(ref.norm_backward_by_autograd, "batch", dout, x, gamma, eps),
        name=("dx", "dgamma", "dbeta"),
        inputs=dict(dout=dout, x=x, gamma=gamma, eps=eps),
        batch=x.shape[0],
        **NORM_TOLERANCE[x.dtype],
    )


@exercise("ch4.batchnorm_backward", points=1, hidden=True)
@given(case=norm_case(min_n=8, max_n=32))
def check_batchnorm_backward_larger_batches(student, ref, case):
    x, gamma, beta = case
    expect_close(student.batchnorm_backward(beta.expand_as(x).contiguous(), x, gamma), truth(ref.norm_backward_by_autograd, "batch", beta.expand_as(x), x, gamma, 1e-5), name=("dx", "dgamma", "dbeta"), batch=x.shape[0])


@exercise("ch4.layernorm_forward", points=3)
@given(case=norm_case(min_n=1), eps=st.sampled_from([1e-5, 1e-2]))
def check_layernorm_matches_pytorch(student, ref, case, eps):
    x, gamma, beta = case
    expect_close(
        student.layernorm_forward(x, gamma, beta, eps),
        truth(F.layer_norm, x, x.shape[-1:], gamma, beta, eps),
        name="out",
        inputs=dict(x=x, gamma=gamma, beta=beta, eps=eps),
        **NORM_TOLERANCE[x.dtype],
    )


@exercise("ch4.layernorm_forward", points=1)
@given(case=norm_case(min_n=1, offset=1000.0))
def check_layernorm_with_a_large_offset(student, ref, case):
    # the docstring's promise: rows far from 0 (offset 1000) in float32, which E[x^2] - E[x]^2 loses
    x, gamma, beta = case
    try:
        expect_close(student.layernorm_forward(x, gamma, beta), truth(F.layer_norm, x, x.shape[-1:], gamma, beta, 1e-5), name="out", inputs=dict(x=x, gamma=gamma, beta=beta), rtol=1e-3, atol=1e-3)
    except CheckFailure as failure:
        if type(failure) is not CheckFailure or not failure.key.startswith(("compare.mismatch", "mistake.nonfinite")):
            raise
        raise CheckFailure("mistake.ch4.layernorm_forward.large_offset", failure.params, failure.reveal) from None


@exercise("ch4.layernorm_forward", points=1)
@given(case=leading_dims_case())
def check_layernorm_forward_any_leading_dims(student, ref, case):
    x, gamma, beta, _ = case
    gamma, beta = x[(0,) * (x.dim() - 1)].clone(), x[(-1,) * (x.dim() - 1)].clone()  # (D,)
    with leading_dims(x):
        expect_close(student.layernorm_forward(x, gamma, beta), truth(F.layer_norm, x, x.shape[-1:], gamma, beta, 1e-5), name="out", inputs=dict(x=x, gamma=gamma, beta=beta), **NORM_TOLERANCE[x.dtype])


@exercise("ch4.layernorm_backward", points=1)
@given(case=leading_dims_case())
def check_layernorm_backward_any_leading_dims(student, ref, case):
    x, _, _, _ = case
    gamma = x[(0,) * (x.dim() - 1)].clone()
    dout = torch.randn(x.shape, generator=torch.Generator().manual_seed(x.numel()), dtype=torch.float64).to(x.dtype)
    with leading_dims(x):
        expect_close(
            student.layernorm_backward(dout, x, gamma),
            truth(ref.norm_backward_by_autograd, "layer", dout, x, gamma, 1e-5),
            name=("dx", "dgamma", "dbeta"),
            inputs=dict(dout=dout, x=x, gamma=gamma),
            **NORM_TOLERANCE[x.dtype],
        )


@exercise("ch4.layernorm_backward", points=4)
@given(case=norm_case(min_n=1), eps=st.sampled_from([1e-5, 1e-1]))
def check_layernorm_backward_matches_autograd(student, ref, case, eps):
    x, gamma, _ = case
    dout = torch.randn(x.shape, generator=torch.Generator().manual_seed(x.numel()), dtype=torch.float64).to(x.dtype)
    expect_close(
        student.layernorm_backward(dout, x, gamma, eps),
        truth(ref.norm_backward_by_autograd, "layer", dout, x, gamma, eps),
        name=("dx", "dgamma", "dbeta"),
        inputs=dict(dout=dout, x=x, gamma=gamma, eps=eps),
        batch=x.shape[0],
        **NORM_TOLERANCE[x.dtype],
    )


@exercise("ch4.layernorm_backward", points=1, hidden=True)
@given(case=norm_case(min_n=1, max_n=16))
def check_layernorm_backward_wider_rows(student, ref, case):
    x, gamma, beta = case
    x = torch.cat([x, x * 2], dim=1)
    gamma = torch.cat([gamma, gamma])
    dout = torch.ones_like(x)
    expect_close(student.layernorm_backward(dout, x, gamma), truth(ref.norm_backward_by_autograd, "layer", dout, x, gamma, 1e-5), name=("dx", "dgamma", "dbeta"))
