"""torch without torch._dynamo until something compiles.

Building and stepping a `torch.optim` optimiser imports all of `torch._dynamo` (and
sympy): some 800 modules, about 70 MiB resident and 1.2 s here, in every process that
trains (the worker for a training exercise, the grader for a check against
`torch.optim`), although nothing in a grading run compiles. Two places do it, both only
for a compiler's sake:

- functions torch marks "not to be compiled" with `torch._disable_dynamo`
  (`Optimizer.add_param_group`, `zero_grad`, `state_dict`, `load_state_dict`, ...) import
  it at their first call, to build the wrapper a compiler would skip;
- each optimiser's `step` (`_use_grad_for_differentiable`) imports it at every call for
  two `torch._dynamo.graph_break()` calls, which do nothing outside compiled code.

`skip_dynamo_until_compiling()` gives the first what torch caches after their first
call (the `__dynamo_disable` attribute `torch._compile._disable_dynamo` reads) and the
second a `step` without the graph breaks. Each calls the function straight while
`torch._dynamo` is not loaded and takes torch's own path once it is (`torch.compile`
loads it), so compiled code still sees what torch meant. What the functions compute is
unchanged. Where this torch builds its wrappers otherwise, they are left as they are.
"""

from __future__ import annotations

import functools
import sys
from types import FunctionType

_CACHE = "__dynamo_disable"  # the attribute torch._compile._disable_dynamo caches its wrapper in
_done = False  # once per process: the grader collects anew at every re-check


def skip_dynamo_until_compiling() -> int:
    """Give every `_disable_dynamo`-wrapped function of the loaded torch modules (and of
    their classes) the straight stand-in, and every optimiser's `step` one without graph
    breaks; returns how many functions changed. Call it before any optimiser is built."""
    global _done
    if _done:
        return 0
    _done = True
    import importlib

    import torch

    optimizer = importlib.import_module("torch.optim.optimizer")  # torch.optim deletes the name
    disabled = _wrapper_code(getattr(getattr(torch, "_compile", None), "_disable_dynamo", None), lambda: None)
    uses_grad = _wrapper_code(getattr(optimizer, "_use_grad_for_differentiable", None), lambda self: None)
    if disabled is not None and not {"fn", "recursive"} <= set(disabled.co_freevars):
        disabled = None  # another torch: its own path stays
    count = 0
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "torch" or name.startswith("torch.")):
            continue
        for value in list(vars(module).values()):
            # type() only: an attribute lookup on an arbitrary object may run its code
            members = list(vars(value).values()) if issubclass(type(value), type) else []
            for candidate in (value, *members):
                if disabled is not None and type(candidate) is FunctionType and candidate.__code__ is disabled:
                    count += _defer(candidate, disabled)
            step = vars(value).get("step") if members else None
            if uses_grad is not None and type(step) is FunctionType and step.__code__ is uses_grad and hasattr(step, "__wrapped__"):
                value.step = _step_without_graph_breaks(torch, step)
                count += 1
    return count


def _wrapper_code(decorator, function):
    """The code object of the wrapper `decorator` builds, or None where this torch has no
    such decorator (its functions are then left as they are)."""
    if decorator is None:
        return None
    return getattr(decorator(function), "__code__", None)


def _step_without_graph_breaks(torch, wrapped_step):
    """torch's `_use_grad_for_differentiable(step)` less its `torch._dynamo.graph_break()`
    calls (no-ops outside compiled code) while `torch._dynamo` is not loaded."""
    step = wrapped_step.__wrapped__

    def _use_grad(*args, **kwargs):
        if "torch._dynamo" in sys.modules:
            return wrapped_step(*args, **kwargs)
        previous = torch.is_grad_enabled()
        try:
            torch.set_grad_enabled(args[0].defaults["differentiable"])
            return step(*args, **kwargs)
        finally:
            torch.set_grad_enabled(previous)

    return functools.update_wrapper(_use_grad, step)


def _defer(wrapper, code) -> int:
    cells = dict(zip(code.co_freevars, (cell.cell_contents for cell in wrapper.__closure__)))
    fn, recursive = cells["fn"], cells["recursive"]
    if getattr(fn, _CACHE, None) is not None:
        return 0

    def straight(*args, **kwargs):
        dynamo = sys.modules.get("torch._dynamo")
        if dynamo is None:
            return fn(*args, **kwargs)
        disabled = dynamo.disable(fn, recursive, wrapping=False)  # what torch would have cached
        setattr(fn, _CACHE, disabled)
        return disabled(*args, **kwargs)

    setattr(fn, _CACHE, straight)
    return 1
