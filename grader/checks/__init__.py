"""The checks: one pytest module per chapter, named like the chapter's exercise module
(`grader/checks/ch4_backprop.py`). A check is a function `check_<what>` marked with
`@exercise(id, points=..)` that takes the `student` fixture (the student's functions,
run in the worker) and the `ref` fixture (the reference), draws inputs with
`grader.strategies` and compares with `grader.compare.expect_close`.
"""

from __future__ import annotations

import pytest

PUBLIC, HIDDEN = "public", "hidden"


def exercise(exercise_id: str, points: float, hidden: bool = False):
    """Mark a check as worth `points` of `exercise_id`; hidden checks never show inputs.

    A property-based check (`@given`) gets the grading settings here, once, however and
    wherever its module is imported (a notebook, another Hypothesis user's process): a
    public check draws `profiles.PUBLIC_EXAMPLES` examples in `check` and `grade` alike,
    a hidden one `profiles.HIDDEN_EXAMPLES`; no deadline, no database."""
    mark = pytest.mark.dlcourse(exercise=exercise_id, points=points, visibility=HIDDEN if hidden else PUBLIC)

    def apply(test):
        if hasattr(test, "hypothesis"):
            from hypothesis import settings

            from grader import profiles

            examples = profiles.HIDDEN_EXAMPLES if hidden else profiles.PUBLIC_EXAMPLES
            test = settings(max_examples=examples, **profiles.GRADING)(test)
        return mark(test)

    return apply
