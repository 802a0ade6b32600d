"""Start-up order (issue 17): the grader starts its worker before it imports torch, so
that the two processes import torch side by side instead of one after the other."""

from __future__ import annotations

import subprocess
import sys

from tests.submissions import SOLUTIONS

PROBE = """
import sys
from grader import student
seen = []
start = student.Worker.start
def recording_start(self):
    seen.append("torch" in sys.modules)
    return start(self)
student.Worker.start = recording_start
from grader.curriculum import resolve_targets
from grader.runner import run
report = run(resolve_targets(["ch4.sgd_step"]), path=sys.argv[1])
result = report.exercises[0]
assert seen and seen[0] is False, f"torch was imported before the worker started: {seen}"
assert result.score == result.max_score, [c.message for c in result.checks]
"""


def test_the_worker_starts_before_the_grader_imports_torch():
    done = subprocess.run([sys.executable, "-c", PROBE, str(SOLUTIONS)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_modules_that_start_a_worker_import_no_torch():
    code = "import sys, grader.runner, grader.student, grader.isolation, grader.wire; assert 'torch' not in sys.modules"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
