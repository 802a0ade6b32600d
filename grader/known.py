"""Recognise a known mistake from a wrong answer: the registered mistakes, run on the call.

Known mistakes are realistic student code registered by catalogue key in
`solutions/mistakes/` (`@mistake("ch4.linear_backward.db_mean")`). When a comparison
fails, `recognise(got)` finds the student call that returned `got` (`grader.calls`),
asks the current reference (`grader.reference`) for the outputs of every registered
mistake of that call's function on the same inputs, and answers the key of the first
whose output `got` matches: same structure, same shapes and dtypes, every leaf close
(`grader.precision.close`). In the grader process the mistakes run like references; in
a student release their outputs were recorded while the release was built (`record`,
eagerly for every compared call) and are replayed, an unrecorded input meaning "no
known output".

    known.recognise((dx, dW, db_mean))  -> "mistake.ch4.linear_backward.db_mean"

What this leaves out: answers that were not returned by a student call (a check's own
combination of several calls), and mistakes that raise or return another structure.
"""

from __future__ import annotations

import math

import torch

from grader import calls, reference
from grader.precision import close, tolerance


def call_of(got: object) -> calls.Call | None:
    """The student call whose answer `got` is: the one that returned it, or, for a tuple
    a check rebuilt (`(w, v)` after a loop), the one that returned the same items."""
    found = calls.returning(got)
    if found is not None or not isinstance(got, (tuple, list)) or not got:
        return found
    call = calls.last()
    if call is not None and call.returned and isinstance(call.output, (tuple, list)) and len(call.output) == len(got):
        if all(a is b for a, b in zip(call.output, got)):
            return call
    return None


def outputs(call: calls.Call) -> dict[str, object]:
    """Catalogue key -> the output of each registered mistake of the call's function on
    the call's inputs (computed, or replayed in a release)."""
    return reference.current(call.exercise).mistake_outputs(call.func, call.args, call.kwargs)


def recording() -> bool:
    """True while a student release is being recorded (mistake outputs are recorded eagerly)."""
    return reference.recording()


def record(got: object) -> None:
    """While recording a release: compute (and so record) the mistakes of `got`'s call."""
    call = call_of(got)
    if call is not None:
        outputs(call)


def recognise(got: object, rtol: float | None = None, atol: float | None = None) -> str | None:
    """The catalogue key of the first registered mistake whose output `got` matches, or
    None. rtol/atol: the check's own tolerances, when looser than the dtype's."""
    found = recognise_all(got, rtol, atol)
    return found[0] if found else None


def recognise_all(got: object, rtol: float | None = None, atol: float | None = None) -> list[str]:
    """The catalogue keys of every registered mistake whose output `got` matches, in the
    order they are registered: more than one when the failing input cannot tell them apart."""
    call = call_of(got)
    if call is None:
        return []
    return [key for key, output in outputs(call).items() if matches(got, output, rtol, atol)]


def matches(got: object, output: object, rtol: float | None = None, atol: float | None = None) -> bool:
    """Same structure and every leaf close: tensors by `precision.close` at the dtype's
    tolerance (or the given, looser one), floats by isclose, anything else by ==."""
    if isinstance(output, (tuple, list)):
        return isinstance(got, (tuple, list)) and len(got) == len(output) and all(matches(g, o, rtol, atol) for g, o in zip(got, output))
    if isinstance(output, dict):
        return isinstance(got, dict) and set(got) == set(output) and all(matches(got[k], output[k], rtol, atol) for k in output)
    if isinstance(output, torch.Tensor):
        if not isinstance(got, torch.Tensor) or got.shape != output.shape or got.dtype != output.dtype:
            return False
        if not output.dtype.is_floating_point:
            return bool((got.cpu() == output.cpu()).all())
        r, a = tolerance(output.dtype)
        return bool(close(got.cpu(), output.cpu(), max(r, rtol or 0.0), max(a, atol or 0.0)).all())
    if isinstance(output, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        return math.isclose(got, output, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(got) and math.isnan(output))
    return type(got) is type(output) and got == output
