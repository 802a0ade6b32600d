"""Runs inside the worker: watches every torch call student code makes during one
exercise call and records the first banned one (a routine the exercise must write itself,
or autograd where the exercise does not allow it).

The guard is a `TorchFunctionMode`, so it sees `F.softmax(x)`, `torch.softmax(x)` and
`x.softmax()` alike, and it only records: catching the exception it raises does not
help student code, the worker reports the recorded call afterwards.
"""

from __future__ import annotations

import importlib
from functools import lru_cache

import torch
from torch.overrides import TorchFunctionMode

from grader.guard_names import AUTOGRAD

class BannedCall(RuntimeError):
    """Raised inside student code at a banned call (the worker reports it by name)."""


@lru_cache(maxsize=None)
def resolve(qualified: str) -> object | None:
    """`torch.nn.functional.softmax` -> the function object, or None when absent."""
    parts = qualified.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


class Guard(TorchFunctionMode):
    """Record (and interrupt) the first banned torch call made inside the `with` block."""

    def __init__(self, banned: list[str] | tuple[str, ...], autograd_allowed: bool):
        super().__init__()
        names = list(banned) + ([] if autograd_allowed else list(AUTOGRAD))
        self.banned: dict[int, str] = {}
        for name in names:
            obj = resolve(name)
            if obj is not None:
                self.banned.setdefault(id(obj), name)
        self.autograd_allowed = autograd_allowed
        self._requires_grad_setter = getattr(torch.Tensor.requires_grad, "__set__", None)
        self.violation: str | None = None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = self.banned.get(id(func))
        if name is None and not self.autograd_allowed:
            if kwargs.get("requires_grad") is True:
                name = "requires_grad=True"
            elif func is self._requires_grad_setter:
                name = "Tensor.requires_grad = True"
        if name is not None:
            if self.violation is None:
                self.violation = name
            raise BannedCall(name)
        return func(*args, **kwargs)


def uses_autograd(value: object) -> bool:
    """True when a returned value carries autograd history (a tensor that requires grad)."""
    if isinstance(value, torch.Tensor):
        return value.requires_grad
    if isinstance(value, (list, tuple)):
        return any(uses_autograd(v) for v in value)
    if isinstance(value, dict):
        return any(uses_autograd(v) for v in value.values())
    return False
