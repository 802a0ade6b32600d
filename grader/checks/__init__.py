"""The checks: one pytest module per chapter, named like the chapter's exercise module
(`grader/checks/ch4_backprop.py`). A check is a function `check_<what>` marked with
`@exercise(id, points=..)` that takes the `student` fixture (the student's functions,
run in the worker) and the `ref` fixture (the reference), draws inputs with
`grader.strategies` and compares with `grader.compare.expect_close`.
"""

from __future__ import annotations

import functools
from contextvars import ContextVar

import pytest

PUBLIC, HIDDEN = "public", "hidden"

_first_failure: ContextVar[list | None] = ContextVar("dlcourse_first_failure", default=None)


def exercise(exercise_id: str, points: float, hidden: bool = False):
    """Mark a check as worth `points` of `exercise_id`; hidden checks never show inputs.

    A property-based check (`@given`) gets the grading settings here, once, however and
    wherever its module is imported (a notebook, another Hypothesis user's process): a
    public check draws `profiles.PUBLIC_EXAMPLES` examples in `check` and `grade` alike,
    a hidden one `profiles.HIDDEN_EXAMPLES` and reports its first failing example
    unshrunk (`profiles.HIDDEN_GRADING`); no deadline, no database."""
    mark = pytest.mark.dlcourse(exercise=exercise_id, points=points, visibility=HIDDEN if hidden else PUBLIC)

    def apply(test):
        if hasattr(test, "hypothesis"):
            from hypothesis import settings

            from grader import profiles

            examples = profiles.HIDDEN_EXAMPLES if hidden else profiles.PUBLIC_EXAMPLES
            test = settings(max_examples=examples, **(profiles.HIDDEN_GRADING if hidden else profiles.GRADING))(test)
            test.hypothesis.inner_test = _remembering_the_first_failure(test.hypothesis.inner_test)
        return mark(test)

    return apply


def start_check() -> None:
    """Forget the previous check's first failure (the plugin calls it before each check)."""
    _first_failure.set([])


def first_failure() -> BaseException | None:
    """The failure of the first example that failed in the current check, before any
    shrinking: a wrong answer (`CheckFailure`, `PartialCredit`) or the student's error.

    The points a failing check keeps come from it, not from the smaller example the
    message shows: a student release knows the references' outputs only on the inputs
    recorded at release time, which include the first failing example (drawn from the
    seed like every passing one) but not, for a mistake nobody foresaw, the inputs
    Hypothesis shrinks to; so the release and the full package give the same points."""
    seen = _first_failure.get()
    return seen[0] if seen else None


def _remembering_the_first_failure(inner):
    from grader.compare import CheckFailure
    from grader.student import StudentError

    @functools.wraps(inner)
    def one_example(*args, **kwargs):
        try:
            return inner(*args, **kwargs)
        except (CheckFailure, StudentError) as failure:
            seen = _first_failure.get()
            if seen is not None and not seen:
                seen.append(failure)
            raise

    return one_example
