"""Numerical precision: how close is close enough, and the float64 truth.

Expected values are computed in float64 and cast to the student's dtype (`truth`), so
a float32 answer is judged against the exact answer, not against another float32
computation's rounding. Tolerances depend on the dtype; the absolute part scales with
the magnitude of the expected values.
"""

from __future__ import annotations

from typing import Callable

import torch

from grader import tree

# (rtol, atol) by dtype; atol is scaled by max(1, max |expected|)
TOLERANCES = {
    torch.float64: (1e-7, 1e-9),
    torch.float32: (2e-4, 2e-5),
    torch.float16: (1e-2, 1e-3),
}


def tolerance(dtype: torch.dtype) -> tuple[float, float]:
    return TOLERANCES.get(dtype, TOLERANCES[torch.float32])


def close(got: torch.Tensor, expected: torch.Tensor, rtol: float, atol: float) -> torch.Tensor:
    """Elementwise: |got - expected| <= atol * max(1, max |expected|) + rtol * |expected|,
    with infinities equal only to themselves and NaN only to NaN."""
    g, e = got.double(), expected.double()
    finite = torch.isfinite(e)
    scale = max(1.0, float(e[finite].abs().max())) if finite.any() else 1.0
    ok = (g - e).abs() <= atol * scale + rtol * e.abs()
    ok = torch.where(finite, ok & torch.isfinite(g), g == e)
    return ok | (torch.isnan(g) & torch.isnan(e))


def _first_float_dtype(value: object) -> torch.dtype | None:
    return next((t.dtype for _, t in tree.tensors(value) if t.is_floating_point()), None)


def truth(fn: Callable, *args: object, **kwargs: object) -> object:
    """Call `fn` on float64 copies of the floating tensors among the arguments and cast
    the floating results back to the arguments' float dtype.

    >>> truth(lambda x: x.sum(), torch.ones(3, dtype=torch.float32)).dtype
    torch.float32
    """
    dtype = _first_float_dtype((args, kwargs))
    up = lambda t: t.double() if t.is_floating_point() else t  # noqa: E731
    out = fn(*tree.map_tensors(args, up), **tree.map_tensors(kwargs, up))
    if dtype is None:
        return out
    return tree.map_tensors(out, lambda t: t.to(dtype) if t.is_floating_point() else t)


def autograd(fn: Callable, *inputs: torch.Tensor, dout: torch.Tensor | tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """The gradients of sum_k <fn(*inputs)[k], dout[k]> with respect to every input,
    computed by autograd in float64 and returned in the inputs' dtype: the truth for a
    backward exercise. `fn` may return one tensor (then `dout` is one tensor) or a tuple.
    """
    douts = dout if isinstance(dout, tuple) else (dout,)

    def grads(douts, *inputs):
        leaves = [x.detach().clone().requires_grad_(True) for x in inputs]
        with torch.enable_grad():
            outs = fn(*leaves)
            outs = outs if isinstance(outs, tuple) else (outs,)
            return tuple(g.detach() for g in vjp(outs, leaves, douts))

    return truth(grads, douts, *inputs)


def vjp(outputs, inputs, douts) -> tuple[torch.Tensor, ...]:
    """`torch.autograd.grad(outputs, inputs, douts)`, computed as the gradient of the one
    scalar sum_k <outputs[k], douts[k]>: the same numbers (the product's backward hands
    each dout through unchanged), without the shape check for `grad_outputs` that makes
    torch import SymPy (about 60 MB and a second of the grader's start)."""
    outputs = tuple(outputs) if isinstance(outputs, (tuple, list)) else (outputs,)
    douts = tuple(douts) if isinstance(douts, (tuple, list)) else (douts,)
    if len(outputs) != len(douts):
        raise ValueError(f"{len(outputs)} outputs but {len(douts)} douts")
    for out, dout in zip(outputs, douts):
        if out.shape != dout.shape:
            raise ValueError(f"dout of shape {tuple(dout.shape)} for an output of shape {tuple(out.shape)}")
    total = sum((out * dout).sum() for out, dout in zip(outputs, douts))
    return torch.autograd.grad(total, inputs)
