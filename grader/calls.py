"""The student's calls a check made, so feedback and diagnosis can speak of them.

`StudentProxy` records every call it sends to the worker (the function's name, its
arguments and, once it returns, the output). The plugin starts a fresh record for each
check. Feedback shows the failing input as the student's own call
(`linear_forward(x=tensor(...), W=..., b=...)`), and `grader.compare` looks the
exercise's known mistakes up on the inputs of the call whose answer was wrong.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field

_UNSET = object()


@dataclass
class Call:
    """One call of a student function, as the check made it."""

    exercise: str
    """The exercise id whose check made the call (`ch4.linear_backward`)."""
    func: str
    """The function called (`linear_backward`; a helper of the same chapter may differ)."""
    args: tuple
    kwargs: dict
    output: object = field(default=_UNSET, repr=False)
    """What the call returned; unset while it runs, or when it raised."""

    @property
    def returned(self) -> bool:
        return self.output is not _UNSET


_calls: ContextVar[list[Call] | None] = ContextVar("dlcourse_calls", default=None)


def start() -> None:
    """Begin a fresh record (one per check)."""
    _calls.set([])


def record(call: Call) -> Call:
    """Remember `call` (bounded: a check's last 64 calls)."""
    calls = _calls.get()
    if calls is None:
        calls = []
        _calls.set(calls)
    calls.append(call)
    del calls[:-64]
    return call


def last(func: str | None = None) -> Call | None:
    """The most recent call (of `func`, when given) in this check, or None."""
    for call in reversed(_calls.get() or []):
        if func is None or call.func == func:
            return call
    return None


def returning(value: object) -> Call | None:
    """The most recent call whose output is `value` itself (by identity), or None: the
    call whose answer a comparison is judging."""
    for call in reversed(_calls.get() or []):
        if call.returned and call.output is value:
            return call
    return None
