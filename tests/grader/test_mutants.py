"""Every mutant (a realistic student mistake) scores below full marks with a message that
points at the mistake; every variant (a correct solution written differently) gets full
marks. Cases are graded as the instructor grades: hidden checks included."""

from __future__ import annotations

import re

import pytest

from grader.curriculum import find
from grader.runner import run
from tests.submissions import load_cases, slots, write_submission

from grader.runner import CHECKS
from grader.curriculum import chapter

# only chapters whose checks exist; tests/grader/test_registry.py proves which those are
CASES = [c for c in load_cases() if (CHECKS / f"{chapter(find(c.exercise).chapter).modules[0]}.py").is_file()]
SLOTS = slots(CASES)
SLOT_OF = {id(case): key for key, group in SLOTS.items() for case in group}


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Grade each slot once (lazily) and keep the report."""
    cache = {}

    def get(key):
        if key not in cache:
            group = SLOTS[key]
            folder = write_submission(tmp_path_factory.mktemp(f"{key[0]}_{key[1]}"), group)
            cache[key] = run([find(c.exercise) for c in group], path=folder, include_hidden=True, profile="grade")
        return cache[key]

    return get


def _result(report, exercise_id):
    return next(e for e in report.exercises if e.id == exercise_id)


@pytest.mark.slow
@pytest.mark.parametrize("case", [c for c in CASES if not c.correct], ids=lambda c: f"{c.exercise}:{c.slug}")
def test_mutant_scores_below_full_marks_with_a_pointed_message(case, reports):
    result = _result(reports(SLOT_OF[id(case)]), case.exercise)
    messages = "\n".join(c.message for c in result.checks)
    assert result.score < result.max_score, f"{case.slug} got full marks"
    if case.at_most is not None:
        assert result.score <= case.at_most * result.max_score, f"{case.slug} kept {result.score}/{result.max_score}"
    assert re.search(case.expect, messages, re.IGNORECASE), f"{case.slug}: no /{case.expect}/ in:\n{messages}"
    assert case.mistake is None or case.mistake in [c.mistake for c in result.checks], f"{case.slug}: no check named {case.mistake}:\n{messages}"


@pytest.mark.slow
@pytest.mark.parametrize("case", [c for c in CASES if c.correct], ids=lambda c: f"{c.exercise}:{c.slug}")
def test_variant_gets_full_marks(case, reports):
    result = _result(reports(SLOT_OF[id(case)]), case.exercise)
    failures = "\n".join(f"{c.name}: {c.message}" for c in result.checks if c.status != "passed")
    assert result.checks and result.score == result.max_score, failures
