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

Every known mistake registered in `solutions/mistakes/` (`@mistake("ch4.linear_backward.db_mean")`)
is a mutant too (`mistake_cases`), whose failed checks must name it: `Case.mistake` is
its catalogue key. The chapter modules here keep only the variants and the mutants the
grader recognises otherwise (a crash, a modified argument, a non-finite answer, a
generic pattern such as a transposed output).
"""

from __future__ import annotations

import inspect
import json
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
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
    mistake: str | None = None
    """For a known mistake: the catalogue key a failed check must carry
    (`CheckResult.mistake`), `mistake.ch4.linear_backward.db_mean`."""

    @property
    def slug(self) -> str:
        if self.mistake is not None:
            return f"{self.func.__name__}__{self.mistake.rsplit('.', 1)[1]}"
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


CATALOGUE = Path(__file__).resolve().parents[2] / "grader" / "locales" / "en"


def mistake_cases(chapter: str | None = None) -> list[Case]:
    """Every known mistake registered in `solutions/mistakes/` (of one chapter, when
    given) as a mutant: it must score below full marks with its own message, and a
    failed check must carry its key."""
    from solutions.mistakes import entries

    cases = []
    for entry in entries(chapter):
        key = f"mistake.{entry.key}"
        cases.append(Case(entry.exercise, entry.func, correct=False, expect=_message_start(key), mistake=key))
    return cases


def _message_start(key: str) -> str:
    """A regex for the English message of `key`: its words up to the first parameter."""
    chapter = key.split(".")[1]
    text = json.loads((CATALOGUE / f"{chapter}.json").read_text(encoding="utf-8"))[key]
    return re.escape(text.split("{", 1)[0][:40].strip())


# the known mistakes are mutants like the ones written here
CASES.extend(mistake_cases())
