"""The suite grades the outcome checks on one pinned data salt (`tests/conftest.py`):
a check imported by a grading run in this process draws that salt's points."""

from __future__ import annotations

import torch

from tests.conftest import OUTCOME_SALT


def test_the_outcome_checks_draw_the_pinned_salt_in_the_suite():
    from grader.checks import ch5_cnn, ch10_generative

    train, held_out = ch10_generative._two_moons()
    assert torch.equal(train, ch10_generative.moons_data(OUTCOME_SALT)[0])
    assert torch.equal(held_out, ch10_generative.moons_data(OUTCOME_SALT)[1])
    assert ch5_cnn._run_salt() == OUTCOME_SALT


def test_a_grading_run_in_this_process_keeps_the_pinned_salt():
    """The runner's pytest imports the check modules this process already holds: the
    pinned salt is the one its outcome checks read."""
    import sys

    from grader.curriculum import resolve_targets
    from grader.inprocess import InProcessWorker
    from grader.runner import run
    from tests.submissions import SOLUTIONS

    report = run(resolve_targets(["ch10.reparameterize"]), worker=InProcessWorker(SOLUTIONS))
    assert report.exercises[0].score == report.exercises[0].max_score > 0
    assert sys.modules["grader.checks.ch10_generative"]._run_salt() == OUTCOME_SALT
