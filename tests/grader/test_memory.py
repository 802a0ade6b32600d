"""The memory budget (issue 17: the grader and its worker together under 700 MiB):
where the budget comes from, what is measured, and that a grader near its budget hands
the next chapter to a fresh worker without changing a score."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from dlcourse_cli.commands.grade_batch import _memory_share
from dlcourse_cli.main import app
from grader import memory, runner
from grader.curriculum import resolve_targets
from grader.student import Worker
from tests.submissions import SOLUTIONS

TWO_CHAPTERS = ["ch2.mse_loss", "ch4.sgd_step", "ch4.relu_backward"]


@pytest.fixture
def no_limits(monkeypatch):
    """No DLCOURSE_MEMORY_BUDGET, whatever machine runs the tests."""
    monkeypatch.delenv(memory.ENV, raising=False)


def test_the_budget_is_the_option_then_the_environment(no_limits, monkeypatch):
    assert memory.memory_budget() is None  # none by default, in a container too
    monkeypatch.setenv(memory.ENV, "600")
    assert memory.memory_budget() == 600
    assert memory.memory_budget(500) == 500
    assert memory.memory_budget(0) is None  # 0: no budget, whatever the environment says
    monkeypatch.setenv(memory.ENV, " ")
    assert memory.memory_budget() is None


@pytest.mark.parametrize("bad", ["lots", "-5", "nan"])
def test_a_budget_that_is_not_a_number_of_mib_is_refused(no_limits, monkeypatch, bad):
    monkeypatch.setenv(memory.ENV, bad)
    with pytest.raises(ValueError):
        memory.memory_budget()
    with pytest.raises(runner.GraderError, match=memory.ENV):
        runner._budget(None)


def test_the_tree_counts_every_process_below():
    child = subprocess.Popen([sys.executable, "-c", "import time; b = bytes(range(256)) * (1 << 18); time.sleep(60)"], stdout=subprocess.PIPE)
    try:
        alone = memory.rss_mib(os.getpid())
        # wait until the child has its 64 MiB
        for _ in range(200):
            if memory.rss_mib(child.pid) > 64:
                break
            time.sleep(0.05)
        assert memory.rss_mib(child.pid) > 64
        assert child.pid in memory.descendants(os.getpid())
        assert memory.tree_rss_mib(os.getpid()) >= alone + 64
        assert memory.over(alone + 64, os.getpid())  # less than a chapter's growth left
        assert not memory.over(None, os.getpid()) and not memory.over(1e9, os.getpid())
    finally:
        child.kill()
        child.wait()
    assert memory.rss_mib(child.pid) == 0  # gone: nothing to count


def test_grade_batch_gives_each_job_its_share(no_limits, monkeypatch):
    assert _memory_share(1000, 4) == ["--memory-budget", "250"]
    assert _memory_share(None, 2) == ["--memory-budget", "0"]  # no budget: none for any job
    monkeypatch.setenv(memory.ENV, "1400")
    assert _memory_share(None, 2) == ["--memory-budget", "700"]
    assert _memory_share(0, 2) == ["--memory-budget", "0"]  # the option wins over the environment


class CountingWorker(Worker):
    """A real worker that counts its process starts."""

    starts = 0

    def start(self) -> None:
        if self._proc is None:
            type(self).starts += 1
        super().start()


def _grade(budget: float | None):
    CountingWorker.starts = 0
    worker = CountingWorker(SOLUTIONS)
    report = runner.run(resolve_targets(TWO_CHAPTERS), worker=worker, include_hidden=True, profile="grade", memory_budget=budget)
    return report, CountingWorker.starts


def test_a_grader_near_its_budget_hands_the_next_chapter_to_a_fresh_worker(no_limits, monkeypatch):
    monkeypatch.setattr(memory, "WORTH_A_RESTART_MIB", 0)  # any growth is worth a restart
    spent, replaced = _grade(1)  # always near: one start per chapter, within a chapter none
    roomy, kept = _grade(1e9)
    assert (replaced, kept) == (2, 1)
    assert spent.score == roomy.score == spent.max_score
    assert [[(c.name, c.score, c.status) for c in e.checks] for e in spent.exercises] == [
        [(c.name, c.score, c.status) for c in e.checks] for e in roomy.exercises
    ]


def test_a_worker_that_has_not_grown_is_kept_whatever_the_budget(no_limits, monkeypatch):
    monkeypatch.setattr(memory, "WORTH_A_RESTART_MIB", 1 << 20)  # a restart would free nothing
    assert _grade(1)[1] == 1


def test_grade_takes_a_budget_and_refuses_a_malformed_one(no_limits, monkeypatch, tmp_path):
    out = tmp_path / "report.json"
    cli = CliRunner()
    result = cli.invoke(app, ["grade", *TWO_CHAPTERS, "--submission", str(SOLUTIONS), "--memory-budget", "1", "--quiet", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert '"score"' in out.read_text()
    result = cli.invoke(app, ["grade", "ch4.sgd_step", "--submission", str(SOLUTIONS), "--memory-budget", "-1", "--quiet"])
    assert result.exit_code == 2
    monkeypatch.setenv(memory.ENV, "lots")
    result = cli.invoke(app, ["grade", "ch4.sgd_step", "--submission", str(SOLUTIONS), "--quiet"])
    assert result.exit_code == 3 and memory.ENV in result.output
