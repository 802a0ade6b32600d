"""Issue 15: the released public checks give the same scores as the full package on the
references, on every known mistake and on every mutant, and name the same known mistakes.

A release's checks are the public checks with `ref` answered from outputs recorded on
the references' own run and on each known mistake's (`grader.replay`, what `dlcourse
release` ships: no reference code, no mistake code). Here each chapter is recorded as
`release` records it; then its known mistakes (`solutions/mistakes/`), mutants and
correct variants (`tests/mutants/`), grouped into submissions by
`tests.submissions.slots`, are graded twice in this process, with the references and
with the recorded data only, and the two reports must agree check by check: status and
points everywhere, and the named mistake for known mistakes and variants. (A mutant
nobody registered may be shown on another failing example in the release, which cannot
shrink past the recorded inputs, so its message may name another pattern; its points
come from the first failing example in both.) That the release's files are these
checks, stripped of hidden ones, is tested in `tests/instructor/test_release.py` and,
installed, in `tests/deployed/test_release.py`.
"""
from __future__ import annotations

import pytest

from grader import replay
from grader.curriculum import chapters, find
from grader.inprocess import InProcessWorker
from grader.release import RECORD_PROFILE, record_known_mistakes
from grader.runner import DEFAULT_SEED, run
from tests.submissions import SOLUTIONS, load_cases, slots, write_submission

SLOTS = slots(load_cases())
CHAPTERS = sorted({chapter for chapter, _ in SLOTS}, key=lambda c: int(c[2:]))


def _grade(exercises, folder):
    return run(exercises, seed=DEFAULT_SEED, include_hidden=False, profile=RECORD_PROFILE, worker=InProcessWorker(folder))


def _verdicts(report, known: set[str]) -> list:
    """Each check's status and score and, for the exercises whose case in the slot is a
    known mistake or a variant, the mistake it names."""
    return [(e.id, [(c.name, c.status, c.score, c.mistake if e.id in known else None) for c in e.checks]) for e in report.exercises]


@pytest.fixture
def recorded(monkeypatch, tmp_path):
    """Record `exercises` on the references as a release does, then make the recorded
    data this process's release data (`replay.active()`), until the test ends."""

    def record(exercises) -> None:
        recorder = replay.Recorder()
        report = run(exercises, seed=DEFAULT_SEED, include_hidden=False, profile=RECORD_PROFILE, recorder=recorder,
                     worker=InProcessWorker(SOLUTIONS))
        assert report.score == report.max_score > 0
        record_known_mistakes(recorder, exercises)
        recorder.save(tmp_path, DEFAULT_SEED, RECORD_PROFILE)
        monkeypatch.setattr(replay, "RECORDED", tmp_path)
        replay.meta.cache_clear()
        replay._outputs.cache_clear()

    yield record
    replay.meta.cache_clear()
    replay._outputs.cache_clear()


@pytest.mark.slow
@pytest.mark.parametrize("chapter_id", CHAPTERS)
def test_released_public_checks_score_every_mistake_and_variant_as_the_full_package(chapter_id, recorded, tmp_path):
    exercises = [e for c in chapters() if c.id == chapter_id for e in c.exercises]
    slots_here = {k: group for k, group in SLOTS.items() if k[0] == chapter_id}
    full = {}
    for key, group in slots_here.items():
        folder = write_submission(tmp_path / f"slot{key[1]}" / "submission", group)
        full[key] = (folder, _grade([find(c.exercise) for c in group], folder))
    recorded(exercises)
    assert replay.active()
    for key, group in slots_here.items():
        folder, expected = full[key]
        released = _grade([find(c.exercise) for c in group], folder)
        known = {c.exercise for c in group if c.mistake or c.correct}
        assert _verdicts(released, known) == _verdicts(expected, known), [c.slug for c in group]
    # not vacuous: the release names known mistakes by their keys, from recorded data alone
    named = {c.mistake for key in slots_here for e in full[key][1].exercises for c in e.checks if c.mistake}
    assert named & {case.mistake for group in slots_here.values() for case in group} or not any(
        case.mistake for group in slots_here.values() for case in group
    )
    assert any(e.score < e.max_score for key in slots_here for e in full[key][1].exercises)
