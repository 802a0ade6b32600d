"""Named scalar functions that checks pass to exercises taking a function argument
(`ch4.numerical_gradient(f, x)`). Only the name crosses to the worker; both processes
rebuild the same function here. Each maps a tensor to a 0-d tensor of its dtype."""

from __future__ import annotations

from typing import Callable

import torch

from grader.wire import Probe


def _sum_of_squares(x: torch.Tensor) -> torch.Tensor:
    return (x * x).sum()


def _weighted_cubic(x: torch.Tensor) -> torch.Tensor:
    # sum_i w_i x_i^3 with weights 1, 2, 3, ... over the flattened entries
    w = torch.arange(1, x.numel() + 1, dtype=x.dtype, device=x.device).reshape(x.shape)
    return (w * x**3).sum()


def _log_sum_exp(x: torch.Tensor) -> torch.Tensor:
    m = x.max()
    return m + torch.log(torch.exp(x - m).sum())


def _sin_product(x: torch.Tensor) -> torch.Tensor:
    return torch.sin(x).sum() * torch.cos(x).mean()


FUNCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sum_of_squares": _sum_of_squares,
    "weighted_cubic": _weighted_cubic,
    "log_sum_exp": _log_sum_exp,
    "sin_product": _sin_product,
}


def build(probe: Probe) -> Callable[[torch.Tensor], torch.Tensor]:
    """The callable a `Probe` names; raises KeyError for an unknown name."""
    return FUNCTIONS[probe.name]


def resolve(value: object) -> object:
    """Replace every Probe inside `value` (lists, tuples, dicts) by its function."""
    if isinstance(value, Probe):
        return build(value)
    if isinstance(value, (list, tuple)):
        return type(value)(resolve(v) for v in value)
    if isinstance(value, dict):
        return {k: resolve(v) for k, v in value.items()}
    return value
