"""`grader.plugin` on its own, with pytester: a check module written here, the references
as the submission (in this process), and the Collector's results read back. It keeps only
the selected exercises' checks, drops hidden ones unless asked (counting them), gives a
failing check's points from its first failing example, and names the catalogue key."""

from __future__ import annotations

import textwrap

import pytest

from grader.inprocess import InProcessWorker
from grader.plugin import Collector
from grader.results import Status
from tests.adversarial.test_integrity import FORGE_A_REPLY
from tests.submissions import SOLUTIONS

pytest_plugins = ["pytester"]

CHECKS = textwrap.dedent(
    '''
    import torch
    from hypothesis import given, strategies as st

    from grader.checks import exercise
    import os

    from grader.compare import expect, expect_close, partial_credit


    @exercise("ch4.linear_forward", points=2)
    @given(n=st.integers(1, 4))
    def check_right(student, n):
        x, W, b = torch.ones(n, 3, dtype=torch.float64), torch.ones(3, 2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
        expect_close(student.linear_forward(x, W, b), torch.full((n, 2), 3.0, dtype=torch.float64), name="out")


    @exercise("ch4.linear_forward", points=1)
    @given(n=st.integers(1, 4))
    def check_demands_the_impossible(student, n):
        expect(False, "mistake.zeros")


    @exercise("ch4.linear_forward", points=5, hidden=True)
    def check_hidden(student):
        raise AssertionError("a hidden check ran")


    @exercise("ch4.relu_backward", points=1)
    def check_not_selected(student):
        raise AssertionError("a check of another exercise ran")


    @exercise("ch4.sgd_step", points=4)
    @given(n=st.integers(0, 1000))
    def check_partial(student, n):
        if n >= 3:
            with open(os.environ["DLCOURSE_TEST_FAILED_ON"], "a") as f:
                f.write(f"{n}\\n")
            partial_credit(0.5 if n % 2 else 0.25, "mistake.zeros")
    '''
)


@pytest.fixture
def grade(pytester):
    pytester.makepyfile(test_checks=CHECKS)

    def run(include_hidden: bool, selected: str = "ch4.linear_forward") -> Collector:
        worker = InProcessWorker(SOLUTIONS)
        collector = Collector(worker, {selected}, include_hidden, seed=1)
        try:
            pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:xdist", "-o", "python_files=test_*.py", "-o", "python_functions=check_*", "-q", plugins=[collector])
        finally:
            worker.stop()
        return collector

    return run


def test_the_plugin_keeps_the_selected_public_checks_and_reports_each(grade):
    collector = grade(include_hidden=False)
    results = {r.name: r for r in collector.results["ch4.linear_forward"]}
    assert set(results) == {"right", "demands_the_impossible"}
    assert results["right"].status is Status.PASSED and results["right"].score == 2.0
    wrong = results["demands_the_impossible"]
    assert wrong.status is Status.FAILED and wrong.score == 0.0 and wrong.mistake == "mistake.zeros" and wrong.message
    assert collector.hidden_not_run == {"ch4.linear_forward": 1} and not collector.problems


def test_hidden_checks_run_when_asked_and_never_show_their_text(grade):
    collector = grade(include_hidden=True)
    hidden = {r.name: r for r in collector.results["ch4.linear_forward"]}["hidden"]
    assert hidden.status is Status.ERROR and hidden.visibility == "hidden"
    assert "a hidden check ran" not in hidden.message


def test_a_failing_check_keeps_the_points_of_its_first_failing_example(grade, tmp_path, monkeypatch):
    monkeypatch.setenv("DLCOURSE_TEST_FAILED_ON", str(tmp_path / "failed_on.txt"))
    collector = grade(include_hidden=False, selected="ch4.sgd_step")
    (result,) = collector.results["ch4.sgd_step"]
    failed_on = [int(n) for n in (tmp_path / "failed_on.txt").read_text().split()]
    assert len(failed_on) > 1  # Hypothesis went on to shrink the first failure
    assert result.status is Status.FAILED and result.score == 4 * (0.5 if failed_on[0] % 2 else 0.25)


def test_a_failed_check_is_reported_without_formatting_its_traceback(grade, monkeypatch):
    """The grader reads a failed check's exception itself; pytest's report would format the
    traceback with its source (0.2 s per failed check, a fifth of grading a wrong
    submission), so the plugin's checks never ask for it."""
    from _pytest._code.code import ExceptionInfo

    formatted = []
    getrepr = ExceptionInfo.getrepr
    monkeypatch.setattr(ExceptionInfo, "getrepr", lambda self, *a, **k: formatted.append(self) or getrepr(self, *a, **k))
    collector = grade(include_hidden=True)
    results = {r.name: r for r in collector.results["ch4.linear_forward"]}
    assert results["demands_the_impossible"].status is Status.FAILED and results["demands_the_impossible"].message
    assert results["hidden"].status is Status.ERROR
    assert formatted == []


FORGING = FORGE_A_REPLY + textwrap.dedent(
    '''
    def relu_backward(dout, x):
        forge_a_reply()
        return None
    '''
)

ONE_CALL = textwrap.dedent(
    '''
    import torch

    from grader.checks import exercise


    @exercise("ch4.relu_backward", points=1)
    def check_one_call(student):
        assert student.relu_backward(torch.ones(2), torch.ones(2)) is None
    '''
)


def test_a_reply_forged_on_a_checks_last_call_is_found_before_the_check_is_scored(pytester, tmp_path):
    """The worker's echo of a sync is read late (`Worker.sync_ahead`), while the grader
    computes: a reply forged on a check's only call must still be found, and the check
    scored as an integrity failure, not passed on the forged value."""
    from grader.student import Worker

    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "ch4_backprop.py").write_text(FORGING)
    pytester.makepyfile(test_checks=ONE_CALL)
    worker = Worker(submission, requested_isolation="python", timeout=10.0)
    collector = Collector(worker, {"ch4.relu_backward"}, False, seed=1)
    try:
        pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:xdist", "-o", "python_files=test_*.py", "-o", "python_functions=check_*", "-q", plugins=[collector])
    finally:
        worker.stop()
    (result,) = collector.results["ch4.relu_backward"]
    assert result.status is Status.ERROR and result.score == 0.0, result
    assert collector.integrity == {"ch4.relu_backward": ["worker_pipes"]}
