"""The student's calls a check made, so feedback and diagnosis can speak of them.

`StudentProxy` records every call it sends to the worker (the function's name, its
arguments and, once it returns, the output). The plugin starts a fresh record for each
check. Feedback shows the failing input as the student's own call
(`linear_forward(x=tensor(...), W=..., b=...)`), and `grader.compare` looks the
exercise's known mistakes up on the inputs of the call whose answer was wrong.
"""

from __future__ import annotations

import ast
import importlib.util
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

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
    printed: str = field(default="", repr=False)
    """What the student's code printed during the call (sanitised and bounded by
    `grader.student`; shown on public checks only)."""

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


def made_here(call: Call | None) -> bool:
    """Whether `call` was made by the current check (not remembered from an earlier one)."""
    return call is not None and any(c is call for c in _calls.get() or [])


def returning(value: object) -> Call | None:
    """The most recent call whose output is `value` itself (by identity), or None: the
    call whose answer a comparison is judging."""
    for call in reversed(_calls.get() or []):
        if call.returned and call.output is value:
            return call
    return None


def arguments(call: Call) -> list[tuple[str | None, object]]:
    """The call's arguments as (parameter name, value), positional ones named after the
    stub's signature (`[("x", x), ("W", W), ("b", b)]`); None where no name is known."""
    names, variadic = parameters(call.exercise, call.func) or ((), False)
    out: list[tuple[str | None, object]] = []
    for i, value in enumerate(call.args):
        out.append((names[i] if i < len(names) else None, value))
    if len(call.args) > len(names) and not variadic:  # not the stub's signature: no names
        out = [(None, value) for value in call.args]
    return out + [(str(k), v) for k, v in call.kwargs.items()]


STUB_LIMIT = 1 << 20


@lru_cache(maxsize=256)
def parameters(exercise: str, func: str) -> tuple[tuple[str, ...], bool] | None:
    """The positional parameter names of `func` as the stubs of `exercise`'s chapter
    declare it (`exercises/<module>.py`, shipped in every edition, read with `ast`, never
    imported), and whether it takes *args; None when no stub defines it."""
    from grader.curriculum import chapter, find

    try:
        modules = chapter(find(exercise).chapter).modules
        spec = importlib.util.find_spec("exercises")
        folders = list(spec.submodule_search_locations or []) if spec is not None else []
    except (KeyError, ImportError, ValueError):
        return None
    for module in modules:
        for folder in folders[:1]:
            path = Path(folder) / f"{module}.py"
            try:
                if path.stat().st_size > STUB_LIMIT:
                    continue
                tree = ast.parse(path.read_text(encoding="utf-8"))
            except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
                continue
            for node in tree.body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == func:
                    args = node.args
                    return tuple(a.arg for a in args.posonlyargs + args.args), args.vararg is not None
    return None
