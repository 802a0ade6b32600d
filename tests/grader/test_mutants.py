"""Every mutant (a realistic student mistake) scores below full marks with a message that
points at the mistake; every variant (a correct solution written differently) gets full
marks. Cases are graded as the instructor grades: hidden checks included, the `grade`
profile's examples.

Mutants and variants are our own code, so they are graded in this process
(`grader.inprocess.InProcessWorker`: the worker's per-call function and wire encoding,
without the worker process); one slot is also graded end to end in a worker process and
must get the very same report, check by check. What needs the process boundary
(timeouts, crashes, hostile code) is tested end to end in `tests/adversarial`. Each slot
is graded once per test process (`tests.graded`); the release tests read the same reports."""

from __future__ import annotations

import re

import pytest

from grader.inprocess import InProcessWorker
from tests.graded import CASES_DEALT, SLOT_OF, SLOTS, grade_as_instructor, group
from tests.submissions import write_submission


def _cases(correct: bool) -> list:
    """The cases as parameters, each in its slot's xdist group: with pytest-xdist, the
    cases of one slot run in one process, which grades the slot once."""
    return [pytest.param(c, id=f"{c.exercise}:{c.slug}", marks=pytest.mark.xdist_group(group(SLOT_OF[id(c)])))
            for c in CASES_DEALT if c.correct == correct]


@pytest.fixture
def reports(slot_reports):
    """Each slot's report, graded once per test process (`tests.graded`)."""
    return lambda key: slot_reports(key)[1]


def _result(report, exercise_id):
    return next(e for e in report.exercises if e.id == exercise_id)


@pytest.mark.slow
@pytest.mark.parametrize("case", _cases(correct=False))
def test_mutant_scores_below_full_marks_with_a_pointed_message(case, reports):
    result = _result(reports(SLOT_OF[id(case)]), case.exercise)
    messages = "\n".join(c.message for c in result.checks)
    assert result.score < result.max_score, f"{case.slug} got full marks"
    if case.at_most is not None:
        assert result.score <= case.at_most * result.max_score, f"{case.slug} kept {result.score}/{result.max_score}"
    assert re.search(case.expect, messages, re.IGNORECASE), f"{case.slug}: no /{case.expect}/ in:\n{messages}"
    if getattr(case, "mistake", None):
        named = [c.mistake for c in result.checks]
        assert case.mistake in named, f"{case.slug}: no check named the mistake {case.mistake!r} (named: {named})"


@pytest.mark.slow
@pytest.mark.parametrize("case", _cases(correct=True))
def test_variant_gets_full_marks(case, reports):
    result = _result(reports(SLOT_OF[id(case)]), case.exercise)
    failures = "\n".join(f"{c.name}: {c.message}" for c in result.checks if c.status != "passed")
    assert result.checks and result.score == result.max_score, failures


def _verdicts(report) -> list:
    return [(e.id, e.score, e.max_score, [(c.name, c.status, c.score, c.message, c.mistake) for c in e.checks]) for e in report.exercises]


def _witness() -> tuple[str, int]:
    """The slot graded both ways: one whose mutants change their inputs in place (the
    worker's own check of the arguments, on copies that crossed the wire), else the
    largest."""
    for key, group in SLOTS.items():
        if any(c.expect and re.search(r"place|modif", c.expect, re.IGNORECASE) for c in group):
            return key
    return max(SLOTS, key=lambda k: len(SLOTS[k]))


WITNESS = _witness()


@pytest.mark.slow
@pytest.mark.xdist_group(group(WITNESS))
def test_in_process_grading_gives_the_worker_process_report(reports, tmp_path):
    key = WITNESS
    group = SLOTS[key]
    in_process = reports(key)
    assert in_process.isolation == "in-process"
    worker = grade_as_instructor(group, write_submission(tmp_path / "submission", group))
    assert worker.isolation != "in-process"
    assert _verdicts(in_process) == _verdicts(worker)


def test_in_process_grading_leaves_this_process_as_it_was():
    import sys

    import torch

    from tests.submissions import SOLUTIONS

    path, exercises_pkg, rng = list(sys.path), sys.modules.get("exercises"), torch.get_rng_state()
    worker = InProcessWorker(SOLUTIONS)
    x, W, b = torch.ones(2, 3), torch.ones(3, 4), torch.zeros(4)
    with worker:
        reply = worker.request({"op": "call", "modules": ["ch4_backprop"], "func": "linear_forward", "args": [x, W, b],
                                "kwargs": {}, "device": "cpu", "banned": [], "autograd": False})
        prefix = worker._submission.prefix
        assert f"{prefix}.ch4_backprop" in sys.modules
    assert reply["status"] == "ok" and torch.equal(reply["value"], torch.full((2, 4), 3.0)) and reply.devices == {"cpu"}
    assert not [m for m in sys.modules if m.startswith(prefix)]  # dropped with the run
    assert sys.path == path and sys.modules.get("exercises") is exercises_pkg
    assert torch.equal(torch.get_rng_state(), rng)  # the worker's torch.manual_seed(0) stayed the worker's
