"""Issue 15: the released public checks give the same scores as the full package on the
references, on every known mistake and on every mutant, and name the same known mistakes.

A release's checks are the public checks with `ref` answered from outputs recorded on
the references' own run and on each known mistake's (`grader.replay`, what `dlcourse
release` ships: no reference code, no mistake code). The recording is the one the student
release of this checkout ships (`tests.graded.student_release`, built once per session by
`dlcourse release --jobs 2`). Each chapter's known mistakes
(`solutions/mistakes/`), mutants and correct variants (`tests/mutants/`), grouped into
submissions by `tests.submissions.slots`, are graded in this process with the recorded
data only, and each report must agree, check by check, with the public checks of the
instructor's grade of the same slot (the references, hidden checks included: the report
the mutant tests read, `tests.graded.slot_reports`): status and points everywhere, and
the named mistake for known mistakes and variants. (A mutant nobody registered may be
shown on another failing example in the release, which cannot shrink past the recorded
inputs, so its message may name another pattern; its points come from the first failing
example in both.) That the release's files are these checks, stripped of hidden ones, is
tested in `tests/instructor/test_release.py` and, installed, in
`tests/deployed/test_release.py`.
"""
from __future__ import annotations

import pytest

from grader import replay
from grader.curriculum import find
from grader.inprocess import InProcessWorker
from grader.release import RECORD_PROFILE
from grader.runner import DEFAULT_SEED, run
from tests.graded import DEALT, SLOTS, group


def _verdicts(report, known: set[str]) -> list:
    """Each public check's status and score and, for the exercises whose case in the slot
    is a known mistake or a variant, the mistake it names."""
    return [(e.id, [(c.name, c.status, c.score, c.mistake if e.id in known else None) for c in e.checks if c.visibility == "public"])
            for e in report.exercises]


@pytest.fixture
def released(monkeypatch):
    """Make a recording this process's release data (`replay.active()`) until the test ends."""

    def use(folder) -> None:
        monkeypatch.setattr(replay, "RECORDED", folder)
        replay.meta.cache_clear()
        replay._outputs.cache_clear()

    yield use
    replay.meta.cache_clear()
    replay._outputs.cache_clear()


@pytest.mark.slow
@pytest.mark.parametrize("key", [pytest.param(k, id=f"{k[0]}-slot{k[1]}", marks=pytest.mark.xdist_group(group(k))) for k in DEALT])
def test_released_public_checks_score_every_mistake_and_variant_as_the_full_package(key, slot_reports, student_release, released):
    cases = SLOTS[key]
    folder, full = slot_reports(key)
    released(student_release() / "grader" / "recorded")
    assert replay.active()
    report = run([find(c.exercise) for c in cases], seed=DEFAULT_SEED, include_hidden=False, profile=RECORD_PROFILE, worker=InProcessWorker(folder))
    known = {c.exercise for c in cases if c.mistake or c.correct}
    assert _verdicts(report, known) == _verdicts(full, known), [c.slug for c in cases]
    # not vacuous: every exercise of the slot ran public checks, and the release names the
    # slot's known mistakes by their keys (a mutant may lose points on hidden checks only)
    assert [e.id for e in report.exercises] == [c.exercise for c in cases] and all(e.checks for e in report.exercises)
    mistakes = {c.mistake for c in cases if c.mistake}
    assert not mistakes or mistakes & {c.mistake for e in report.exercises for c in e.checks}
