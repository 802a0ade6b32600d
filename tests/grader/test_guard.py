"""The banned-call guard: the source scan (calls on branches the checks never take) and
the TorchFunctionMode (calls however they are spelled)."""

from __future__ import annotations

import textwrap

import pytest
import torch
import torch.nn.functional as F

from grader.guard import BannedCall, Guard, scan

SOURCE = textwrap.dedent(
    """
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.nn.functional import conv2d
    import my_helpers as mine

    def _helper(x, w):
        return conv2d(x, w)

    def uses_helper(x, w):
        if x.shape[0] > 1000:  # never taken by the checks
            return _helper(x, w)
        return x

    def method(x):
        return x.softmax(-1)

    def own_module(x):
        return mine.softmax(x)

    def long_name(x):
        return nn.functional.layer_norm(x, x.shape[-1:])

    def autograd(x):
        y = x.clone().requires_grad_()
        return torch.autograd.grad(y.sum(), y)

    def factory(x):
        return torch.zeros(3, requires_grad=True)

    def clean(x):
        return x * 2  # F.softmax in a comment is fine
    """
)


@pytest.mark.parametrize(
    "function, banned, autograd_allowed, expected",
    [
        ("uses_helper", ("torch.nn.functional.conv2d",), False, ("torch.nn.functional.conv2d", 9)),
        ("method", ("torch.Tensor.softmax",), False, ("torch.Tensor.softmax", 17)),
        ("own_module", ("torch.Tensor.softmax",), False, None),
        ("long_name", ("torch.nn.functional.layer_norm",), False, ("torch.nn.functional.layer_norm", 23)),
        ("autograd", (), False, ("torch.Tensor.requires_grad_", 26)),
        ("autograd", (), True, None),
        ("factory", (), False, ("requires_grad=True", 30)),
        ("clean", ("torch.nn.functional.softmax",), False, None),
    ],
)
def test_source_scan(function, banned, autograd_allowed, expected):
    assert scan(SOURCE, function, banned, autograd_allowed) == expected


@pytest.mark.parametrize("call", [lambda x: F.softmax(x, -1), lambda x: torch.softmax(x, -1), lambda x: x.softmax(-1)])
def test_mode_sees_every_spelling_and_records_even_when_caught(call):
    guard = Guard(["torch.nn.functional.softmax", "torch.softmax", "torch.Tensor.softmax"], autograd_allowed=False)
    with guard:
        try:
            call(torch.randn(3))
        except BannedCall:
            pass  # student code that swallows the exception
    assert guard.violation in ("torch.nn.functional.softmax", "torch.softmax", "torch.Tensor.softmax")


def test_mode_allows_what_is_not_banned():
    guard = Guard(["torch.nn.functional.softmax"], autograd_allowed=False)
    with guard:
        out = torch.exp(torch.randn(3)).sum()
    assert guard.violation is None and torch.isfinite(out)


# --- the dispatcher layer and tensor-state autograd (issue 14) -------------------------------


def _tripped(banned, body, autograd_allowed=False):
    guard = Guard(banned, autograd_allowed=autograd_allowed)
    with guard:
        try:
            body()
        except BannedCall:
            pass
    return guard.violation


LAYER_NORM = ("torch.nn.functional.layer_norm", "torch.layer_norm")
BATCH_NORM = ("torch.nn.functional.batch_norm", "torch.batch_norm")


def _disabled_batch_norm():
    norm = getattr(F, "batch" + "_norm")
    with torch._C.DisableTorchFunction():
        norm(torch.randn(4, 3), None, None, training=True)


@pytest.mark.parametrize(
    "banned, body",
    [
        (LAYER_NORM, lambda: torch.ops.aten.native_layer_norm(torch.randn(2, 3), [3], None, None, 1e-5)),
        (BATCH_NORM, _disabled_batch_norm),
        (("torch.optim",), lambda: torch.optim.SGD([torch.zeros(2)], lr=0.1)),
        (("torch.optim",), lambda: torch._foreach_mul_([torch.zeros(2)], 2.0)),
    ],
)
def test_dispatcher_sees_a_banned_kernel_however_it_is_reached(banned, body):
    assert _tripped(banned, body) is not None


def test_by_hand_normalisation_does_not_trip_the_dispatcher():
    def by_hand():
        x = torch.randn(4, 5)
        return (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + 1e-5)

    assert _tripped(LAYER_NORM + BATCH_NORM, by_hand) is None


@pytest.mark.parametrize(
    "body",
    [
        lambda: torch.nn.Parameter(torch.randn(3)) * 2,
        lambda: getattr(torch, "auto" + "grad").grad((torch.randn(2).requires_grad_(True) * 2).sum(), []),
    ],
)
def test_autograd_is_judged_by_tensor_state(body):
    assert _tripped((), body) == "requires_grad" or _tripped((), body) in ("torch.autograd.grad", "torch.Tensor.requires_grad_")


def test_requires_grad_false_and_an_own_backward_method_are_fine():
    class Layer:
        def backward(self, d):
            return d * 2

    def body():
        w = torch.randn(3)
        w.requires_grad = False
        return Layer().backward(w)

    assert _tripped((), body) is None
    assert scan("def f(x):\n    layer.backward(x)\n    x.requires_grad_(False)\n    return x\n", "f", (), False) is None


def _modes_on() -> tuple[bool, bool]:
    from torch.utils._python_dispatch import _get_current_dispatch_mode

    return torch._C._is_torch_function_mode_enabled(), _get_current_dispatch_mode() is not None


def test_a_guard_that_nothing_could_trip_sends_no_call_through_python():
    """A training exercise (autograd allowed, nothing banned) runs at torch's own speed:
    every torch call through the guard's Python modes doubled a diffusion model's training."""
    with Guard([], autograd_allowed=True) as guard:
        inside = _modes_on()
        w = torch.randn(3, requires_grad=True)
        (w * 2).sum().backward()
    assert inside == (False, False) and guard.violation is None and not guard.tampered
    assert w.grad is not None
    for banned, autograd_allowed in (([], False), (["torch.nn.functional.softmax"], True), (["torch.optim"], True)):
        with Guard(banned, autograd_allowed):
            assert _modes_on() == (True, True), (banned, autograd_allowed)
    assert _modes_on() == (False, False)


def test_a_mode_left_pushed_inside_an_idle_guard_is_tampering():
    """The idle guard pushes no mode, yet a call that leaves one of its own active (it
    would see every later call's tensors) is still reported, as with the other guards."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Spy(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            return func(*args, **(kwargs or {}))

    spy = Spy()
    with Guard([], autograd_allowed=True) as guard:
        spy.__enter__()
    try:
        assert guard.tampered
    finally:
        spy.__exit__(None, None, None)
    with Guard([], autograd_allowed=True) as guard, Spy():
        torch.randn(2) * 2
    assert not guard.tampered and _modes_on() == (False, False)
