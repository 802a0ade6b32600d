"""Realistic student mistakes ("mutants") and correct-but-different implementations
("variants"), one module per chapter (`tests/mutants/ch4_mutants.py`).

A mutant or variant is a plain function named `<exercise function>__<slug>`:

    @mutant("ch4.linear_backward", expect=r"transpose")
    def linear_backward__dW_transposed(dout, x, W):
        ...

`tests/grader/test_mutants.py` grades each one as a student submission: the chapter's
reference module with this function appended under the exercise's own name (so it may
call torch, math and the module's other functions, but nothing else from this file).
A mutant must score below full marks, and the messages of its failed checks must match
`expect` (a case-insensitive regular expression); a variant must get full marks.
"""

from __future__ import annotations

import inspect
import textwrap
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Case:
    exercise: str
    """Exercise id, `ch4.linear_backward`."""
    func: Callable
    correct: bool
    """True for a variant (must get full marks), False for a mutant."""
    expect: str | None = None
    """For a mutant: regex the failure messages must match."""
    at_most: float | None = None
    """For a mutant: the largest fraction of the exercise's points it may keep (a cheat
    must score low, not merely below full marks)."""

    @property
    def slug(self) -> str:
        return self.func.__name__

    def source(self) -> str:
        """The function's source, renamed to the exercise's function name, undecorated."""
        lines = textwrap.dedent(inspect.getsource(self.func)).splitlines()
        while lines[0].lstrip().startswith("@"):
            lines.pop(0)
        name = self.exercise.split(".", 1)[1]
        lines[0] = lines[0].replace(f"def {self.func.__name__}(", f"def {name}(", 1)
        return "\n".join(lines) + "\n"


CASES: list[Case] = []


def mutant(exercise: str, expect: str, at_most: float | None = None) -> Callable[[Callable], Callable]:
    """Register a buggy implementation that the grader must score below full marks (and at
    most `at_most` of them, when given)."""

    def register(func: Callable) -> Callable:
        CASES.append(Case(exercise, func, correct=False, expect=expect, at_most=at_most))
        return func

    return register


def variant(exercise: str) -> Callable[[Callable], Callable]:
    """Register a correct implementation, written differently, that must get full marks."""

    def register(func: Callable) -> Callable:
        CASES.append(Case(exercise, func, correct=True))
        return func

    return register
